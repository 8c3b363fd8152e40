"""The audit trail names who signed in; bulk actions through the API need a second person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.access import log_in_staff
from tests.support.sites import commissioned_platform
from tests.web.conftest import MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

NOW = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
CITY = [c.meter_id for c in build_city(4)]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A store of its own (these tests change it), four meters commissioned a month ago."""
    p = commissioned_platform(tmp_path, build_city(4), NOW - timedelta(days=30))
    yield p
    p.store.dispose()


def staff(platform: Platform, make_client: MakeClient, username: str, role: Role) -> TestClient:
    client = make_client(platform, NOW, role=None)
    log_in_staff(client, platform, username, role)
    return client


def test_an_operators_disconnect_carries_their_name_in_the_audit_trail(
    platform: Platform, make_client: MakeClient
) -> None:
    sharma = staff(platform, make_client, "sharma", Role.OPERATOR)
    asked = sharma.post(f"/api/v1/meters/{CITY[0]}/commands", json={"action": "relay_disconnect", "reason": "arrears"})
    assert asked.status_code == 202 and asked.json()["requested_by"] == "sharma"

    auditor = make_client(platform, NOW, role=Role.AUDITOR)
    trail = auditor.get("/api/v1/audit").json()
    assert trail["next_offset"] is None
    assert trail["items"] == [
        {
            "at": "2026-11-02T04:30:00Z",
            "who": "sharma",
            "what": "command:relay_disconnect",
            "meter_id": CITY[0],
            "reference": asked.json()["command_id"],
            "detail": "arrears",
        }
    ]
    assert sharma.get("/api/v1/audit").status_code == 403  # operators act; auditors and admins read the trail


def test_a_bulk_disconnect_through_the_api_needs_a_second_operator(platform: Platform, make_client: MakeClient) -> None:
    sharma = staff(platform, make_client, "sharma", Role.OPERATOR)
    verma = staff(platform, make_client, "verma", Role.OPERATOR)
    body = {"action": "relay_disconnect", "meter_ids": CITY[:2], "reason": "feeder 7 arrears drive"}

    asked = sharma.post("/api/v1/commands/bulk", json=body)
    assert asked.status_code == 202
    request_id = asked.json()["request_id"]
    assert (asked.json()["status"], asked.json()["requested_by"]) == ("pending", "sharma")
    assert sharma.get(f"/api/v1/meters/{CITY[0]}/commands").json()["items"] == []

    own = sharma.post(f"/api/v1/commands/bulk/{request_id}/approve")
    assert own.status_code == 409 and "second person" in own.json()["detail"]
    approved = verma.post(f"/api/v1/commands/bulk/{request_id}/approve")
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "verma")
    commands = approved.json()["commands"]
    assert [c["meter_id"] for c in commands] == CITY[:2] and all(c["command_id"] for c in commands)
    assert sharma.get(f"/api/v1/commands/bulk/{request_id}").json()["commands"] == commands
    first = sharma.get(f"/api/v1/commands/{commands[0]['command_id']}").json()
    assert first["requested_by"] == "sharma" and "approved by verma" in first["reason"]

    whats = [(i["who"], i["what"]) for i in make_client(platform, NOW).get("/api/v1/audit").json()["items"]]
    assert ("sharma", "bulk:relay_disconnect") in whats and ("verma", "bulk-approved") in whats
    assert whats.count(("sharma", "command:relay_disconnect")) == 2


def test_bulk_requests_refuse_requested_by_and_roles_without_the_action(
    platform: Platform, make_client: MakeClient
) -> None:
    operator = make_client(platform, NOW, role=Role.OPERATOR)
    body = {"action": "relay_disconnect", "meter_ids": CITY[:1], "reason": "drive"}
    assert operator.post("/api/v1/commands/bulk", json={**body, "requested_by": "x"}).status_code == 422
    engineer = make_client(platform, NOW, role=Role.FIELD_ENGINEER)
    assert engineer.post("/api/v1/commands/bulk", json=body).status_code == 403
    asked = operator.post("/api/v1/commands/bulk", json=body).json()["request_id"]
    refused = make_client(platform, NOW, role=Role.ADMIN).post(
        f"/api/v1/commands/bulk/{asked}/refuse", json={"note": "not this week"}
    )
    assert (refused.json()["status"], refused.json()["note"]) == ("refused", "not this week")
    assert operator.post(f"/api/v1/commands/bulk/{asked}/approve").status_code == 409
    assert operator.get("/api/v1/commands/bulk/no-such-request").status_code == 404
    listed = operator.get("/api/v1/commands/bulk", params={"status": "refused"}).json()
    assert [r["request_id"] for r in listed["items"]] == [asked] and listed["next_offset"] is None
    assert operator.get("/api/v1/commands/bulk", params={"status": "pending"}).json()["items"] == []


def test_me_says_who_is_signed_in(platform: Platform, make_client: MakeClient) -> None:
    me = make_client(platform, NOW, role=Role.BILLING, name="billing-system").get("/api/v1/me").json()
    assert (me["name"], me["kind"], me["role"], me["meter_ids"]) == ("token:billing-system", "token", "billing", [])
    assert me["permissions"] == [
        "answer_disputes",
        "close_account",
        "credit",
        "read_accounts",
        "read_fleet",
        "read_reports",
        "reconciliation",
        "tariff_push",
        "track_payments",
        "view_cases",
    ]
