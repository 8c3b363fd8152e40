"""The twin's power outages: a feeder or a transformer loses supply, every meter on it sends its last gasp."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bijli.fleet.city import build_city, transformer_meters
from bijli.fleet.power import on_supply
from bijli.fleet.scenario import ScenarioError, check_against, parse
from bijli.kernel.time import IST, epoch
from bijli.protocol.events import EventCode
from bijli.protocol.frames import EventFrame, ReadingFrame
from tests.unit.fleet.world import START, T0, World, frame

CITY = build_city(200)  # two areas, two transformers each, one feeder per area
DTS = transformer_meters(CITY)
FEEDER = CITY[0].feeder
TRANSFORMER = CITY[0].transformer


def _scenario(**where: str) -> dict[str, object]:
    return {
        "start": START.astimezone(IST).date(),
        "events": [{"kind": "power", **where, "at": "10:30", "for": "45m"}],
    }


def _run(**where: str) -> tuple[World, list[int]]:
    scenario = parse(_scenario(**where))
    world = World(CITY, DTS)
    for action in scenario.actions:
        world.run_to(action.at)
        action.apply(world.twin, None)  # type: ignore[arg-type]  # power actions need no hooks
    world.run_to(T0 + 7200)
    level = "feeder" if "feeder" in where else "transformer"
    return world, on_supply(world.twin, level, where[level])


def _gasps(world: World) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for out in world.log:
        opened = frame(out)
        if isinstance(opened, EventFrame):
            found.setdefault(opened.m, []).extend((e.code, e.at) for e in opened.events)
    return found


def test_a_feeder_outage_takes_every_meter_on_it_and_its_transformer_meters() -> None:
    world, hit = _run(feeder=FEEDER)
    off, on = int(T0 + 1800), int(T0 + 1800 + 2700)
    ids = {world.twin.meter_ids[i] for i in hit}
    assert ids == {c.meter_id for c in CITY if c.feeder == FEEDER} | {d.meter_id for d in DTS if d.feeder == FEEDER}
    gasps = _gasps(world)
    for meter in ids:
        assert gasps[meter] == [(EventCode.POWER_FAILURE, off), (EventCode.POWER_RESTORED, on)]
    assert not set(gasps) - ids  # nobody else lost supply


def test_meters_without_supply_fall_silent_until_it_comes_back() -> None:
    world, hit = _run(transformer=TRANSFORMER)
    silent_from, back = T0 + 1800, T0 + 1800 + 2700
    on_it = {world.twin.meter_ids[i] for i in hit}
    assert len(on_it) == sum(c.transformer == TRANSFORMER for c in CITY) + 1
    during = [frame(o) for o in world.log if silent_from < o.at < back and isinstance(frame(o), ReadingFrame)]
    assert during and not {f.m for f in during} & on_it


def test_the_ground_truth_names_the_outage() -> None:
    (fact,) = parse(_scenario(feeder=FEEDER)).truth
    assert fact["kind"] == "power_outage" and fact["feeder"] == FEEDER and fact["theft"] is False
    assert fact["end"] == (START + timedelta(minutes=75)).astimezone(IST).isoformat()


def test_a_power_outage_names_one_place_that_exists() -> None:
    with pytest.raises(ScenarioError, match="either a feeder or a transformer"):
        parse(_scenario(feeder=FEEDER, transformer=TRANSFORMER))
    with pytest.raises(ScenarioError, match="either a feeder or a transformer"):
        parse({"start": date(2026, 3, 2), "events": [{"kind": "power", "at": "10:00", "for": "1h"}]})
    with pytest.raises(ScenarioError, match="no feeder"):
        check_against(parse(_scenario(feeder="XX-F09")), {c.meter_id for c in CITY}, {d.transformer for d in DTS})
    assert epoch(START) == T0
