"""What `bijli scenario run` runs: a scenario file through the whole platform.

Without a broker the city, the head-end, the command dispatcher and the store run in this
process on the scenario's simulated clock (an in-memory broker between them, commands handed
to the meters on their downlink); payments come in through the payment gateway's webhook use
case, signed as the gateway signs them. With `--broker-url` the meters publish over MQTT with
their own credentials, to a head-end running elsewhere (`bijli serve`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.memory import MemoryBroker
from bijli.adapters.db.scenario_truth import committed_deliveries, converted_at
from bijli.adapters.db.upkeep import autovacuum_stand_in
from bijli.adapters.dev_gateway import signed_event
from bijli.alerts.handlers import BATCH as ALERT_BATCH
from bijli.alerts.handlers import deliver_due
from bijli.alerts.model import Channel
from bijli.alerts.ports import Senders
from bijli.alerts.texts import templates
from bijli.bootstrap import Platform
from bijli.entrypoints.settler import Settler, settler_for
from bijli.fleet.commissioning import commission_city
from bijli.fleet.links import MeterConnections
from bijli.fleet.run import run_scenario, twin_for, write_ledger, write_truth
from bijli.fleet.scenario import Paid, Scenario, ScenarioHooks
from bijli.fleet.truth import Handset, Inbox, WatchedTwin, judge
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.headend.dispatcher import Dispatcher
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL, IST, utc_from_epoch
from bijli.mdm.handlers import run_vee
from bijli.network.handlers import find_outages
from bijli.payments.handlers import take_webhook
from bijli.payments.model import token_digits
from bijli.prepaid.forecast import days_left
from bijli.prepaid.handlers import record_recharge
from bijli.protocol.keys import SiteKeys
from bijli.protocol.tokens import issue_token
from bijli.supply.handlers import SupplyReport, decide_all_due
from bijli.vigilance.handlers import open_due_cases
from bijli.vigilance.rules import shipped_rules

ROUND_S = 300
"""How often, in simulated seconds, the platform's own work runs between interval boundaries."""


def _commission_all(platform: Platform, twin: FleetTwin, at: datetime) -> None:
    commission_city(platform.store, platform.settings.tariff_code, twin.consumers, at, twin.transformers)


def _hooks(platform: Platform | None, twin: FleetTwin, site: SiteKeys, webhook: bool = False) -> ScenarioHooks:
    """`webhook`: payments go through the gateway's webhook use case and the platform pushes
    the credit; otherwise they are recorded on the ledger and reach the meter at once."""
    accounts = {c.meter_id: c.account_no for c in twin.consumers}
    secret = platform.settings.payment_secret if platform is not None else None

    def recharge(meter_id: str, paise: int, reference: str, at: float) -> Paid | None:
        if platform is None:
            return None
        now = utc_from_epoch(int(at))
        if not webhook or secret is None:
            record_recharge(platform.store, accounts[meter_id], paise, reference, now)
            return None
        body, signature = signed_event(secret, accounts[meter_id], paise, now, payment_id=reference)
        taken = take_webhook(platform.store, body, signature, secret, site.current, now)
        digits = [d for tok in taken.tokens if (d := token_digits(site, tok)) is not None]
        return Paid(pushed=bool(taken.tokens), digits=digits[0] if digits else None)

    def vend(meter_id: str, paise: int, at: float) -> str:
        return issue_token(site.token_key(meter_id), meter_id, paise, utc_from_epoch(int(at))).digits

    return ScenarioHooks(recharge=recharge, issue_token=vend)


class TwinDownlink:
    """The in-process broker's downlink side: commands published to a meter reach its twin at
    the moment the dispatcher sends them if it is online, else when it is next online (a
    persistent session, QoS 1)."""

    def __init__(self, twin: FleetTwin, clock: SimulatedClock) -> None:
        self.twin = twin
        self.clock = clock
        self.held: list[tuple[str, bytes]] = []
        self.delivered = 0

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.held.append((topic.split("/")[-3], payload))

    def deliver(self) -> None:
        """Hand every held command whose meter is online to it, in the order published."""
        twin, at = self.twin, self.clock.now().timestamp()
        keep = []
        for meter_id, payload in self.held:
            if twin.online[twin.index[meter_id]]:
                twin.command(meter_id, payload, at)
                self.delivered += 1
            else:
                keep.append((meter_id, payload))
        self.held = keep


