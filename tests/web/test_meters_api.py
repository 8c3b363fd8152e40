"""REST API v1 for a meter's lifecycle: decommission, recommission, status history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.sites import commissioned_platform
from tests.web.conftest import MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient  # imported at run time by conftest, quietly

NOW = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
METER = "KNCL0000001"
WHO = {"reason": "consumer moved out; meter removed"}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A store of its own (these tests change it), four meters commissioned a month ago."""
    p = commissioned_platform(tmp_path, build_city(4), NOW - timedelta(days=30))
    yield p
    p.store.dispose()


@pytest.fixture
def api(platform: Platform, make_client: MakeClient) -> TestClient:
    return make_client(platform, NOW, role=Role.FIELD_ENGINEER, name="verma")


def test_decommissioning_answers_the_meter_out_of_service(api: TestClient) -> None:
    r = api.post(f"/api/v1/meters/{METER}/decommission", json=WHO)

    assert r.status_code == 200
    meter = r.json()
    assert (meter["meter_id"], meter["status"]) == (METER, "decommissioned")
    assert meter == api.get(f"/api/v1/meters/{METER}").json()


def test_recommissioning_puts_it_back_and_the_history_says_who_when_and_why_newest_first(
    platform: Platform, make_client: MakeClient
) -> None:
    make_client(platform, NOW, role=Role.FIELD_ENGINEER, name="verma").post(
        f"/api/v1/meters/{METER}/decommission", json=WHO
    )
    later = make_client(platform, NOW + timedelta(days=3), role=Role.FIELD_ENGINEER, name="khan")
    back = later.post(f"/api/v1/meters/{METER}/recommission", json={"reason": "new consumer"})

    assert back.status_code == 200 and back.json()["status"] == "commissioned"
    history = later.get(f"/api/v1/meters/{METER}/status-history")
    assert history.status_code == 200
    assert history.json() == {
        "limit": 100,
        "offset": 0,
        "next_offset": None,
        "meter_id": METER,
        "status": "commissioned",
        "items": [
            {
                "at": "2026-11-05T04:30:00Z",
                "from_status": "decommissioned",
                "to_status": "commissioned",
                "changed_by": "token:khan",
                "reason": "new consumer",
            },
            {
                "at": "2026-11-02T04:30:00Z",
                "from_status": "commissioned",
                "to_status": "decommissioned",
                "changed_by": "token:verma",
                "reason": "consumer moved out; meter removed",
            },
        ],
    }


def test_a_meter_never_changed_has_an_empty_history(api: TestClient) -> None:
    assert api.get(f"/api/v1/meters/{METER}/status-history").json() == {
        "limit": 100,
        "offset": 0,
        "next_offset": None,
        "meter_id": METER,
        "status": "commissioned",
        "items": [],
    }


def test_decommissioning_fails_the_meters_open_commands_and_refuses_new_ones(api: TestClient) -> None:
    asked = api.post(
        f"/api/v1/meters/{METER}/commands",
        json={"action": "relay_connect", "reason": "arrears"},
    ).json()

    api.post(f"/api/v1/meters/{METER}/decommission", json=WHO)

    command = api.get(f"/api/v1/commands/{asked['command_id']}").json()
    assert (command["status"], command["settled"]) == ("failed", True)
    assert command["detail"] == "meter decommissioned: consumer moved out; meter removed"
    assert command["history"][-1]["status"] == "failed"
    refused = api.post(
        f"/api/v1/meters/{METER}/commands",
        json={"action": "read_now", "reason": "check"},
    )
    assert refused.status_code == 409
    assert refused.json() == {"detail": "meter KNCL0000001 is decommissioned; it takes no commands"}


@pytest.mark.parametrize(
    ("path", "method"),
    [("decommission", "post"), ("recommission", "post"), ("status-history", "get")],
)
def test_unknown_meter_is_404(api: TestClient, path: str, method: str) -> None:
    url = f"/api/v1/meters/KNXX9999999/{path}"
    r = api.post(url, json=WHO) if method == "post" else api.get(url)
    assert r.status_code == 404
    assert r.json() == {"detail": "meter KNXX9999999 not found"}


def test_a_change_the_meter_cannot_make_is_409_and_changes_nothing(api: TestClient) -> None:
    again = api.post(f"/api/v1/meters/{METER}/recommission", json=WHO)
    assert again.status_code == 409
    assert again.json() == {"detail": "meter KNCL0000001 is already commissioned"}

    api.post(f"/api/v1/meters/{METER}/decommission", json=WHO)
    twice = api.post(f"/api/v1/meters/{METER}/decommission", json={**WHO, "reason": "once more"})
    assert twice.status_code == 409
    assert twice.json() == {"detail": "meter KNCL0000001 is already decommissioned"}
    items = api.get(f"/api/v1/meters/{METER}/status-history").json()["items"]
    assert [i["reason"] for i in items] == [WHO["reason"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, ["body", "reason"]),
        ({**WHO, "reason": ""}, ["body", "reason"]),
        ({**WHO, "reason": "   "}, ["body", "reason"]),
        ({**WHO, "reason": "y" * 257}, ["body", "reason"]),
        ({**WHO, "requested_by": "operator.verma"}, ["body"]),
        ({**WHO, "changed_by": "someone"}, ["body", "changed_by"]),
    ],
)
def test_a_bad_body_is_422_and_changes_nothing(api: TestClient, body: dict[str, Any], field: list[str]) -> None:
    r = api.post(f"/api/v1/meters/{METER}/decommission", json=body)

    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [field]
    assert api.get(f"/api/v1/meters/{METER}").json()["status"] == "commissioned"


def test_who_changes_a_meter_is_whoever_is_signed_in_never_the_body(api: TestClient) -> None:
    r = api.post(f"/api/v1/meters/{METER}/decommission", json={**WHO, "requested_by": "someone.else"})

    assert r.status_code == 422
    assert "requested_by comes from who is signed in" in r.json()["detail"][0]["msg"]
    assert api.get(f"/api/v1/meters/{METER}/status-history").json()["items"] == []


def test_no_body_at_all_is_422(api: TestClient) -> None:
    assert api.post(f"/api/v1/meters/{METER}/decommission").status_code == 422
