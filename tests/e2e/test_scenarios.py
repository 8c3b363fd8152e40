"""The twin's promises, end to end: scenario → meters → head-end → store."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console

from bijli import settings
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints.scenario_run import ROUND_S, run_in_process
from bijli.fleet.scenario import parse
from bijli.fleet.twin import Outgoing
from bijli.kernel.time import IST
from bijli.meter.modem import DEFAULT_TIMERS
from bijli.protocol.frames import ReadingFrame, StatusFrame

DAY = date(2026, 11, 2)
METERS = 120
"""Two transformers an area (fifty consumers to one), as at any larger size."""


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), IST)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = bootstrap(settings.build(data_dir=tmp_path / "data", broker_url="memory", new_site=True))
    yield p
    p.store.dispose()


def run(platform: Platform, tmp_path: Path, events: list[dict[str, Any]]) -> tuple[dict[str, Any], list[Outgoing]]:
    scenario = parse({"start": DAY, "days": 1, "meters": METERS, "transformer_meters": True, "events": events})
    seen: list[Outgoing] = []
    summary = asyncio.run(
        run_in_process(platform, scenario, tmp_path / "truth.jsonl", Console(quiet=True), observe=seen.extend)
    )
    return summary, seen


def rows(platform: Platform, sql: str, **params: Any) -> list[Any]:
    with platform.store.engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def assert_every_interval_once(platform: Platform, summary: dict[str, Any]) -> None:
    assert summary["readings_stored"] == summary["readings_expected"] == (METERS + 4) * 96
    assert summary["readings_rejected"] == 0
    per_meter = rows(
        platform, "SELECT meter_id, count(*), count(DISTINCT interval_start) FROM readings GROUP BY meter_id"
    )
    assert len(per_meter) == METERS + 4
    assert all(n == distinct == 96 for _, n, distinct in per_meter)


def test_operator_down_in_civil_lines_moves_its_meters_to_the_other_sim_and_loses_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    outage = at(10)
    summary, seen = run(
        platform,
        tmp_path,
        [{"kind": "network", "operator": "Jio", "area": "Civil Lines", "at": "10:00", "for": "2h"}],
    )

    assert_every_interval_once(platform, summary)
    # Which meters were on Jio in Civil Lines when it failed: their status before the outage.
    before: dict[str, StatusFrame] = {}
    first_switch: dict[str, StatusFrame] = {}
    for out in seen:
        f = out.frame
        if isinstance(f, StatusFrame):
            if out.at < outage.timestamp():
                before[f.m] = f
            elif f.switched_at >= outage.timestamp() and f.m not in first_switch:
                first_switch[f.m] = f
    area = dict(rows(platform, "SELECT meter_id, area FROM meters"))
    on_jio = {m for m, s in before.items() if s.operator == "Jio" and area[m] == "Civil Lines"}
    assert len(on_jio) > 20
    for meter in on_jio:
        switch = first_switch[meter]
        assert switch.operator == "Airtel" and switch.sim == 2
        assert 0 <= switch.switched_at - outage.timestamp() <= DEFAULT_TIMERS.failover_bound_s <= 30
    untouched = {m for m, s in before.items() if s.operator == "Airtel" or area[m] == "Mall Road"}
    assert not untouched & set(first_switch)
    # The store shows it: failovers counted, time spent on SIM 2.
    state = {m: (f, s2) for m, f, s2 in rows(platform, "SELECT meter_id, failovers, sim2_s FROM meter_state")}
    assert all(state[m][0] >= 1 and state[m][1] > 0 for m in on_jio)


def test_both_operators_down_for_six_hours_the_readings_arrive_after_in_order_and_complete(
    platform: Platform, tmp_path: Path
) -> None:
    summary, seen = run(
        platform,
        tmp_path,
        [
            {"kind": "network", "operator": "Jio", "area": "Mall Road", "at": "09:00", "for": "6h"},
            {"kind": "network", "operator": "Airtel", "area": "Mall Road", "at": "09:00", "for": "6h"},
        ],
    )

    assert_every_interval_once(platform, summary)
    down, up = at(9).timestamp(), at(15).timestamp()
    mall_road = {m for (m,) in rows(platform, "SELECT meter_id FROM meters WHERE area = 'Mall Road'")}
    sent: dict[str, list[tuple[int, list[int]]]] = defaultdict(list)
    for out in seen:
        if isinstance(out.frame, ReadingFrame) and out.frame.m in mall_road:
            assert not down + 1 < out.at < up, "a meter without network sent a reading"
            sent[out.frame.m].append((out.frame.fc, [r.start for r in out.frame.intervals]))
    for meter in mall_road:
        counters = [fc for fc, _ in sent[meter]]
        starts = [s for _, batch in sent[meter] for s in batch]
        assert counters == sorted(counters)
        assert starts == sorted(starts) and len(starts) == len(set(starts)) == 96
    late = rows(
        platform,
        "SELECT count(*) FROM readings r JOIN meters m ON m.meter_id = r.meter_id "
        "WHERE m.area = 'Mall Road' AND r.interval_start >= :a AND r.interval_start < :b AND r.received_at >= :up",
        a=at(9).astimezone(UTC).replace(tzinfo=None),
        b=at(14, 45).astimezone(UTC).replace(tzinfo=None),
        up=at(15).astimezone(UTC).replace(tzinfo=None),
    )[0][0]
    assert late == len(mall_road) * 23  # every interval of the outage came in after it
    # Meanwhile the gaps were estimated and flagged; each estimate gave way to the real reading.
    edits = dict(rows(platform, "SELECT action, count(*) FROM reading_edits WHERE action != 'flagged' GROUP BY action"))
    assert edits["estimated"] > len(mall_road) * 10
    assert edits["replaced"] == edits["estimated"]
    assert rows(platform, "SELECT count(*) FROM readings WHERE quality != 'actual'")[0][0] == 0


CODES = {
    "magnet": (201, 202),
    "neutral_missing": (207, 208),
    "neutral_disturbance": (203, 204),
    "current_reverse": (51, 52),
    "bypass": (65, 66),
    "earth_load": (69, 70),
    "comm_module_removed": (209, 210),
    "power_failure": (101, 102),
    "cover_open": (251, None),
}


def test_each_tamper_reaches_the_store_with_its_code_and_a_hotspot_recharge_works_without_network(
    platform: Platform, tmp_path: Path
) -> None:
    meters = {name: f"KNCL{n + 1:07d}" for n, name in enumerate(CODES)}
    events: list[dict[str, Any]] = [
        {"kind": "condition", "condition": name, "meters": [m], "at": "11:00", "for": "1h"}
        for name, m in meters.items()
    ]
    events += [
        {"kind": "network", "operator": "Jio", "area": "Mall Road", "at": "07:00", "for": "3h"},
        {"kind": "network", "operator": "Airtel", "area": "Mall Road", "at": "07:00", "for": "3h"},
        {"kind": "hotspot", "meter": "KNMR0000021", "amount": "200", "at": "08:30"},
        {"kind": "hooking", "transformer": "CL-F01-DT02", "watts": 2000, "at": "18:00", "for": "4h"},
    ]
    summary, _ = run(platform, tmp_path, events)

    assert_every_interval_once(platform, summary)
    for name, (occurred, restored) in CODES.items():
        codes = [
            c
            for (c,) in rows(
                platform, "SELECT code FROM events WHERE meter_id = :m ORDER BY occurred_at", m=meters[name]
            )
        ]
        assert codes == ([occurred, restored] if restored else [occurred]), name
    # Every tamper is a case of its own kind, opened by the platform's next round after its event
    # reached the store (a modem being removed still gets its event out); a power failure is none.
    cases = rows(platform, "SELECT subject_id, kind, opened_at FROM cases WHERE subject_level = 'meter'")
    assert sorted((m, k) for m, k, _ in cases) == sorted((m, n) for n, m in meters.items() if n != "power_failure")
    for meter_id, kind, opened_at in cases:
        opened = datetime.fromisoformat(str(opened_at)).replace(tzinfo=UTC)
        assert at(11) <= opened <= at(11) + timedelta(seconds=ROUND_S), (meter_id, kind, opened)
    (redeemed,) = rows(
        platform, "SELECT amount_paise, redeemed_at, received_at FROM token_redemptions WHERE meter_id = 'KNMR0000021'"
    )
    assert redeemed[0] == 20_000
    assert summary["tokens_accepted_at_meters"] == 1
    received = datetime.fromisoformat(str(redeemed[2])).replace(tzinfo=UTC)
    assert received >= at(10)  # reported once the meter could talk again
    # The hook shows only in the transformer's meter: more energy than its consumers used.
    balance = rows(
        platform,
        "SELECT (SELECT sum(r.import_wh) FROM readings r JOIN meters m ON m.meter_id = r.meter_id "
        "        WHERE m.transformer = 'CL-F01-DT02' AND m.meter_id LIKE 'KNCLT%'), "
        "       (SELECT sum(r.import_wh) FROM readings r JOIN accounts a ON a.meter_id = r.meter_id "
        "        JOIN meters m ON m.meter_id = r.meter_id WHERE m.transformer = 'CL-F01-DT02')",
    )[0]
    assert balance[0] - balance[1] * 1.03 >= 2000 * 4 * 0.9  # about 2 kW for 4 h unmetered


def test_late_data_shows_in_the_collection_report_and_every_interval_ends_up_real(
    platform: Platform, tmp_path: Path
) -> None:
    # Mall Road loses both networks from 20:00 until 10:00 the next morning: its last four
    # hours of day one arrive ten hours after the day ended, within 24 h but not within 8 h.
    scenario = parse(
        {
            "start": DAY,
            "days": 2,
            "meters": METERS,
            "transformer_meters": True,
            "events": [
                {"kind": "network", "operator": op, "area": "Mall Road", "at": "20:00", "for": "14h"}
                for op in ("Jio", "Airtel")
            ],
        }
    )
    summary = asyncio.run(run_in_process(platform, scenario, tmp_path / "truth.jsonl", Console(quiet=True)))

    assert summary["readings_stored"] == summary["readings_expected"] == (METERS + 4) * 192
    assert rows(platform, "SELECT count(*) FROM readings WHERE quality != 'actual'")[0][0] == 0
    report = platform.reports.collection(DAY)
    assert report.meters == METERS + 4
    assert report.complete_within_8h == (METERS + 4) // 2  # Civil Lines only
    assert report.complete_within_24h == report.complete_now == METERS + 4
    assert report.as_dict()["complete_within_8h_pct"] == 50.0
    next_day = platform.reports.collection(date(2026, 11, 3))
    assert next_day.complete_within_8h == METERS + 4
    assert summary["quarantine"] == {}
    # The usage aggregates add up: areas = transformers = meters, kWh to the watt-hour.
    by = {level: platform.reports.usage(level, DAY, DAY) for level in ("meter", "transformer", "area")}
    totals = {level: sum(Decimal(i["kwh"]) for i in items) for level, items in by.items()}
    # Above the meter, consumers only: the transformers' own meters measure what went in.
    dt_meters = sum(Decimal(i["kwh"]) for i in by["meter"] if i["meter"][4] == "T")  # KNCLT00001
    assert totals["meter"] - dt_meters == totals["transformer"] == totals["area"] > 0
    assert sum(Decimal(i["supplied_kwh"]) for i in by["transformer"]) == dt_meters > 0
    stored = rows(
        platform,
        "SELECT sum(import_wh) FROM readings WHERE interval_start >= :a AND interval_start < :b",
        a=at(0).astimezone(UTC).replace(tzinfo=None),
        b=at(0).astimezone(UTC).replace(tzinfo=None) + timedelta(days=1),
    )[0][0]
    assert totals["meter"] == Decimal(stored) / 1000