async def run_in_process(
    platform: Platform,
    scenario: Scenario,
    truth: Path,
    console: Console,
    observe: Callable[[list[Outgoing]], None] | None = None,
    vee_every: int | None = 4,
    round_s: int = ROUND_S,
    settler: Settler | None = None,
) -> dict[str, object]:
    """The scenario into this platform's store through an in-process head-end.

    `observe`, if given, sees every frame the meters send, in order (for tests and tools).
    Every `vee_every` intervals the VEE job runs on the scenario's clock (gaps estimated).
    Every `round_s` simulated seconds the platform's own work runs on the same clock: the
    supply service's decisions for the accounts that are due, the command dispatcher (commands
    reach the twins), the ingest of what the meters answered, the outages found (last gasps,
    failover), and the alerts' delivery. What the meters send is settled by `settler` (default
    `settler_for`: beside a worker process on PostgreSQL, in line on SQLite), all of it before
    each round.
    """
    cfg = platform.settings
    policy = TwinOptions().policy  # the prepaid policy the meters and the supply service share
    twin = twin_for(
        scenario, cfg.site_keys, platform.store.tariffs[cfg.tariff_code], cfg.topic_root, policy, WatchedTwin
    )
    assert isinstance(twin, WatchedTwin)
    _commission_all(platform, twin, scenario.begin)
    if scenario.prepaid_since_days:
        since = scenario.begin - timedelta(days=scenario.prepaid_since_days)
        converted_at(platform.store.engine, [c.account_no for c in twin.consumers], since)
    write_truth(scenario, twin, truth)
    broker = MemoryBroker()
    clock = SimulatedClock(scenario.begin)
    # Each round is published whole before the head-end is waited on: no need to wait for more.
    # Settlement is the run's settler's (a worker process of its own on PostgreSQL).
    headend = HeadEnd(platform.store, broker, platform.ring, cfg.topic_root, clock, max_wait_s=0.0, settling=False)
    settler = settler or settler_for(platform)
    task = asyncio.create_task(headend.run())
    downlink = TwinDownlink(twin, clock)
    dispatcher = Dispatcher(platform.dispatch, downlink, platform.ring, cfg.topic_root, clock)
    inbox = Inbox()
    supplied = SupplyReport()
    senders = _handsets(inbox, twin, lambda: clock.now().timestamp())

    def to(t: float) -> None:
        clock.set(max(clock.now(), datetime.fromtimestamp(t, UTC)))

    async def sink(frames: list[Outgoing]) -> None:
        if observe is not None:
            observe(frames)
        # A chunk at a time, each settled (by the worker, where there is one) while the
        # head-end takes the next.
        for first in range(0, len(frames), headend.max_batch):
            for frame in frames[first : first + headend.max_batch]:
                to(frame.at)
                await broker.publish(frame.topic, frame.payload)
            # The head-end takes each round at the round's time, so its clock checks are honest.
            await broker.drain()
            if task.done():
                task.result()
            await settler.start(clock.now())

    async def between(t: float) -> None:
        to(t)
        if t % 900 == 0:
            rounds[0] += 1
            # The store as a deployed server keeps it, where this one has no autovacuum.
            await asyncio.to_thread(autovacuum_stand_in, platform.store.engine)
        # What the meters sent is settled before anything reads a balance.
        await settler.catch_up(clock.now())
        if t % 900 == 0 and vee_every and rounds[0] % vee_every == 0:
            await asyncio.to_thread(run_vee, platform.store, clock.now())
        downlink.deliver()  # held for meters that are back
        decided = await asyncio.to_thread(decide_all_due, platform.store, policy, clock.now())
        supplied.disconnects += decided.disconnects
        supplied.reconnects += decided.reconnects
        supplied.permits += decided.permits
        dispatcher.totals.add(await dispatcher.tick())
        downlink.deliver()
        await asyncio.to_thread(find_outages, platform.store, clock.now())
        await asyncio.to_thread(open_due_cases, platform.store, case_rules, clock.now())
        while (await asyncio.to_thread(deliver_due, platform.store, senders, clock.now())).claimed >= ALERT_BATCH:
            pass

    hooks = _hooks(platform, twin, cfg.site_keys, webhook=True)
    case_rules = shipped_rules()
    rounds = [0]
    try:
        with Progress(console=console, transient=True) as bar:
            task_id = bar.add_task(f"{scenario.name}: intervals", total=scenario.intervals)
            log_line = _progress_lines(console, scenario, time.monotonic(), time.process_time())

            def progress(n: int) -> None:
                bar.update(task_id, completed=n)
                log_line(n)

            report = await run_scenario(scenario, twin, sink, hooks, between, round_s, progress)
        await broker.drain()
        await settler.catch_up(clock.now())
    finally:
        settler.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    write_ledger(twin, truth)
    end = twin.now
    verdict = judge(
        twin, hooks.payments, inbox, _committed(platform), policy.friendly, end, _days_left, policy.reconnect_at_paise
    )
    summary = {**verdict, **_summary(platform, scenario, twin, report.frames, truth)}
    summary["tokens_accepted_at_meters"] = sum(1 for r in hooks.token_results if r["status"] == 0)
    summary["commands_sent"] = dispatcher.totals.sent
    summary["supply_orders"] = {
        "disconnects": supplied.disconnects,
        "reconnects": supplied.reconnects,
        "permits": supplied.permits,
    }
    console.print(f"[green]{scenario.name}[/green]: {report.intervals} intervals, {report.actions} actions")
    return summary


