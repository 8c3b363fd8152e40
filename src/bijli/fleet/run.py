"""Running a scenario: the twin through its timeline, frames into a sink, truth into a file.

Between interval boundaries the run stops every `round_s` seconds of simulated time and hands
the moment to `between` (the platform's own work on the simulated clock: commands out to the
meters, the supply decisions, alert delivery); actions that happen inside an interval are
applied at the first stop after their moment. Habits (`bijli.fleet.habits`) add actions while
the run goes, from what the meters show at each boundary.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bijli.fleet.city import Consumer, build_city, transformer_meters
from bijli.fleet.grid import GridOptions
from bijli.fleet.power import on_supply
from bijli.fleet.scenario import Action, Scenario, ScenarioHooks, check_against
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch
from bijli.meter.modem import ModemTimers
from bijli.prepaid.policy import PrepaidPolicy
from bijli.prepaid.tariff import Tariff
from bijli.protocol.keys import SiteKeys

Sink = Callable[[list[Outgoing]], Awaitable[None]]
Between = Callable[[float], Awaitable[None]]
SETTLE_S = 120
"""After the last interval the twin runs on this long, so meters back online can deliver."""


def twin_for(
    scenario: Scenario,
    site: SiteKeys,
    tariff: Tariff,
    root: str,
    policy: PrepaidPolicy | None = None,
    twin_class: type[FleetTwin] = FleetTwin,
) -> FleetTwin:
    """The city a scenario names: its consumers and, if asked, a meter on each transformer."""
    city = build_city(scenario.meters, scenario.seed)
    if scenario.opening_paise is not None:
        city = _openings(city, scenario.opening_paise, scenario.seed)
    transformers = transformer_meters(city) if scenario.transformer_meters else []
    options = TwinOptions(
        timers=ModemTimers(**scenario.modem), operators=scenario.operators, grid=scenario.network or GridOptions()
    )
    if policy is not None:
        options = replace(options, policy=policy)
    check_against(scenario, {c.meter_id for c in city}, {d.transformer for d in transformers})
    return twin_class(
        city, transformers, site, tariff, start=scenario.begin, root=root, seed=scenario.seed, options=options
    )


def _openings(city: list[Consumer], span: tuple[int, int], seed: int) -> list[Consumer]:
    """The consumers with opening balances drawn from `span` (paise, in whole rupees)."""
    rng = np.random.default_rng([seed, 13])
    drawn = rng.integers(span[0] // 100, span[1] // 100 + 1, size=len(city)) * 100
    return [replace(c, opening_balance_paise=int(p)) for c, p in zip(city, drawn.tolist(), strict=True)]


@dataclass(frozen=True, slots=True)
class RunReport:
    intervals: int
    frames: int
    actions: int


async def run_scenario(
    scenario: Scenario,
    twin: FleetTwin,
    sink: Sink,
    hooks: ScenarioHooks,
    between: Between | None = None,
    round_s: int = INTERVAL_S,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Every interval of the scenario, with its actions applied at their moments."""
    pending = list(scenario.actions)
    frames = done = 0
    begin = scenario.begin
    habits = [h.start(twin, hooks) for h in scenario.habits]

    def apply_until(t: float, inclusive: bool = False) -> int:
        n = 0
        while pending and (pending[0].at < t or (inclusive and pending[0].at <= t)):
            pending.pop(0).apply(twin, hooks)
            n += 1
            while hooks.later:
                bisect.insort(pending, hooks.later.pop(), key=_when)
        return n

    async def flush() -> None:
        nonlocal frames
        out = twin.take_outgoing()
        frames += len(out)
        await sink(out)

    for n in range(scenario.intervals):
        start = begin + n * INTERVAL
        t0 = float(epoch(start))
        end = t0 + INTERVAL_S
        for habit in habits:
            for action in habit.due(t0, end):
                bisect.insort(pending, action, key=_when)
        if between is not None:
            for stop in range(round_s, INTERVAL_S, round_s):
                done += apply_until(t0 + stop)
                twin.advance(t0 + stop)
                await flush()
                await between(t0 + stop)
                await flush()
        done += apply_until(end)
        twin.close_interval(start)
        await flush()
        if between is not None:
            await between(end)
            await flush()
        if progress is not None:
            progress(n + 1)
    finish = float(epoch(begin + scenario.intervals * INTERVAL))
    done += apply_until(finish, inclusive=True)
    twin.advance(finish + SETTLE_S)
    await flush()
    if between is not None:
        await between(finish + SETTLE_S)
        await flush()
    return RunReport(intervals=scenario.intervals, frames=frames, actions=done)


def _when(action: Action) -> float:
    return action.at


def write_truth(scenario: Scenario, twin: FleetTwin, path: Path) -> None:
    """The scenario's ground truth, one JSON object a line, with each meter's transformer."""
    transformer = {m: str(twin.transformer_of[i]) for m, i in twin.index.items()}
    with path.open("w", encoding="utf-8") as f:
        for fact in scenario.truth:
            row = dict(fact)
            if "meter_id" in row:
                row["transformer"] = transformer.get(row["meter_id"])
            if row.get("kind") == "power_outage":
                level = str(row["level"])
                row["meters"] = [twin.meter_ids[i] for i in on_supply(twin, level, str(row[level]))]
            f.write(json.dumps(row) + "\n")
        if twin.grid is not None:
            for row in twin.grid.facts([t.transformer for t in twin.transformers]):
                f.write(json.dumps(row) + "\n")


def write_ledger(twin: FleetTwin, path: Path) -> None:
    """At the end of a run on a lossy grid: each transformer's energy per IST day, into the truth."""
    if twin.grid is None:
        return
    with path.open("a", encoding="utf-8") as f:
        for row in twin.grid.ledger_facts([t.transformer for t in twin.transformers]):
            f.write(json.dumps(row) + "\n")
