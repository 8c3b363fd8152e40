"""What meter data management did to a meter's intervals, where people see it: the readings'
quality flags and the edit log (estimated, replaced, flagged) in the API, and estimates
marked apart on the consumer's page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.kernel.time import INTERVAL
from bijli.mdm.handlers import run_vee
from tests.support.ingest import deliver_reading
from tests.support.sites import commissioned_platform
from tests.web.conftest import MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient  # imported at run time by conftest, quietly

START = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
METER = "KNCL0000001"
WINDOW = {"start": "2026-11-02T00:30:00Z", "end": "2026-11-02T03:00:00Z"}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path, build_city(2), START)
    yield p
    p.store.dispose()


def deliver(p: Platform, fc: int, n: int, wh: int, total: int, now: datetime) -> None:
    deliver_reading(p, METER, fc, START + n * INTERVAL, wh, total, now)


@pytest.fixture
def api(platform: Platform, make_client: MakeClient) -> TestClient:
    """Intervals 0-1 real (1 a spike), 2-3 missing and estimated, then 2 arrives for real."""
    total = 5_000_000
    deliver(platform, 1, 0, 100, total + 100, START + INTERVAL)
    deliver(platform, 2, 1, 5_000, total + 5_100, START + 2 * INTERVAL)  # 20 kW on a small connection
    deliver(platform, 3, 4, 100, total + 5_400, START + 5 * INTERVAL)
    now = START + 5 * INTERVAL + timedelta(hours=1)
    run_vee(platform.store, now, lookback=timedelta(hours=1, minutes=15))
    deliver(platform, 4, 2, 120, total + 5_220, now + timedelta(minutes=1))
    return make_client(platform, now + timedelta(minutes=5))


def test_readings_carry_their_quality_flags_by_name(api: TestClient) -> None:
    items = api.get(f"/api/v1/meters/{METER}/readings", params=WINDOW).json()["items"]

    assert [(i["kwh"], i["quality"], i["flags"]) for i in items] == [
        ("0.100", "actual", []),
        ("5.000", "actual", ["spike"]),
        ("0.120", "actual", []),
        ("0.100", "estimated", ["estimated-linear"]),
        ("0.100", "actual", []),
    ]


def test_the_edit_log_shows_each_estimate_flag_and_replacement_with_before_and_after(api: TestClient) -> None:
    r = api.get(f"/api/v1/meters/{METER}/edits", params=WINDOW)

    assert r.status_code == 200
    body = r.json()
    assert (body["meter_id"], body["start"], body["end"]) == (METER, "2026-11-02T00:30:00Z", "2026-11-02T03:00:00Z")
    log = [(e["interval_start"][11:16], e["action"], e["reason"]) for e in body["items"]]
    assert log == [
        ("00:45", "flagged", "spike"),
        ("01:00", "estimated", "linear"),
        ("01:00", "replaced", "the actual reading arrived"),
        ("01:15", "estimated", "linear"),
    ]
    spike, estimate, replaced, _ = body["items"]
    assert spike["before"] is None and spike["after"]["flags"] == ["spike"]
    assert estimate["before"] is None
    assert estimate["after"] == {
        "kwh": "0.100",
        "cumulative_kwh": "5005.200",
        "quality": "estimated",
        "flags": ["estimated-linear"],
    }
    assert replaced["before"] == estimate["after"]
    assert replaced["after"]["quality"] == "actual" and replaced["after"]["kwh"] == "0.120"


def test_the_edit_log_of_an_unknown_meter_or_a_bad_window_is_refused(api: TestClient) -> None:
    unknown = api.get("/api/v1/meters/KNXX9999999/edits", params=WINDOW)
    backwards = api.get(f"/api/v1/meters/{METER}/edits", params={"start": WINDOW["end"], "end": WINDOW["start"]})

    assert unknown.status_code == 404 and unknown.json() == {"detail": "meter KNXX9999999 not found"}
    assert backwards.status_code == 422 and "end must be later than start" in backwards.text


def test_the_consumers_day_marks_the_estimate_apart_from_what_the_meter_measured(api: TestClient) -> None:
    html = api.get(f"/consumer/{METER}", params={"day": "2026-11-02"}).text

    assert html.count('class="bar estimated"') == 1
    assert re.search(r'data-testid="day-total">5\.320 ', html)  # 0.100 + 5.000 + 0.120 + 0.100 measured
    assert re.search(r'data-testid="day-estimated">\+ 0\.100 ', html)
    assert re.search(r'data-testid="intervals-received">4 <span class="stat-sub">of 96, 1 ', html)
    assert "Estimates are not charged" in html
