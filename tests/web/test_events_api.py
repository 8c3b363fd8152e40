"""REST API v1 for the meters' events (each with its incident) and the outages found from them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from bijli.access.model import Role
from bijli.adapters.db import schema as t
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city, transformer_meters
from bijli.network.handlers import find_outages
from bijli.protocol.events import EventCode
from tests.support.sites import commissioned_platform
from tests.web.conftest import MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient  # imported at run time by conftest, quietly

NOW = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
CITY = build_city(12)  # six meters in each area on one transformer, with its DT meter
DTS = transformer_meters(CITY)
CL = [c.meter_id for c in CITY if c.area == "Civil Lines"]
MR = [c.meter_id for c in CITY if c.area == "Mall Road"]


def log(platform: Platform, rows: list[tuple[str, EventCode, datetime]]) -> None:
    with platform.store.transaction() as uow:
        uow.conn.execute(
            sa.insert(t.events),
            [{"meter_id": m, "code": int(c), "occurred_at": at, "received_at": at} for m, c, at in rows],
        )


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """Six meters an area: a magnet on one Civil Lines meter, the Mall Road transformer's supply off for 45 min."""
    p = commissioned_platform(tmp_path, CITY, NOW - timedelta(days=30), DTS)
    off, back = NOW - timedelta(hours=2), NOW - timedelta(hours=2) + timedelta(minutes=45)
    mall = MR + [d.meter_id for d in DTS if d.area == "Mall Road"]
    log(
        p,
        [
            (CL[0], EventCode.MAGNET, NOW - timedelta(hours=3)),
            (CL[0], EventCode.MAGNET, NOW - timedelta(hours=3) + timedelta(minutes=2)),
            (CL[0], EventCode.MAGNET_RESTORED, NOW - timedelta(hours=3) + timedelta(minutes=10)),
            (CL[1], EventCode.COVER_OPEN, NOW - timedelta(hours=1)),
            *((m, EventCode.POWER_FAILURE, off) for m in mall),
            *((m, EventCode.POWER_RESTORED, back) for m in mall),
        ],
    )
    find_outages(p.store, NOW)
    yield p
    p.store.dispose()


@pytest.fixture
def api(platform: Platform, make_client: MakeClient) -> TestClient:
    return make_client(platform, NOW, role=Role.OPERATOR)


def test_a_meters_events_come_latest_first_each_with_its_incident(api: TestClient) -> None:
    r = api.get("/api/v1/events", params={"meter": CL[0]})
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(e["kind"], e["restoration"]) for e in items] == [
        ("magnet_restored", True),
        ("magnet", False),
        ("magnet", False),
    ]
    incident = items[0]["incident"]
    assert incident == items[2]["incident"]
    assert (incident["kind"], incident["count"], incident["duration_s"], incident["ongoing"]) == (
        "magnet",
        2,
        600,
        False,
    )
    assert items[0]["event_class"] == "tamper" and items[0]["area"] == "Civil Lines"


def test_events_filter_by_kind_class_place_and_time(api: TestClient) -> None:
    cover = api.get("/api/v1/events", params={"kind": "cover_open"}).json()["items"]
    assert [(e["meter_id"], e["incident"]["ongoing"]) for e in cover] == [(CL[1], True)]
    power = api.get("/api/v1/events", params={"class": "power", "area": "Mall Road", "limit": 5}).json()
    assert len(power["items"]) == 5 and power["next_offset"] == 5
    assert {e["incident"]["duration_s"] for e in power["items"]} == {2700}
    recent = api.get("/api/v1/events", params={"start": (NOW - timedelta(minutes=70)).isoformat()}).json()
    assert [e["kind"] for e in recent["items"]] == ["cover_open"]


def test_bad_filters_are_refused_with_the_reason(api: TestClient) -> None:
    r = api.get("/api/v1/events", params={"kind": "lightning"})
    assert r.status_code == 422 and "magnet" in r.text
    r = api.get("/api/v1/events", params={"start": NOW.isoformat(), "end": (NOW - timedelta(hours=1)).isoformat()})
    assert r.status_code == 422 and "later than start" in r.text
    assert api.get("/api/v1/events", params={"class": "weather"}).status_code == 422
    assert api.get("/api/v1/outages", params={"level": "city"}).status_code == 422
    assert api.get("/api/v1/outages/999").status_code == 404


def test_a_transformer_without_supply_is_one_outage_with_its_meters(api: TestClient) -> None:
    (outage,) = api.get("/api/v1/outages").json()["items"]
    assert (outage["level"], outage["area"], outage["meters"], outage["duration_s"]) == (
        "feeder",  # the feeder's only transformer
        "Mall Road",
        7,
        2700,
    )
    one = api.get(f"/api/v1/outages/{outage['outage_id']}").json()
    assert sorted(one["meter_ids"]) == sorted(MR + [d.meter_id for d in DTS if d.area == "Mall Road"])
    assert api.get("/api/v1/outages", params={"ongoing": "true"}).json()["items"] == []
    assert api.get("/api/v1/outages", params={"area": "Civil Lines"}).json()["items"] == []


def test_a_consumer_sees_neither(platform: Platform, make_client: MakeClient) -> None:
    anonymous = make_client(platform, NOW, role=None)
    assert anonymous.get("/api/v1/events").status_code == 401
    assert anonymous.get("/api/v1/outages").status_code == 401


def test_the_meters_page_says_each_events_incident_in_either_language(api: TestClient) -> None:
    english = api.get(f"/operations/meters/{CL[0]}").text
    assert english.count("Lasted 0 h 10 min · 2 times") == 3  # the two magnets and their restoration
    assert "10 मिनट चली · 2 बार" in api.get(f"/operations/meters/{CL[0]}", params={"lang": "hi"}).text
    assert "Still on" in api.get(f"/operations/meters/{CL[1]}", params={"lang": "en"}).text
