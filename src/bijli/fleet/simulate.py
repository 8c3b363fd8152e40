"""A fleet against a real broker: catches up from its start as fast as it can, then goes live."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from rich.console import Console

from bijli.adapters.brokers.mqtt import BrokerAddress
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.fleet.links import MeterConnections
from bijli.fleet.twin import FleetTwin
from bijli.kernel.clock import Clock, SystemClock
from bijli.kernel.time import INTERVAL, INTERVAL_S, IST, epoch, ist_midnight, utc_from_epoch
from bijli.prepaid.tariff import builtin_tariffs
from bijli.settings import Settings


def first_interval(now: datetime, days: float | None, start: date | None) -> datetime:
    """Where a simulation starts: the given day, else `days` back from now, else yesterday."""
    if start is not None:
        return ist_midnight(start)
    back = timedelta(days=days if days is not None else 1)
    moment = epoch(now - back)
    return utc_from_epoch(moment - moment % INTERVAL_S)


async def run_simulation(
    settings: Settings,
    platform: Platform | None,
    *,
    meters: int,
    days: float | None,
    start: date | None,
    console: Console,
    clock: Clock | None = None,
    seed: int = 7,
    paced_by: Callable[[int], Awaitable[None]] | None = None,
) -> dict[str, object]:
    """Publish every interval from the start until `days` are done (or forever, live).

    Intervals already over go out as fast as the broker takes them (or, with `paced_by`, as
    fast as that lets them: it is awaited with the running count of frames published after
    every round); after that each goes out when it ends, so a meter never reports a time that
    has not come.
    """
    from bijli.demo import commission

    clock = clock or SystemClock()
    city = build_city(meters, seed)
    begin = first_interval(clock.now(), days, start)
    if platform is not None:
        commission(platform, city, begin - timedelta(days=1))
    tariff = builtin_tariffs()[settings.tariff_code]
    fleet = FleetTwin(city, [], settings.site_secret, tariff, start=begin, root=settings.topic_root, seed=seed)
    end = None if days is None else begin + timedelta(days=days)
    address = BrokerAddress.parse(settings.broker_url)
    published = intervals = 0
    t = begin
    async with MeterConnections(address, settings.site_secret, [c.meter_id for c in city], settings.topic_root) as link:
        console.print(f"[green]{meters} meters connected[/green] to {address.host}:{address.port}")
        while end is None or t < end:
            due = t + INTERVAL
            wait = (due - clock.now()).total_seconds()
            if wait > 0:  # caught up: never report an interval before it has ended
                await asyncio.sleep(wait)
            fleet.close_interval(t)
            frames = fleet.take_outgoing()
            await link.publish(frames)
            published += len(frames)
            if paced_by is not None:
                await paced_by(published)
            intervals += 1
            if intervals % 96 == 0:
                console.print(f"simulated through {t.astimezone(IST):%Y-%m-%d %H:%M} IST, {published} frames")
            t = due
    return {
        "meters": meters,
        "intervals": intervals,
        "frames_published": published,
        "first_interval": begin.isoformat(),
        "last_interval": (t - INTERVAL).isoformat(),
    }
