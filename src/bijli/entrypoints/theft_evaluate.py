"""What `bijli theft evaluate` runs: a scenario through the platform's detectors, on its clock,
judged against its hidden ground truth.

Like `bijli scenario run` in process (`scenario_run.run_in_process`): the city's twin, an
in-memory broker, the head-end and the store, on the scenario's simulated clock. Every
`round_s` simulated seconds the detectors' rounds run, as `bijli serve` runs them: outages
found from last gasps and the meters' links (`find_outages`), then cases opened from the
meters' events by the rules (`open_due_cases`); at each interval's end the readings are
settled (each meter's day added up); every hour the energy balance of the days that changed
(`balance_due`) and, when a transformer is flagged, its hooking case (`find_hooking`); once
a day (05:30 IST) the VEE job estimates the gaps of meters that are silent. Payments, the
supply service and alert delivery are left out (they change nothing the detectors see).
After the last interval every round runs once more; then the cases and outages the platform
recorded are scored against the truth (`bijli.fleet.detection`) into one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from bijli.adapters.brokers.memory import MemoryBroker
from bijli.adapters.db.outages import OutageFilter
from bijli.adapters.db.upkeep import autovacuum_stand_in
from bijli.bootstrap import Platform
from bijli.entrypoints.settler import settler_for
from bijli.fleet.commissioning import commission_city
from bijli.fleet.detection import FoundCase, FoundOutage, score
from bijli.fleet.run import run_scenario, twin_for, write_ledger, write_truth
from bijli.fleet.scenario import Scenario, ScenarioHooks
from bijli.fleet.twin import Outgoing
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch
from bijli.mdm.handlers import run_vee, settle_all
from bijli.network.handlers import balance_due, find_outages
from bijli.vigilance.handlers import cases, find_hooking, open_due_cases
from bijli.vigilance.ports import CaseFilter
from bijli.vigilance.rules import shipped_rules

ROUND_S = 60
"""How often, in simulated seconds, the detectors' rounds run."""
VEE_EVERY_S = 86_400
BALANCE_EVERY_S = 3600
UPKEEP_EVERY_S = INTERVAL_S
"""How often the store's upkeep runs where the server has no autovacuum (`autovacuum_stand_in`)."""
PAGE = 1000
SETTLE = "settle"


@dataclass(frozen=True, slots=True)
class Round:
    """One of the platform's rounds the evaluation runs, every `every_s` simulated seconds."""

    name: str
    every_s: int
    run: Callable[[Platform, datetime], object]
    settles: bool = False
    """Settlement: handed to the run's settler (`bijli.entrypoints.settler`), a process of its
    own on PostgreSQL, while the next interval's frames come in."""
    after_settling: bool = False
    """Reads what settlement writes: waits for the settler first."""


def detector_rounds() -> list[Round]:
    """The detectors' rounds, in the order `bijli serve` runs them."""
    rules = shipped_rules()
    return [
        Round("outages", ROUND_S, lambda p, now: find_outages(p.store, now)),
        Round("cases", ROUND_S, lambda p, now: open_due_cases(p.store, rules, now)),
        Round(SETTLE, INTERVAL_S, lambda p, now: settle_all(p.store, now), settles=True),
        Round("vee", VEE_EVERY_S, lambda p, now: run_vee(p.store, now), after_settling=True),
        Round("balance", BALANCE_EVERY_S, _balance_and_hooking, after_settling=True),
    ]


def _balance_and_hooking(platform: Platform, now: datetime) -> None:
    """The energy balance of the days whose readings changed; hooking cases if one is flagged
    (as `bijli serve`'s balance round)."""
    if balance_due(platform.store, now).flagged:
        find_hooking(platform.store, now)


