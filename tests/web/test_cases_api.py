"""Cases through the API: listed and filtered, one with its evidence bundle and history, the
workflow's steps by role with 409 on a step out of order, the consumer's alert, and the live
stream resuming after the last event id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bijli.access.model import Role
from bijli.adapters.db import schema as t
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL
from bijli.web.app import create_app
from tests.support.access import bearer
from tests.support.cases import hold_magnet
from tests.support.sites import commissioned_platform
from tests.web.conftest import TestClient
from tests.web.test_alerts_api import events

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)  # 12:00 IST
CITY = build_city(2)
MINE, OTHER = CITY
MAGNET_AT = NOW - timedelta(minutes=40)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    made = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=2))
    with made.store.transaction() as uow:
        start = MAGNET_AT.replace(minute=0)
        uow.conn.execute(
            t.readings.insert(),
            [
                {
                    "meter_id": MINE.meter_id,
                    "interval_start": start + i * INTERVAL - 2 * INTERVAL,
                    "import_wh": 120 if i < 2 else 40,  # the magnet saturates the meter: a third recorded
                    "import_vah": 130,
                    "export_wh": 0,
                    "voltage_dv": 2301,
                    "current_ma": 2500,
                    "import_wh_total": 10_000 + i,
                    "quality": "actual",
                    "received_at": NOW,
                }
                for i in range(4)
            ],
        )
    hold_magnet(made.store, MINE.meter_id, MAGNET_AT, MAGNET_AT + timedelta(seconds=1), NOW)
    yield made
    made.store.dispose()


def client(platform: Platform, role: Role, name: str | None = None) -> TestClient:
    c = TestClient(create_app(platform, clock=SimulatedClock(NOW)), base_url="http://localhost")
    c.headers.update(bearer(platform, role, name))
    return c


def the_case(platform: Platform) -> str:
    found = client(platform, Role.AUDITOR).get("/api/v1/cases", params={"subject": MINE.meter_id}).json()
    (item,) = found["items"]
    return str(item["case_id"])


def test_a_magnet_is_a_case_with_its_evidence_and_its_consumer_is_told(platform: Platform) -> None:
    api = client(platform, Role.OPERATOR)
    listed = api.get("/api/v1/cases", params={"status": "new", "kind": "magnet", "area": MINE.area}).json()
    assert [(c["subject_id"], c["severity"], c["account_no"]) for c in listed["items"]] == [
        (MINE.meter_id, "high", MINE.account_no)
    ]
    assert api.get("/api/v1/cases", params={"severity": "low"}).json()["items"] == []
    case = api.get(f"/api/v1/cases/{listed['items'][0]['case_id']}").json()
    assert "magnet" in case["reason_en"] and "चुंबक" in case["reason_hi"]
    assert [e["code"] for e in case["evidence"]["events"]] == [201]
    assert [i["import_wh"] for i in case["evidence"]["intervals"]] == [120, 120, 40, 40]
    assert case["evidence"]["intervals"][0]["voltage_v"] == "230.1"
    assert case["evidence"]["chart_svg"].startswith("<svg") and ">201</text>" in case["evidence"]["chart_svg"]
    assert [(h["step"], h["actor"]) for h in case["history"]] == [("open", "platform")]
    assert (case["field_staff_told"], case["field_staff_note"]) == (0, "no field staff on record for this area")
    alerts = api.get(f"/api/v1/accounts/{MINE.account_no}/alerts").json()["items"]
    assert [a["kind"] for a in alerts] == ["tamper_reported"]
    assert MINE.meter_id in alerts[0]["text"] and case["case_id"] in alerts[0]["text"]


def test_the_workflow_by_role_each_step_audited_and_a_step_out_of_order_refused(platform: Platform) -> None:
    case_id = the_case(platform)
    url = f"/api/v1/cases/{case_id}/actions"
    operator, engineer = client(platform, Role.OPERATOR, "op-asha"), client(platform, Role.FIELD_ENGINEER, "fe-ravi")
    early = operator.post(url, json={"action": "confirm", "reason": "sure"})
    assert early.status_code == 409 and "new" in early.json()["detail"]
    assert engineer.post(url, json={"action": "assign", "reason": "me", "assignee": "x"}).status_code == 403
    assert client(platform, Role.AUDITOR).post(url, json={"action": "close", "reason": "r"}).status_code == 403
    assert operator.post(url, json={"action": "assign", "reason": "nearest", "assignee": "fe-ravi"}).status_code == 200
    done = engineer.post(url, json={"action": "inspect", "reason": "magnet found on the meter, photo taken"})
    assert done.json()["case"]["status"] == "inspected"
    assert engineer.post(url, json={"action": "confirm", "reason": "mine"}).status_code == 403
    assert (
        operator.post(url, json={"action": "confirm", "reason": "photo"}).json()["case"]["status"] == "confirmed_theft"
    )
    assert operator.post(url, json={"action": "close", "reason": "assessed"}).json()["case"]["status"] == "closed"
    history = operator.get(f"/api/v1/cases/{case_id}").json()["history"]
    assert [(h["step"], h["actor"], h["to_status"]) for h in history] == [
        ("open", "platform", "new"),
        ("assign", "token:op-asha", "assigned"),
        ("inspect", "token:fe-ravi", "inspected"),
        ("confirm", "token:op-asha", "confirmed_theft"),
        ("close", "token:op-asha", "closed"),
    ]
    assert history[1]["assignee"] == "fe-ravi"


@pytest.mark.parametrize(
    "body",
    [{"action": "assign"}, {"action": "arrest", "reason": "r"}, {"action": "assign", "reason": " "}, {"reason": "r"}],
)
def test_a_bad_step_is_refused_with_its_reason_and_changes_nothing(platform: Platform, body: dict[str, str]) -> None:
    case_id = the_case(platform)
    api = client(platform, Role.ADMIN)
    assert api.post(f"/api/v1/cases/{case_id}/actions", json=body).status_code == 422
    assert api.get(f"/api/v1/cases/{case_id}").json()["status"] == "new"


def test_an_unknown_case_is_404(platform: Platform) -> None:
    api = client(platform, Role.ADMIN)
    assert api.get("/api/v1/cases/C-000000000000").status_code == 404
    assert api.post("/api/v1/cases/C-000000000000/actions", json={"action": "close", "reason": "r"}).status_code == 404
    assert api.get("/api/v1/cases/not-a-case").status_code == 422


def test_the_live_stream_sends_each_step_once_and_resumes_after_the_last_id(platform: Platform) -> None:
    case_id = the_case(platform)
    api = client(platform, Role.OPERATOR)
    opened = events(api.get("/api/v1/cases/live", params={"wait": 0}).text)
    assert [(e["event"], json.loads(e["data"])["action"]["step"]) for e in opened] == [("case", "open")]
    api.post(f"/api/v1/cases/{case_id}/actions", json={"action": "assign", "reason": "r", "assignee": "fe"})
    resumed = events(api.get("/api/v1/cases/live", params={"wait": 0}, headers={"Last-Event-ID": opened[0]["id"]}).text)
    assert [json.loads(e["data"])["case"]["status"] for e in resumed] == ["assigned"]
    assert events(api.get("/api/v1/cases/live", params={"wait": 0, "area": "Nowhere"}).text) == []