def _ist(moment: datetime) -> str:
    return f"{moment.astimezone(IST):%d %b %Y %H:%M} IST"


LOG_EVERY = 24
"""Intervals (six hours) between progress lines when the console is not a terminal."""


def _progress_lines(console: Console, scenario: Scenario, began: float, cpu: float) -> Callable[[int], None]:
    """Where there is no terminal for the bar (a long run with its output in a log), a line
    every six simulated hours: how far, how long it took, and when it should end at that pace."""

    def line(n: int) -> None:
        if console.is_terminal or (n % LOG_EVERY and n != scenario.intervals):
            return
        wall = time.monotonic() - began
        left = wall / n * (scenario.intervals - n)
        ends = datetime.now(UTC) + timedelta(seconds=left)
        console.print(
            f"{scenario.name}: interval {n:,} of {scenario.intervals:,} "
            f"({n / scenario.intervals:.0%}), simulated {_ist(scenario.begin + n * INTERVAL)}; "
            f"wall {wall:,.0f} s, CPU {time.process_time() - cpu:,.0f} s; "
            f"at this pace done at {_ist(ends)}"
        )

    return line


def _days_left(balance_paise: int, history: Mapping[date, int], today: date) -> Decimal | None:
    """The platform's days-left forecast (`bijli.prepaid.forecast`), as the API gives it."""
    return days_left(balance_paise, history, today).days


def _handsets(inbox: Inbox, twin: FleetTwin, now: Callable[[], float]) -> Senders:
    """The alert providers of a scenario run: every message lands in the consumer's inbox."""
    kinds = {t.template_id: str(kind) for (kind, _lang), t in templates().items()}
    mobiles = {c.mobile: c.account_no for c in twin.consumers}
    return {
        Channel.SMS: Handset(inbox, Channel.SMS.value, mobiles, kinds, now),
        Channel.EMAIL: Handset(inbox, Channel.EMAIL.value, {}, kinds, now),
        Channel.WEB: Handset(inbox, Channel.WEB.value, None, kinds, now),
    }


def _committed(platform: Platform) -> list[tuple[str, str, str]]:
    """(account no, alert key, channel) of every delivery the platform committed to."""
    return [(acc, f"alert-{aid}", ch) for acc, aid, ch in committed_deliveries(platform.store.engine)]


async def run_over_mqtt(
    platform: Platform | None,
    scenario: Scenario,
    site: SiteKeys,
    address: BrokerAddress,
    root: str,
    tariff_code: str,
    truth: Path,
    console: Console,
) -> dict[str, object]:
    """The scenario's meters publishing to a broker, one connection each (head-end elsewhere)."""
    from bijli.prepaid.tariff import builtin_tariffs

    twin = twin_for(scenario, site, builtin_tariffs()[tariff_code], root)
    if platform is not None:
        _commission_all(platform, twin, scenario.begin)
    write_truth(scenario, twin, truth)
    async with MeterConnections(address, twin.mqtt_password, twin.meter_ids, root) as link:
        console.print(f"{len(twin.meter_ids)} meters connected to {address}")

        async def sink(frames: list[Outgoing]) -> None:
            if link.came_back():
                twin.retry(twin.now)
                frames = frames + twin.take_outgoing()
            undelivered = await link.publish(frames)
            if undelivered:  # the meters keep it and send it again, sealed anew
                twin.undelivered(undelivered)

        report = await run_scenario(scenario, twin, sink, _hooks(platform, twin, site))
    return {
        "scenario": scenario.name,
        "meters": scenario.meters,
        "transformer_meters": len(twin.transformers),
        "intervals": report.intervals,
        "frames_published": report.frames,
        "truth": str(truth),
    }


def _summary(platform: Platform, scenario: Scenario, twin: FleetTwin, frames: int, truth: Path) -> dict[str, object]:
    q = platform.queries
    failovers, redemptions = q.failovers_total(), q.count_token_redemptions()
    return {
        "scenario": scenario.name,
        "meters": scenario.meters,
        "transformer_meters": len(twin.transformers),
        "intervals": scenario.intervals,
        "readings_expected": len(twin.meter_ids) * scenario.intervals,
        "readings_stored": q.count_readings(),
        "readings_rejected": q.count_quarantined(),
        "quarantine": q.quarantine_reasons(),
        "frames": frames,
        "failovers": int(failovers),
        "token_redemptions_stored": int(redemptions),
        "truth": str(truth),
    }
