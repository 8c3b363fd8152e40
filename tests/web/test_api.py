"""REST API v1 over a store the real headless demo filled."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from bijli import __version__
from bijli.adapters.db import schema as t
from bijli.bootstrap import Platform
from bijli.bootstrap import bootstrap as wire
from bijli.fleet.city import build_city
from bijli.kernel.units import format_rupees
from tests.web.conftest import DEMO_METERS, LAST_SEEN, MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient  # imported at run time by conftest, quietly

DAY_START = "2026-11-02T00:00:00+05:30"
DAY_END = "2026-11-03T00:00:00+05:30"
RUPEES = re.compile(r"^-?\d+\.\d{2}$")
KWH = re.compile(r"^\d+\.\d{3}$")


def meter_ids(api: TestClient) -> list[str]:
    return [m["meter_id"] for m in api.get("/api/v1/meters").json()["items"]]


def test_health_checks_the_database(api: TestClient) -> None:
    r = api.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "version": __version__}


def test_health_is_503_when_the_database_does_not_answer(
    platform: Platform, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    missing = f"sqlite:///{tmp_path / 'missing' / 'bijli.db'}"
    broken = wire(dataclasses.replace(platform.settings, database_url=missing), migrate=False)
    r = make_client(broken, role=None).get("/api/v1/health")
    assert r.status_code == 503
    assert r.json() == {"status": "error", "database": "unavailable", "version": __version__}
    broken.close()


def test_meters_are_listed_a_page_at_a_time(api: TestClient) -> None:
    everything = api.get("/api/v1/meters").json()
    assert everything["total"] == DEMO_METERS
    assert (everything["limit"], everything["offset"]) == (100, 0)
    ids = [m["meter_id"] for m in everything["items"]]
    assert ids == sorted(ids) and len(ids) == DEMO_METERS

    first = api.get("/api/v1/meters", params={"limit": 3}).json()
    rest = api.get("/api/v1/meters", params={"limit": 3, "offset": 3}).json()
    assert [m["meter_id"] for m in first["items"] + rest["items"]] == ids
    assert (first["total"], rest["total"]) == (DEMO_METERS, DEMO_METERS)
    assert (rest["limit"], rest["offset"]) == (3, 3)
    past_the_end = api.get("/api/v1/meters", params={"offset": 50}).json()
    assert past_the_end["items"] == [] and past_the_end["total"] == DEMO_METERS


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 1001}, "limit", "less than or equal to 1000"),
        ({"limit": "ten"}, "limit", "valid integer"),
        ({"offset": -1}, "offset", "greater than or equal to 0"),
    ],
)
def test_bad_paging_is_refused_with_a_clear_message(
    api: TestClient, params: dict[str, object], field: str, message: str
) -> None:
    r = api.get("/api/v1/meters", params=params)
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error["loc"] == ["query", field]
    assert message in error["msg"]


def test_meter_detail_tells_consumer_network_relay_and_balance(api: TestClient) -> None:
    city = build_city(DEMO_METERS)
    first = city[0]
    m = api.get(f"/api/v1/meters/{first.meter_id}").json()
    assert m["meter_id"] == first.meter_id
    assert m["account_no"] == first.account_no
    assert m["consumer_name"] == first.consumer_name
    assert (m["area"], m["feeder"], m["transformer"]) == (first.area, first.feeder, first.transformer)
    assert m["status"] == "commissioned"
    assert m["relay"] == "connected"
    assert RUPEES.match(m["balance"])
    assert m["last_seen"] == "2026-11-02T18:30:20Z"
    assert m["last_interval"] == "2026-11-02T18:15:00Z"
    assert m["online"] is True
    assert m["active_sim"] == 1
    assert isinstance(m["operator"], str) and m["operator"]
    assert isinstance(m["rssi_dbm"], int) and m["rssi_dbm"] < 0


def test_a_meter_unheard_for_more_than_30_minutes_is_offline(
    platform: Platform, make_client: Callable[..., TestClient]
) -> None:
    meter_id = build_city(DEMO_METERS)[0].meter_id
    assert make_client(platform, LAST_SEEN + timedelta(minutes=30)).get(f"/api/v1/meters/{meter_id}").json()["online"]
    late = make_client(platform, LAST_SEEN + timedelta(minutes=31))
    assert late.get(f"/api/v1/meters/{meter_id}").json()["online"] is False


def test_readings_cover_one_ist_day_in_96_intervals_that_add_up(api: TestClient) -> None:
    for meter_id in meter_ids(api):
        r = api.get(f"/api/v1/meters/{meter_id}/readings", params={"start": DAY_START, "end": DAY_END})
        assert r.status_code == 200
        body = r.json()
        assert body["meter_id"] == meter_id
        assert (body["start"], body["end"]) == ("2026-11-01T18:30:00Z", "2026-11-02T18:30:00Z")
        assert body["interval_minutes"] == 15
        items = body["items"]
        assert len(items) == 96
        first = datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
        assert [i["interval_start"] for i in items] == [
            (first + n * timedelta(minutes=15)).isoformat().replace("+00:00", "Z") for n in range(96)
        ]
        assert all(KWH.match(i["kwh"]) and KWH.match(i["cumulative_kwh"]) for i in items)
        assert {i["quality"] for i in items} == {"actual"}
        assert all(isinstance(i["flags"], list) for i in items)
        used = sum(Decimal(i["kwh"]) for i in items)
        register_before = Decimal(items[0]["cumulative_kwh"]) - Decimal(items[0]["kwh"])
        assert used == Decimal(items[-1]["cumulative_kwh"]) - register_before
        assert used > 0


def test_readings_window_is_half_open_and_accepts_z_and_offsets(api: TestClient) -> None:
    meter_id = meter_ids(api)[0]
    url = f"/api/v1/meters/{meter_id}/readings"
    hour = api.get(url, params={"start": "2026-11-01T18:30:00Z", "end": "2026-11-01T19:30:00Z"}).json()
    same = api.get(url, params={"start": "2026-11-02T00:00:00+05:30", "end": "2026-11-02T01:00:00+05:30"}).json()
    assert [i["interval_start"] for i in hour["items"]] == [
        "2026-11-01T18:30:00Z",
        "2026-11-01T18:45:00Z",
        "2026-11-01T19:00:00Z",
        "2026-11-01T19:15:00Z",
    ]
    assert same == hour


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2026-11-02T00:00:00", DAY_END, "start", "start needs a time zone"),
        (DAY_START, "2026-11-03T00:00:00", "end", "end needs a time zone"),
        ("2026-11-02", DAY_END, "start", "start needs a time zone"),
        (DAY_START, DAY_START, "end", "end must be later than start"),
        (DAY_END, DAY_START, "end", "end must be later than start"),
        ("2026-10-01T00:00:00Z", "2026-11-01T00:00:01Z", "end", "at most 31 days"),
        ("yesterday", DAY_END, "start", "valid datetime"),
    ],
)
def test_bad_reading_windows_are_refused(api: TestClient, start: str, end: str, field: str, message: str) -> None:
    meter_id = meter_ids(api)[0]
    r = api.get(f"/api/v1/meters/{meter_id}/readings", params={"start": start, "end": end})
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error["loc"] == ["query", field]
    assert message in error["msg"]


def test_readings_need_start_and_end(api: TestClient) -> None:
    meter_id = meter_ids(api)[0]
    r = api.get(f"/api/v1/meters/{meter_id}/readings", params={"start": DAY_START})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["query", "end"]]


def test_a_31_day_window_is_allowed(api: TestClient) -> None:
    meter_id = meter_ids(api)[0]
    r = api.get(
        f"/api/v1/meters/{meter_id}/readings", params={"start": "2026-10-15T00:00:00Z", "end": "2026-11-15T00:00:00Z"}
    )
    assert r.status_code == 200
    assert len(r.json()["items"]) == 96


def test_balance_is_the_demo_money_from_the_ledger(
    api: TestClient, platform: Platform, demo_store: tuple[Platform, dict[str, object]]
) -> None:
    summary = demo_store[1]
    l, d = t.ledger.c, t.day_charges.c  # noqa: E741 - the ledger's columns
    charged: dict[str, int] = {}
    with platform.store.engine.connect() as conn:
        posted = sa.select(l.account_no, -sa.func.sum(l.amount_paise)).where(l.amount_paise < 0).group_by(l.account_no)
        running = sa.select(d.account_no, sa.func.sum(d.charge_paise - d.posted_paise)).group_by(d.account_no)
        for account, paise in [*conn.execute(posted), *conn.execute(running)]:  # closed days, and open ones
            charged[account] = charged.get(account, 0) + int(paise)
    total = Decimal(0)
    for consumer in build_city(DEMO_METERS):
        b = api.get(f"/api/v1/meters/{consumer.meter_id}/balance").json()
        charges = charged[consumer.account_no]
        assert charges > 0
        assert b == {
            "meter_id": consumer.meter_id,
            "account_no": consumer.account_no,
            "balance": format_rupees(consumer.opening_balance_paise - charges),
            "opening": format_rupees(consumer.opening_balance_paise),
            "recharges": "0.00",
            "arrears_recovered": "0.00",
            "charges": format_rupees(charges),
            "adjustments": "0.00",
            "currency": "INR",
            "as_of": b["as_of"],
        }
        assert datetime.fromisoformat(b["as_of"]) <= LAST_SEEN
        assert api.get(f"/api/v1/meters/{consumer.meter_id}").json()["balance"] == b["balance"]
        total += Decimal(b["balance"])
    assert str(total) == summary["balance_total_end"]


@pytest.mark.parametrize(
    "path", ["/api/v1/meters/KNXX9999999", "/api/v1/meters/KNXX9999999/balance", "/api/v1/meters/KNXX9999999/readings"]
)
def test_unknown_meter_is_404(api: TestClient, path: str) -> None:
    r = api.get(path, params={"start": DAY_START, "end": DAY_END} if path.endswith("readings") else None)
    assert r.status_code == 404
    assert r.json() == {"detail": "meter KNXX9999999 not found"}


def test_unknown_api_path_is_a_json_404(api: TestClient) -> None:
    r = api.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_openapi_lists_the_contract_paths(api: TestClient) -> None:
    r = api.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["title"] == "bijli"
    assert doc["info"]["version"] == __version__
    assert set(doc["paths"]) >= {
        "/api/v1/health",
        "/api/v1/meters",
        "/api/v1/meters/{meter_id}",
        "/api/v1/meters/{meter_id}/readings",
        "/api/v1/meters/{meter_id}/edits",
        "/api/v1/meters/{meter_id}/balance",
        "/api/v1/meters/{meter_id}/commands",
        "/api/v1/commands/{command_id}",
        "/api/v1/meters/{meter_id}/decommission",
        "/api/v1/meters/{meter_id}/recommission",
        "/api/v1/meters/{meter_id}/status-history",
        "/api/v1/reports/collection",
        "/api/v1/fleet/connectivity",
        "/api/v1/me",
        "/api/v1/commands/bulk",
        "/api/v1/commands/bulk/{request_id}",
        "/api/v1/audit",
        "/api/v1/payments/webhook",
        "/api/v1/reconciliation",
        "/api/v1/consumers",
        "/api/v1/consumers/{consumer_id}",
        "/api/v1/meters/{meter_id}/replace",
        "/api/v1/accounts/{account_id}",
        "/api/v1/accounts/{account_id}/close",
    }
    assert [p for p in doc["paths"] if not p.startswith("/api/v1/")] == []
    writable = {path for path, ops in doc["paths"].items() if set(ops) != {"get"}}
    assert writable == {  # the only ways to change anything
        "/api/v1/meters/{meter_id}/commands",
        "/api/v1/meters/{meter_id}/decommission",
        "/api/v1/meters/{meter_id}/recommission",
        "/api/v1/commands/bulk",
        "/api/v1/commands/bulk/{request_id}/approve",
        "/api/v1/commands/bulk/{request_id}/refuse",
        "/api/v1/payments/webhook",
        "/api/v1/consumers",
        "/api/v1/meters",
        "/api/v1/meters/{meter_id}/replace",
        "/api/v1/accounts/{account_id}/close",
        "/api/v1/cases/{case_id}/actions",
        "/api/v1/disputes/{dispute_id}/answer",
    }


def test_a_balance_and_the_consumer_page_sum_the_ledger_once(platform: Platform, make_client: MakeClient) -> None:
    sums: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "ledger" in statement and "sum(" in statement.lower():
            sums.append(statement)

    client = make_client(platform)
    sa.event.listen(platform.store.engine, "before_cursor_execute", seen)
    try:
        assert client.get("/api/v1/meters/KNCL0000001/balance").status_code == 200
        balance_sums, sums[:] = len(sums), []
        assert client.get("/consumer/KNCL0000001").status_code == 200
        page_sums = len(sums)
    finally:
        sa.event.remove(platform.store.engine, "before_cursor_execute", seen)

    assert (balance_sums, page_sums) == (1, 1)
