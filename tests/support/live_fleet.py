"""Twin meters live over a real broker, each on its own MQTT connection, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bijli.adapters.brokers.address import BrokerAddress
from bijli.bootstrap import Platform
from bijli.fleet.city import Consumer
from bijli.fleet.links import MeterConnections
from bijli.fleet.twin import FleetTwin, TwinOptions
from bijli.kernel.time import INTERVAL_S, utc_from_epoch
from bijli.prepaid.tariff import builtin_tariffs
from tests.support.sites import commissioned_platform

T = TypeVar("T")


def live_platform(
    data_dir: Path, city: Sequence[Consumer], pg_url: str, broker_url: str, root: str, new_site: bool = True
) -> Platform:
    """The platform a test keeps beside `bijli serve`: the site in `data_dir`, its store in
    PostgreSQL at `pg_url`, the broker at `broker_url` under topic `root`, `city` in service
    since a day ago."""
    installed = datetime.now(UTC) - timedelta(days=1)
    return commissioned_platform(
        data_dir, city, installed, database_url=pg_url, broker_url=broker_url, topic_root=root, new_site=new_site
    )


def site_twin(platform: Platform, city: Sequence[Consumer], root: str, now: float) -> FleetTwin:
    """`city`'s meters as twins holding the site's keys, on its tariff, under topic `root`,
    their clocks without drift, from the start of the interval `now` (epoch seconds) falls in."""
    return FleetTwin(
        city,
        [],
        platform.settings.site_keys,
        builtin_tariffs()[platform.settings.tariff_code],
        start=utc_from_epoch(int(now) - int(now) % INTERVAL_S),
        root=root,
        options=TwinOptions(drift_ppm=0),
    )


class LiveFleet:
    """The twin's meters on their own MQTT connections, on an event loop in a thread of its own,
    reporting as they go, their time read from `clock` (the wall clock unless told). A command
    reaches a meter only while it has a network."""

    def __init__(self, twin: FleetTwin, broker_url: str, root: str, clock: Callable[[], float] = time.time) -> None:
        self.twin = twin
        self.clock = clock
        self.lost_commands: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stop = asyncio.Event()
        self._link = MeterConnections(
            BrokerAddress.parse(broker_url), twin.mqtt_password, twin.meter_ids, root, on_command=self._command
        )
        self._run(self._link.__aenter__())
        self._pump = asyncio.run_coroutine_threadsafe(self._report(), self._loop)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def do(self, change: Callable[[FleetTwin], T]) -> T:
        """Change the meters' world, on the fleet's own thread."""

        async def run() -> T:
            return change(self.twin)

        return self._run(run())

    def _command(self, meter_id: str, payload: bytes) -> None:
        if not self.twin.online[self.twin.index[meter_id]]:
            self.lost_commands.append(meter_id)  # no network: it never reaches the meter
            return
        self.twin.command(meter_id, payload, max(self.twin.now, self.clock()))

    async def _report(self) -> None:
        while not self._stop.is_set():
            self.twin.advance(max(self.twin.now, self.clock()))
            frames = self.twin.take_outgoing()
            undelivered = await self._link.publish(frames)
            if undelivered:
                self.twin.undelivered(undelivered)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._pump.result(timeout=30)
        self._run(self._link.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
