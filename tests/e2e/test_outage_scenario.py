"""Outages end to end: a feeder losing supply and an operator down in an area, through the twin,
the head-end and the store, each make one outage record; one house without supply makes none."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from pathlib import Path

from rich.console import Console

from bijli import settings
from bijli.adapters.db.outages import OutageFilter
from bijli.bootstrap import bootstrap
from bijli.entrypoints.scenario_run import run_in_process
from bijli.fleet.city import consumer_meter_id
from bijli.fleet.scenario import parse
from bijli.kernel.time import IST
from bijli.meter.modem import DEFAULT_TIMERS
from bijli.network.outages import OutageLevel

DAY = date(2026, 11, 2)
METERS = 300  # 150 an area: three transformers on one feeder each


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), IST)


def test_a_feeder_outage_and_an_operator_outage_are_one_record_each(tmp_path: Path) -> None:
    lone = consumer_meter_id(1)  # a Mall Road consumer
    scenario = parse(
        {
            "start": DAY,
            "days": 0.5,
            "meters": METERS,
            "transformer_meters": True,
            "events": [
                {"kind": "power", "feeder": "CL-F01", "at": "02:10", "for": "45m"},
                {"kind": "condition", "condition": "power_failure", "meters": [lone], "at": "03:00", "for": "30m"},
                {"kind": "network", "operator": "Jio", "area": "Mall Road", "at": "06:00", "for": "2h"},
            ],
        }
    )
    platform = bootstrap(settings.build(data_dir=tmp_path / "data", broker_url="memory", new_site=True))
    try:
        asyncio.run(run_in_process(platform, scenario, tmp_path / "truth.jsonl", Console(quiet=True)))
        found = sorted(platform.outages.outages(OutageFilter(), 100), key=lambda v: v.outage.started_at)
    finally:
        platform.store.dispose()

    assert [(v.outage.level, v.outage.subject, v.outage.area) for v in found] == [
        (OutageLevel.FEEDER, "CL-F01", "Civil Lines"),
        (OutageLevel.OPERATOR, "Jio", "Mall Road"),
    ]
    feeder, operator = (v.outage for v in found)
    assert feeder.meters == 150 + 3  # every consumer and the three transformers' meters
    # The meters' clocks drift by a second or so.
    assert abs(feeder.started_at - at(2, 10)) < timedelta(seconds=5)
    assert feeder.ended_at is not None and abs(feeder.ended_at - at(2, 55)) < timedelta(seconds=5)
    assert operator.started_at - at(6) < timedelta(minutes=2)
    # Its end is seen when the meters go back to their own SIM, once it has been healthy a while.
    back = at(8) + timedelta(seconds=DEFAULT_TIMERS.return_after_s)
    assert operator.ended_at is not None and abs(operator.ended_at - back) < timedelta(minutes=2)
