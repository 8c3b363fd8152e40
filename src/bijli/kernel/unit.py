"""The unit of work: what a use case gets from a store."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar

U_co = TypeVar("U_co", covariant=True)


class Transactions(Protocol[U_co]):
    """A store that opens units of work: each commits when its block ends, or rolls back
    entirely on an exception. `U_co` says which repositories the use case needs."""

    def transaction(self) -> AbstractContextManager[U_co]: ...


class StoreUnavailable(RuntimeError):
    """The store does not answer (down, unreachable, or not there at all)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a loop waits before trying an unavailable store again: doubling from
    `first_s`, never longer than `most_s`, for as long as the outage lasts."""

    first_s: float = 0.5
    most_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """The wait after the `attempt`-th failed try in a row (1, 2, ...)."""
        return min(self.most_s, self.first_s * float(2 ** min(max(attempt, 1) - 1, 32)))
