"""The unit of work: what a use case gets from a store."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

U_co = TypeVar("U_co", covariant=True)


class Transactions(Protocol[U_co]):
    """A store that opens units of work: each commits when its block ends, or rolls back
    entirely on an exception. `U_co` says which repositories the use case needs."""

    def transaction(self) -> AbstractContextManager[U_co]: ...


class StoreUnavailable(RuntimeError):
    """The store does not answer (down, unreachable, or not there at all)."""
