"""Running a scenario: the twin through its timeline, frames into a sink, truth into a file."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bijli.fleet.city import build_city, transformer_meters
from bijli.fleet.scenario import Scenario, ScenarioHooks, check_against
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.kernel.time import INTERVAL, epoch
from bijli.meter.modem import ModemTimers
from bijli.prepaid.tariff import Tariff
from bijli.protocol.keys import SiteKeys

Sink = Callable[[list[Outgoing]], Awaitable[None]]
SETTLE_S = 120
"""After the last interval the twin runs on this long, so meters back online can deliver."""


def twin_for(scenario: Scenario, site: SiteKeys, tariff: Tariff, root: str) -> FleetTwin:
    """The city a scenario names: its consumers and, if asked, a meter on each transformer."""
    city = build_city(scenario.meters, scenario.seed)
    transformers = transformer_meters(city) if scenario.transformer_meters else []
    options = TwinOptions(timers=ModemTimers(**scenario.modem), operators=scenario.operators)
    check_against(scenario, {c.meter_id for c in city}, {d.transformer for d in transformers})
    return FleetTwin(
        city, transformers, site, tariff, start=scenario.begin, root=root, seed=scenario.seed, options=options
    )


@dataclass(frozen=True, slots=True)
class RunReport:
    intervals: int
    frames: int
    actions: int


async def run_scenario(scenario: Scenario, twin: FleetTwin, sink: Sink, hooks: ScenarioHooks) -> RunReport:
    """Every interval of the scenario, with its actions applied at their moments."""
    pending = list(scenario.actions)
    frames = done = 0
    begin = scenario.begin
    for n in range(scenario.intervals):
        start = begin + n * INTERVAL
        end = float(epoch(start + INTERVAL))
        while pending and pending[0].at < end:
            pending.pop(0).apply(twin, hooks)
            done += 1
        twin.close_interval(start)
        out = twin.take_outgoing()
        frames += len(out)
        await sink(out)
    finish = float(epoch(begin + scenario.intervals * INTERVAL))
    while pending and pending[0].at <= finish:
        pending.pop(0).apply(twin, hooks)
        done += 1
    twin.advance(finish + SETTLE_S)
    out = twin.take_outgoing()
    frames += len(out)
    await sink(out)
    return RunReport(intervals=scenario.intervals, frames=frames, actions=done)


def write_truth(scenario: Scenario, twin: FleetTwin, path: Path) -> None:
    """The scenario's ground truth, one JSON object a line, with each meter's transformer."""
    transformer = {m: str(twin.transformer_of[i]) for m, i in twin.index.items()}
    with path.open("w", encoding="utf-8") as f:
        for fact in scenario.truth:
            row = dict(fact)
            if "meter_id" in row:
                row["transformer"] = transformer.get(row["meter_id"])
            f.write(json.dumps(row) + "\n")
