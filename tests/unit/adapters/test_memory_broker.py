"""The in-process broker of the headless demo: a backlog is work, not quiet."""

from __future__ import annotations

import asyncio

from bijli.adapters.brokers.memory import MemoryBroker


def test_the_broker_is_not_quiet_while_messages_wait_for_the_head_end() -> None:
    async def scenario() -> tuple[float, float]:
        broker = MemoryBroker()
        await broker.publish("bijli/v1/m/KNCL0000001/up/reading", b"{}")
        await asyncio.sleep(0.05)
        waiting = broker.idle_s()
        batch = await broker.next_batch(10, 0.01)
        await asyncio.sleep(0.05)
        taken = broker.idle_s()
        await broker.ack(batch)
        return waiting, taken

    waiting, taken = asyncio.run(scenario())
    assert waiting == 0.0
    assert taken >= 0.05
