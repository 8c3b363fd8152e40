"""What the network area needs from a store, as repositories of one unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from bijli.network.outages import Failure, Link, Outage, Place, StoredOutage


class OutageBook(Protocol):
    """The outages found, and the facts they are found from."""

    def power_failures(self, since: datetime, until: datetime | None = None) -> list[Failure]:
        """Meters' losses of supply (last gasp to restoration) that began in [since, until]."""
        ...

    def places(self, meter_ids: Iterable[str]) -> dict[str, Place]:
        """Where these meters hang (unknown meters left out)."""
        ...

    def meters_on(self) -> dict[str, int]:
        """Meters in service on each transformer, and transformers on each feeder (by their ids)."""
        ...

    def links(self) -> list[Link]:
        """Every meter in service with its connection as the head-end last knew it."""
        ...

    def recent(self, since: datetime) -> list[StoredOutage]:
        """Outages still open, and those that began since `since`."""
        ...

    def spanning(self, at: datetime) -> list[Outage]:
        """Outages going on at `at` (give or take `GATHER`)."""
        ...

    def save(self, outages: Sequence[StoredOutage], now: datetime) -> None:
        """Insert those without an id, update the others."""
        ...

    def drop(self, outage_ids: Sequence[int]) -> None:
        """Forget outages another one took over."""
        ...


class OutageUnit(Protocol):
    @property
    def outages(self) -> OutageBook: ...
