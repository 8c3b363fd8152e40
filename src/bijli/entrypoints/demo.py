"""The headless demo (`bijli demo --headless`): a simulated city of prepaid meters reporting
into the platform as fast as it can."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bijli.access.handlers import add_staff, change_password, staff_members
from bijli.access.model import Role
from bijli.access.secrets import verify_password
from bijli.adapters.brokers.memory import MemoryBroker
from bijli.bootstrap import Platform
from bijli.fleet.city import Consumer, build_city
from bijli.fleet.commissioning import commission_city
from bijli.fleet.twin import FleetTwin
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, IST, ist_midnight
from bijli.kernel.units import format_rupees
from bijli.prepaid.handlers import record_recharge

RECHARGE_EVERY = 10
"""In the demo every tenth consumer recharges Rs 500 at noon on each day after the first."""
RECHARGE_PAISE = 50_000
REPORT_DELAY = timedelta(seconds=20)
"""Meters send an interval's reading a little after it ends."""


def default_start(days: int, today: date | None = None) -> date:
    """The first day of a `days`-long run that ends at the start of today (IST)."""
    today = today or datetime.now(IST).date()
    return today - timedelta(days=days)


async def run_headless(platform: Platform, meters: int, days: int, start: date, seed: int = 7) -> dict[str, object]:
    """Simulate `days` days of `meters` meters as fast as possible; the summary is read back."""
    city = build_city(meters, seed)
    begin = ist_midnight(start)
    commission_city(platform.store, platform.settings.tariff_code, city, begin)
    tariff = platform.store.tariffs[platform.settings.tariff_code]
    fleet = FleetTwin(
        city, [], platform.settings.site_keys, tariff, start=begin, root=platform.settings.topic_root, seed=seed
    )
    broker = MemoryBroker()
    clock = SimulatedClock(begin)
    headend = HeadEnd(platform.store, broker, platform.ring, platform.settings.topic_root, clock)
    task = asyncio.create_task(headend.run())
    try:
        for n in range(days * INTERVALS_PER_DAY):
            interval_start = begin + n * INTERVAL
            clock.set(interval_start + INTERVAL + REPORT_DELAY)
            fleet.close_interval(interval_start)
            for out in fleet.take_outgoing():
                await broker.publish(out.topic, out.payload)
            if n % INTERVALS_PER_DAY == INTERVALS_PER_DAY // 2 and n >= INTERVALS_PER_DAY:
                await broker.drain()
                await headend.settle_all()
                _noon_recharges(platform, fleet, city, interval_start, clock.now())
            if task.done():
                task.result()
        await broker.drain()
        await headend.settle_all()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return summary(platform, meters, days)


def _noon_recharges(
    platform: Platform, fleet: FleetTwin, city: Sequence[Consumer], at: datetime, now: datetime
) -> None:
    day = at.astimezone(IST).date().isoformat()
    for i in range(0, len(city), RECHARGE_EVERY):
        c = city[i]
        record_recharge(platform.store, c.account_no, RECHARGE_PAISE, f"DEMO-{c.account_no}-{day}", now)
        fleet.credit(i, RECHARGE_PAISE, now.timestamp())


def summary(platform: Platform, meters: int, days: int) -> dict[str, object]:
    """The headless demo's closing figures, every one read back from the store."""
    q = platform.queries
    money = q.money_totals()
    return {
        "meters": q.count_meters(),
        "intervals_expected": meters * days * INTERVALS_PER_DAY,
        "readings_stored": q.count_readings(),
        "readings_rejected": q.count_quarantined(),
        "balance_total_start": format_rupees(money.balance_start_paise),
        "recharges_total": format_rupees(money.recharges_paise),
        "charges_total": format_rupees(money.charges_paise),
        "balance_total_end": format_rupees(money.balance_end_paise),
    }


DEMO_OPERATOR = "demo-operator"
PASSWORD_FILE = "demo-operator.password"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoLogins:
    """How to log in to a demo: an operator's password (made for its data folder) and a consumer's mobile."""

    operator: str
    password: str
    consumer_mobile: str


def demo_logins(platform: Platform, now: datetime) -> DemoLogins:
    """The demo operator (added on the first run, with a password made for this data folder and
    kept in it, readable by its owner only) and the first consumer's mobile number."""
    path = platform.settings.data_dir / PASSWORD_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(12) + "\n")
    password = path.read_text().strip()
    known = {m.username: m for m in staff_members(platform.store)}
    if DEMO_OPERATOR not in known:
        add_staff(platform.store, DEMO_OPERATOR, Role.OPERATOR, password, now)
    elif not verify_password(known[DEMO_OPERATOR].password_hash, password):
        change_password(platform.store, DEMO_OPERATOR, password)
    return DemoLogins(operator=DEMO_OPERATOR, password=password, consumer_mobile=build_city(1)[0].mobile)
