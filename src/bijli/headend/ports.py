"""What the head-end needs from a broker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the broker handed it over; `token` is what acknowledges it."""

    topic: str
    payload: bytes
    token: object = None


class Uplink(Protocol):
    """Meters' messages, in batches, acknowledged only once they are safely stored."""

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        """Wait for at least one message, then gather more until the first has waited `max_wait_s`."""
        ...

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Tell the broker these are stored; until then it will deliver them again."""
        ...

    def waiting(self) -> int:
        """How many messages have arrived and wait for `next_batch`."""
        ...

    def idle_s(self) -> float:
        """Seconds since the last message arrived; 0 while messages wait for a batch (a
        backlog is work, however long ago it arrived)."""
        ...

    async def close(self) -> None: ...


class BrokerDown(RuntimeError):
    """The broker cannot be reached."""