async def evaluate(
    platform: Platform,
    scenario: Scenario,
    truth: Path,
    console: Console,
    round_s: int = ROUND_S,
    rounds: list[Round] | None = None,
) -> dict[str, Any]:
    """Run the scenario through this (empty) platform's store and detectors; the figures."""
    began = time.monotonic()
    cfg = platform.settings
    twin = twin_for(scenario, cfg.site_keys, platform.store.tariffs[cfg.tariff_code], cfg.topic_root)
    commission_city(platform.store, cfg.tariff_code, twin.consumers, scenario.begin, twin.transformers)
    write_truth(scenario, twin, truth)
    broker = MemoryBroker()
    clock = SimulatedClock(scenario.begin)
    # Settlement (validation, charging, each meter's day added up) is a round of its own below.
    headend = HeadEnd(platform.store, broker, platform.ring, cfg.topic_root, clock, max_wait_s=0.0, settling=False)
    task = asyncio.create_task(headend.run())
    work = detector_rounds() if rounds is None else rounds
    spent = dict.fromkeys([r.name for r in work], 0.0)
    upkeep_s = [0.0]
    settler = settler_for(platform)

    def to(t: float) -> None:
        clock.set(max(clock.now(), datetime.fromtimestamp(t, UTC)))

    async def sink(frames: list[Outgoing]) -> None:
        for frame in frames:
            to(frame.at)
            await broker.publish(frame.topic, frame.payload)
        await broker.drain()
        if task.done():
            task.result()

    async def run(r: Round, now: datetime) -> None:
        tick = time.monotonic()
        if r.settles:
            await settler.settle(now)
            spent[r.name] += time.monotonic() - tick
            return
        if r.after_settling:  # waiting for the settlement worker is settlement's time, not the round's
            await settler.wait()
            waited = time.monotonic() - tick
            spent[SETTLE] = spent.get(SETTLE, 0.0) + waited
            tick += waited
        await asyncio.to_thread(r.run, platform, now)
        spent[r.name] += time.monotonic() - tick

    async def between(t: float) -> None:
        to(t)
        if int(t) % UPKEEP_EVERY_S == 0:  # the store as a deployed server keeps it (no platform work)
            tick = time.monotonic()
            await asyncio.to_thread(autovacuum_stand_in, platform.store.engine)
            upkeep_s[0] += time.monotonic() - tick
        for r in work:
            if int(t) % r.every_s == 0:
                await run(r, clock.now())

    try:
        with Progress(console=console, transient=True) as bar:
            task_id = bar.add_task(f"{scenario.name}: intervals", total=scenario.intervals)
            report = await run_scenario(
                scenario, twin, sink, ScenarioHooks(), between, round_s, lambda n: bar.update(task_id, completed=n)
            )
        await broker.drain()
        for r in work:  # the last word of every round, the last day's balance too
            await run(r, clock.now())
        await settler.wait()
    finally:
        settler.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    write_ledger(twin, truth)
    facts = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines() if line.strip()]
    end = float(epoch(scenario.begin + scenario.intervals * INTERVAL))
    figures = score(facts, _cases(platform), _outages(platform), end)
    return {
        "scenario": scenario.name,
        "meters": scenario.meters,
        "transformers": len(twin.transformers),
        "days": scenario.days,
        **figures,
        "frames": report.frames,
        "round_s": round_s,
        "rounds_s": {k: round(v, 1) for k, v in spent.items()},
        "settling_s": round(settler.busy_s, 1),
        "upkeep_s": round(upkeep_s[0], 1),
        "wall_s": round(time.monotonic() - began, 1),
        "truth": str(truth),
    }


def _cases(platform: Platform) -> list[FoundCase]:
    found: list[FoundCase] = []
    while page := cases(platform.store, CaseFilter(), PAGE, len(found)):
        found += [
            FoundCase(
                kind=c.kind,
                subject_level=str(c.subject_level.value),
                subject_id=c.subject_id,
                opened_at=c.opened_at.timestamp(),
            )
            for c in page
        ]
        if len(page) < PAGE:
            break
    return found


def _outages(platform: Platform) -> list[FoundOutage]:
    found: list[FoundOutage] = []
    while page := platform.outages.outages(OutageFilter(), PAGE, len(found)):
        found += [
            FoundOutage(
                level=str(v.outage.level.value),
                subject=v.outage.subject,
                area=v.outage.area,
                started_at=v.outage.started_at.timestamp(),
            )
            for v in page
        ]
        if len(page) < PAGE:
            break
    return found
