"""Waiting out an outage of the store: a loop that cannot reach it tries the same work again,
with backoff, until it can; each wait and the end of the outage are logged in one line."""

from __future__ import annotations

import asyncio
import logging
import time

from bijli.kernel.unit import Backoff, StoreUnavailable


class StoreOutage:
    """One loop's view of the store being unavailable: how long it has lasted, how long to wait next."""

    def __init__(self, what: str, backoff: Backoff, log: logging.Logger) -> None:
        self.what = what
        self.backoff = backoff
        self.log = log
        self.attempts = 0
        self._began = 0.0

    @property
    def ongoing(self) -> bool:
        return self.attempts > 0

    async def wait(self, error: StoreUnavailable) -> None:
        """Wait before the next try (the error says only what the driver said, no SQL or secrets)."""
        self.attempts += 1
        if self.attempts == 1:
            self._began = time.monotonic()
        delay = self.backoff.delay(self.attempts)
        self.log.warning(
            "store unavailable (%s); %s; try %d failed, trying again in %.1f s", error, self.what, self.attempts, delay
        )
        await asyncio.sleep(delay)

    def over(self) -> None:
        """The store answered: say so if it had not."""
        if self.attempts:
            self.log.warning(
                "store available again after %.1f s (%d tries); %s",
                time.monotonic() - self._began,
                self.attempts,
                "carrying on",
            )
        self.attempts = 0
