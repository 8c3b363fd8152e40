"""A fleet against a real broker: catches up from its start as fast as it can, then goes live."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

import uvicorn
from rich.console import Console

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.fleet.city import transformer_meters as transformer_meters_of
from bijli.fleet.commissioning import commission_city
from bijli.fleet.links import MeterConnections
from bijli.fleet.twin import FleetTwin
from bijli.kernel.clock import Clock, SystemClock
from bijli.kernel.time import INTERVAL, INTERVAL_S, IST, epoch, ist_midnight, utc_from_epoch
from bijli.prepaid.tariff import builtin_tariffs
from bijli.settings import Settings

TICK_S = 0.5
"""How often a live fleet sends what its meters have to say between interval boundaries."""


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
    hotspot_port: int | None = None,
    transformer_meters: bool = False,
) -> dict[str, object]:
    """Publish every interval from the start until `days` are done (or forever, live).

    Intervals already over go out as fast as the broker takes them (or, with `paced_by`, as
    fast as that lets them: it is awaited with the running count of frames published after
    every round); after that each goes out when it ends, so a meter never reports a time that
    has not come. Meters obey commands on their downlink; with `hotspot_port` their hotspots
    answer on http://127.0.0.1:PORT/meters/{meter_id}/… (see `bijli meter`).
    """
    clock = clock or SystemClock()
    city = build_city(meters, seed)
    transformers = transformer_meters_of(city) if transformer_meters else []
    begin = first_interval(clock.now(), days, start)
    if platform is not None:
        commission_city(platform.store, platform.settings.tariff_code, city, begin, transformers)
    tariff = builtin_tariffs()[settings.tariff_code]
    twin = FleetTwin(city, transformers, settings.site_keys, tariff, start=begin, root=settings.topic_root, seed=seed)
    end = None if days is None else begin + timedelta(days=days)
    address = settings.meters_broker_address()
    published = intervals = 0
    live = False

    def twin_now() -> float:
        # While catching up the twin's own time rules; once live it follows the wall clock.
        return max(twin.now, clock.now().timestamp()) if live else twin.now

    def on_command(meter_id: str, payload: bytes) -> None:
        twin.command(meter_id, payload, twin_now())

    hotspot = await _start_hotspot(twin, twin_now, hotspot_port, console) if hotspot_port else None
    t = begin
    try:
        async with MeterConnections(
            address, twin.mqtt_password, twin.meter_ids, settings.topic_root, on_command=on_command
        ) as link:
            console.print(f"[green]{link.connected} meters connected[/green] to {address}")
            while end is None or t < end:
                due = t + INTERVAL
                # Caught up: never report an interval before it has ended. Meanwhile whatever the
                # meters send on their own (events, token reports, command answers) goes at once.
                while (wait := (due - clock.now()).total_seconds()) > 0:
                    live = True
                    published += await _deliver(twin, link)
                    await asyncio.sleep(min(wait, TICK_S))
                twin.close_interval(t)
                published += await _deliver(twin, link)
                if paced_by is not None:
                    await paced_by(published)
                intervals += 1
                if intervals % 96 == 0:
                    console.print(f"simulated through {t.astimezone(IST):%Y-%m-%d %H:%M} IST, {published} frames")
                t = due
            published += await _deliver(twin, link)
    finally:
        if hotspot is not None:
            hotspot.should_exit = True
    return {
        "meters": meters,
        "transformer_meters": len(transformers),
        "intervals": intervals,
        "frames_published": published,
        "frames_waiting": sum(len(b.intervals) for b in twin.backlog.values()),
        "first_interval": begin.isoformat(),
        "last_interval": (t - INTERVAL).isoformat(),
    }


async def _deliver(twin: FleetTwin, link: MeterConnections) -> int:
    """Send what the meters have; what the broker did not take stays with them for later."""
    if link.came_back():
        twin.retry(twin.now)
    frames = twin.take_outgoing()
    undelivered = await link.publish(frames)
    if undelivered:
        twin.undelivered(undelivered)
    return len(frames) - len(undelivered)


async def _start_hotspot(twin: FleetTwin, now: Callable[[], float], port: int, console: Console) -> uvicorn.Server:
    """The meters' hotspots, one local web server for all of them."""
    from bijli.meter.hotspot import hotspot_app

    server = uvicorn.Server(
        uvicorn.Config(
            hotspot_app(twin, now), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if task.done():
        task.result()
    console.print(f"meter hotspots on http://127.0.0.1:{port}/meters/{{meter_id}}/hotspot")
    return server
