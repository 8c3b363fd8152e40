"""The head-end loop over a real SQLite store: a message the store cannot take is set aside."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bijli.adapters.brokers.memory import MemoryBroker
from bijli.fleet.city import build_city
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SimulatedClock
from tests.support.frames import reading
from tests.support.sites import commissioned_platform

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def test_one_message_the_store_refuses_does_not_hold_up_the_rest(tmp_path: Path) -> None:
    platform = commissioned_platform(tmp_path, build_city(2), START - timedelta(days=1))
    with platform.store.engine.begin() as conn:  # the store turns down one particular reading
        conn.execute(
            sa.text(
                "CREATE TRIGGER refuse_666 BEFORE INSERT ON readings WHEN NEW.import_wh = 666 "
                "BEGIN SELECT RAISE(ABORT, 'refused by the store'); END"
            )
        )
    secret = platform.settings.site_keys
    frames = [
        reading(secret, "KNCL0000001", 1, START, wh=100, total=1_000_100),
        reading(secret, "KNCL0000001", 2, START + timedelta(minutes=15), wh=666, total=1_000_766),
        reading(secret, "KNMR0000001", 1, START, wh=90, total=2_000_090),
    ]

    async def scenario() -> HeadEnd:
        broker = MemoryBroker()
        headend = HeadEnd(platform.store, broker, platform.ring, "bijli", SimulatedClock(START + timedelta(hours=1)))
        task = asyncio.create_task(headend.run())
        for topic, payload in frames:
            await broker.publish(topic, payload)
        await asyncio.wait_for(broker.drain(), timeout=30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return headend

    headend = asyncio.run(scenario())

    assert headend.totals.readings_stored == 2
    assert platform.queries.count_readings() == 2
    assert platform.queries.quarantine_reasons() == {"unprocessable": 1}
    platform.store.dispose()
