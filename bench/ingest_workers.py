"""The run's child processes: head-end workers timing each message from arrival to commit,
and what the machine's CPU spends on each of them, the broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from bench import BenchError
from bench.ingest_nats import TimedJetStream
from bench.ingest_store import STALL_S
from bench.ingest_uplink import TimedUplink
from bijli import settings as settings_mod
from bijli.adapters import keyfile
from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.bootstrap import bootstrap
from bijli.headend.ports import Delivery
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SystemClock
from bijli.kernel.heap import settle_heap
from bijli.protocol import topics
from bijli.protocol.keys import SiteKeys

GROUP = "headend"


class TimedMqtt(TimedUplink):
    """The head-end's MQTT uplink, timed: a message arrived when the uplink received it."""

    def __init__(self, address: BrokerAddress, topic_filter: str, client_id: str) -> None:
        self._arrived: dict[Delivery, float] = {}
        super().__init__(
            MqttUplink(address, topic_filter, client_id, asyncio.get_running_loop(), on_arrival=self._note_arrival)
        )

    def _note_arrival(self, delivery: Delivery) -> None:
        self._arrived[delivery] = time.time()

    def arrived(self, delivery: Delivery, now: float) -> float:
        return self._arrived.pop(delivery, now)


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss``, not inherited from the
    parent that forked it, which here holds every frame of the run)."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(*args: Any) -> None:
    """One head-end worker process (the arguments are `_work`'s): ingest until told to stop,
    then report."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_work(*args))


async def _work(
    database_url: str,
    broker_url: str,
    root: str,
    site: SiteKeys,
    index: int,
    ready: Event,
    stop: Event,
    results: Any,
    progress: Any,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # The run's site keys in the worker's data folder: the key ring reads them again there
        # every minute, and a folder of other keys would make every later frame look forged.
        keyfile.save(keyfile.path_in(Path(tmp)), site)
        cfg = settings_mod.build(data_dir=Path(tmp), database_url=database_url, broker_url=broker_url, topic_root=root)
        platform = bootstrap(cfg, migrate=False)
        uplink: TimedUplink
        if broker_url.startswith("nats://"):  # every worker on the one durable consumer
            uplink = TimedJetStream(broker_url, root, f"{GROUP}-{root}")
        else:
            address = BrokerAddress.parse(broker_url)
            uplink = TimedMqtt(address, topics.shared_uplink_filter(root, GROUP), f"bijli-{root}-headend-{index}")
        await uplink.start()
        headend = HeadEnd(platform.store, uplink, platform.ring, root, SystemClock(), name=f"bench/{index}")
        settle_heap()  # as `bijli serve` does
        task = asyncio.create_task(headend.run())
        ready.set()
        while not stop.is_set():
            # What this worker has committed, for the run to wait on without asking the
            # database (a count of `readings` every tenth of a second would load the very
            # server being measured).
            progress.value = headend.totals.readings_stored + headend.totals.readings_replaced
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await uplink.close()
        platform.close()
        results.put(
            {
                "index": index,
                "arrivals": uplink.arrivals,
                "commits": uplink.commits,
                "busy_s": uplink.busy_s,
                "write_s": headend.totals.write_s,
                "readings_settled": headend.totals.readings_settled,
                "readings_stored": headend.totals.readings_stored,
                "batches": headend.totals.batches,
                "errors": headend.totals.errors[:5],
                "rss_mb": _peak_rss_mb(),
            }
        )


def until_committed(progress: Sequence[Any], expected: int) -> int:
    """The readings the workers have committed, once there are `expected` or once they stop
    coming (read from the workers' shared counters, not from the database under test)."""
    last, last_change = -1, time.monotonic()
    while (n := sum(int(p.value) for p in progress)) < expected:
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            break
        time.sleep(0.02)
    return n


class Processes:
    """Child processes of the run (spawned: a fresh interpreter each, like separate services)."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.started: list[Any] = []

    def start(self, target: Any, *args: Any) -> None:
        p = self.ctx.Process(target=target, args=args, daemon=True)
        p.start()
        self.started.append(p)

    def wait_ready(self, events: Sequence[Event], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not all(e.is_set() for e in events):
            if any(p.exitcode is not None for p in self.started):
                raise BenchError(f"{what} exited before getting ready; see the error above")
            if time.monotonic() > deadline:
                raise BenchError(f"{what} did not get ready within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self, stop: Event) -> None:
        stop.set()
        for p in self.started:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self.started.clear()


_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _cpu_s(pids: Iterable[int]) -> float:
    """CPU seconds (user and system) the processes `pids` have used so far."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime and stime, the 14th and 15th fields
    return ticks / _TICKS_PER_S


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass(frozen=True, slots=True)
class CpuMeter:
    """Where the machine's CPU goes during a phase: the run's own process (the publisher),
    each group of child processes, the broker and PostgreSQL."""

    groups: dict[str, list[int]]
    broker: tuple[int, ...] = ()
    """The broker's processes; none: every process named mosquitto."""

    def read(self) -> dict[str, float]:
        return {
            "publisher": time.process_time(),
            **{name: _cpu_s(pids) for name, pids in self.groups.items()},
            "broker": _cpu_s(self.broker or _pids_named("mosquitto")),
            "postgres": _cpu_s(_pids_named("postgres")),
        }

    @staticmethod
    def per_reading_us(before: dict[str, float], after: dict[str, float], readings: int) -> dict[str, float]:
        return {k: (after[k] - before[k]) * 1e6 / max(readings, 1) for k in before}
