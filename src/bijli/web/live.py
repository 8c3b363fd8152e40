"""Server-sent event streams, as every live route sends them: the client's retry delay, then
what a poll finds, round after round, until the response has stayed open its while (the
browser's EventSource then reconnects, sending the last event id it saw)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from fastapi.responses import StreamingResponse


def resume_after(last_event_id: str | None, after: int) -> int:
    """Where a stream starts: after the `Last-Event-ID` a reconnecting client sends, else `after`."""
    return int(last_event_id) if last_event_id is not None and last_event_id.isdigit() else after


def sse(event: str, data: object, event_id: int | None = None) -> str:
    """One server-sent event, its data as JSON (non-ASCII kept as it is)."""
    head = "" if event_id is None else f"id: {event_id}\n"
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(poll: Callable[[], list[str]], poll_s: float, wait_s: float) -> StreamingResponse:
    """A response of server-sent events that stays open `wait_s` seconds: the events `poll`
    returns (run off the event loop, as it queries), asked again every `poll_s` seconds."""

    async def events() -> AsyncIterator[str]:
        yield f"retry: {int(poll_s * 1000)}\n\n"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            for event in await asyncio.to_thread(poll):
                yield event
            if loop.time() >= deadline:
                return
            await asyncio.sleep(min(poll_s, max(0.0, deadline - loop.time())))

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
