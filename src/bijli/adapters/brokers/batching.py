"""Gathering a batch from a queue: wait for the first message, then take more for a while."""

from __future__ import annotations

import asyncio

from bijli.headend.ports import Delivery


async def gather(queue: asyncio.Queue[Delivery], max_messages: int, max_wait_s: float) -> list[Delivery]:
    """At least one delivery, then whatever else arrives within `max_wait_s`."""
    batch = [await queue.get()]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_s
    while len(batch) < max_messages:
        if queue.empty():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        else:
            batch.append(queue.get_nowait())
    return batch
