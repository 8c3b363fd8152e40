"""What alerts need from a store and from the providers that carry them.

`Outbox` is what an area that raises alerts uses, in its own unit of work (`uow.alerts`):
`raise_alerts` writes the alerts with the fact, `warnings_sent` tells the cut rule what has
gone out. `DeliveryQueue` is the delivery worker's side, `AlertHistory` the listing's.
The SQL store implements all three in one repository (`adapters/db/alerts.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bijli.alerts.model import Alert, AlertRecord, Channel, Due, RaisedAlert, Result, SentWarning


class Outbox(Protocol):
    def raise_alerts(self, alerts: Sequence[Alert], now: datetime) -> list[RaisedAlert]:
        """Write each alert (one whose `fact_key` is stored already is left alone) and one
        delivery per channel (pending where the consumer has an address, skipped where not),
        in the caller's transaction, in the consumer's language. The alerts written now."""
        ...

    def warnings_sent(self, account_nos: Sequence[str], since: datetime) -> dict[str, list[SentWarning]]:
        """Per account, the warnings (`WARNINGS` kinds) sent on any channel at or after `since`,
        oldest first (an account with none is absent)."""
        ...

    def balances(self, account_nos: Sequence[str]) -> dict[str, int]:
        """Each account's balance now in paise (the ledger and its running days), for an
        alert's facts."""
        ...


class DeliveryQueue(Protocol):
    def claim(self, now: datetime, limit: int, channels: Sequence[Channel], lease: timedelta) -> list[Due]:
        """Take up to `limit` deliveries on `channels` due by `now` (pending and due, or leased
        by a worker whose lease has ended) under a lease until `now + lease`, counting the
        attempt; other workers skip them."""
        ...

    def finish(self, results: Sequence[Result]) -> int:
        """Record what became of claimed deliveries; a result for a delivery that another
        worker has claimed since (its attempt count moved on) is ignored. How many applied."""
        ...


class AlertHistory(Protocol):
    def of_account(self, account_no: str, limit: int, offset: int) -> list[AlertRecord]:
        """The account's alerts, newest first, with each channel's delivery."""
        ...

    def feed(self, account_no: str, after_id: int, limit: int) -> list[AlertRecord]:
        """The account's alerts already on its web live feed (web delivery sent) with an id
        above `after_id`, oldest first."""
        ...


class AlertsRepository(Outbox, DeliveryQueue, AlertHistory, Protocol):
    """The whole alerts table group."""


class OutboxUnit(Protocol):
    """A unit of work that can raise alerts."""

    @property
    def alerts(self) -> Outbox: ...


class AlertsUnit(Protocol):
    @property
    def alerts(self) -> AlertsRepository: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One alert as one channel carries it; `message_id` is the same on every try."""

    alert_id: int
    channel: Channel
    message_id: str
    to: str
    language: str
    template_id: str
    """The registered DLT template the SMS text follows."""
    subject: str
    text: str


class SendFailed(RuntimeError):
    """A provider did not take a message. `final`: it never will (a refused number or
    address, a template it does not know), so trying again is pointless."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


class Sender(Protocol):
    """A channel's provider: takes one message, or raises `SendFailed`; its reference back."""

    def send(self, message: Message) -> str: ...


Senders = Mapping[Channel, Sender]
