"""What taking payments and reconciling them needs from a store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bijli.alerts.ports import Outbox
from bijli.headend.ports import Commands, MeterKeys, MeterStatuses
from bijli.kernel.units import Paise
from bijli.payments.model import IssuedToken, Item, OpenedItem, Payment, PaymentEvent, Reported
from bijli.payments.tracker import StoredPayment
from bijli.prepaid.ports import Ledger
from bijli.prepaid.tariff import Tariff


@dataclass(frozen=True, slots=True, kw_only=True)
class PayingAccount:
    """What a payment needs to know of the account it is for."""

    account_no: str
    meter_id: str | None
    """The meter installed on the account (None: none now; the credit waits in the ledger)."""
    arrears_paise: Paise = 0
    """Arrears outstanding (positive), recovered from recharges by `arrears_share_pct`."""
    arrears_share_pct: int = 0
    closed: bool = False
    """Closed with its final settlement: it takes no more payments."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorFacts:
    """A meter's newest reported credit and what the ledger holds for its account."""

    meter_id: str
    account_no: str
    status_fc: int
    mirror_paise: Paise
    balance_paise: Paise
    in_flight_paise: Paise
    sanctioned_load_w: int
    tariff: Tariff
    reported_at: datetime
    drifted_before: bool = False
    """Whether the meter's previous status report drifted beyond the tolerance too."""


class Payments(Protocol):
    def get(self, payment_id: str) -> Payment | None:
        """The payment stored under this id, held until the unit of work ends."""
        ...

    def save(self, payment: Payment, event: PaymentEvent, now: datetime) -> None:
        """Store the payment in its new state (insert or update), stamping the state's time."""
        ...

    def record_event(self, event: PaymentEvent | None, outcome: str, reason: str, body: bytes, now: datetime) -> None:
        """Keep a webhook call for audit: applied, nothing (a repeat) or refused, with why."""
        ...

    def account(self, account_no: str) -> PayingAccount | None:
        """The account a payment is for (None: no such account)."""
        ...


class TokenRegister(Protocol):
    def ids_from(self, meter_id: str, first_id: int) -> set[int]:
        """The ids at or above `first_id` already issued to this meter (held: no other payment
        takes an id for it until the unit of work ends)."""
        ...

    def add(self, token: IssuedToken) -> None: ...

    def of_payment(self, payment_id: str) -> list[IssuedToken]: ...

    def cancel(self, payment_id: str) -> list[IssuedToken]:
        """Cancel the payment's tokens the meter has not taken; those cancelled."""
        ...

    def find(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], IssuedToken]:
        """The register's lines for these (meter, token id), where issued."""
        ...

    def mark_redeemed(self, reported: Sequence[Reported], now: datetime) -> None:
        """The meter took these tokens (issued, or counted undelivered until now)."""
        ...

    def mark_undelivered(self, issued_before: datetime) -> list[IssuedToken]:
        """Tokens still issued from before `issued_before` become undelivered; those."""
        ...


class Redemptions(Protocol):
    def unmatched(self, limit: int) -> list[Reported]:
        """Tokens meters reported taking that reconciliation has not looked at yet, held."""
        ...

    def mark_matched(self, keys: Sequence[tuple[str, int]], now: datetime) -> None: ...


class Mirrors(Protocol):
    def unchecked(self, limit: int) -> list[MirrorFacts]:
        """Meters whose newest status report has not been compared with the ledger yet."""
        ...

    def mark_checked(self, checked: Mapping[str, tuple[int, int | None]], now: datetime) -> None:
        """Record that each meter's status report (by its frame counter) has been compared, with
        its drift if beyond the tolerance (None: it agreed)."""
        ...


class Reconciliation(Protocol):
    def open(self, items: Sequence[Item], now: datetime) -> None: ...

    def resolve_tokens(self, kind: str, keys: Sequence[tuple[str, int]], now: datetime) -> None:
        """Resolve the open items of `kind` about these (meter, token id)."""
        ...

    def drifting(self, items: Sequence[Item], steady: Sequence[str], now: datetime) -> None:
        """Open (or bring up to date) a drift item for each of `items`' meters, and resolve the
        open drift items of the `steady` meters."""
        ...

    def listed(self, state: str, limit: int, offset: int) -> list[OpenedItem]:
        """Items newest first; `state`: ``open``, ``resolved`` or ``all``."""
        ...


class PaymentUnit(Protocol):
    """What taking a payment reads and writes, in one transaction."""

    @property
    def payments(self) -> Payments: ...
    @property
    def token_register(self) -> TokenRegister: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def commands(self) -> Commands: ...
    @property
    def registry(self) -> MeterStatuses: ...
    @property
    def meter_keys(self) -> MeterKeys: ...
    @property
    def alerts(self) -> Outbox: ...


class ItemsUnit(Protocol):
    @property
    def reconciliation(self) -> Reconciliation: ...


class ReconcileUnit(Protocol):
    """What a reconciliation round reads and writes."""

    @property
    def token_register(self) -> TokenRegister: ...
    @property
    def redemptions(self) -> Redemptions: ...
    @property
    def mirrors(self) -> Mirrors: ...
    @property
    def reconciliation(self) -> Reconciliation: ...


class PaymentTrails(Protocol):
    """What the payment tracker reads beside the token register and the commands."""

    def of(self, payment_id: str) -> StoredPayment | None:
        """The payment with its times, the meter installed on its account now, that meter's
        relay and the account's balance now."""
        ...

    def taken(self, meter_id: str, token_ids: Sequence[int]) -> datetime | None:
        """When bijli first heard that the meter took one of these tokens (None: not yet)."""
        ...

    def relay_events(self, meter_id: str, moment: datetime, since: datetime) -> list[tuple[int, datetime]]:
        """The meter's load-switch events (code, when): its last from `since` up to `moment`,
        and every one after, oldest first."""
        ...


class TrackUnit(Protocol):
    @property
    def trails(self) -> PaymentTrails: ...
    @property
    def token_register(self) -> TokenRegister: ...
    @property
    def commands(self) -> Commands: ...
