"""Alerts as facts: what is raised, on which channels it goes out, and the rules of a
delivery's life (claimed under a lease, retried with backoff, then a final state).

Pure: no I/O. An alert is raised in the transaction of the fact that causes it (the outbox),
keyed by `fact_key` so one fact raised twice is one alert; each channel's delivery then moves
``pending -> sending (leased) -> sent | failed`` (``failed`` after the last attempt, with the
reason), or is ``skipped`` from the start where the consumer has no address on that channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final


class Channel(StrEnum):
    """Where an alert goes: a text message, an e-mail, the consumer page's live feed."""

    SMS = "sms"
    EMAIL = "email"
    WEB = "web"


CHANNELS: Final = (Channel.SMS, Channel.EMAIL, Channel.WEB)


class AlertKind(StrEnum):
    """What an alert tells, with the facts each kind carries.

    - ``low_balance``: ``level_pct``, ``balance_paise``, ``days_left`` (optional, days as text)
    - ``disconnect_notice``: ``balance_paise``, ``cut_after`` (epoch seconds)
    - ``disconnected``: ``balance_paise`` (optional)
    - ``reconnected``: ``balance_paise`` (optional)
    - ``payment_received``: ``payment_id``, ``amount_paise``, ``balance_paise``
    - ``tamper_reported``: ``case_id``, ``meter_id``, ``what_en``, ``what_hi`` (what the meter
      reported, in words)
    - ``case_opened`` (to field staff): ``case_id``, ``subject_id``, ``case_kind``, ``severity``,
      ``place``, ``path`` (the case's page), ``what_en``, ``what_hi``
    - ``case_assigned`` (to the assignee): the same facts as ``case_opened``
    """

    LOW_BALANCE = "low_balance"
    DISCONNECT_NOTICE = "disconnect_notice"
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    PAYMENT_RECEIVED = "payment_received"
    TAMPER_REPORTED = "tamper_reported"
    CASE_OPENED = "case_opened"
    CASE_ASSIGNED = "case_assigned"


STAFF_KINDS: Final = frozenset({AlertKind.CASE_OPENED, AlertKind.CASE_ASSIGNED})
"""The kinds that go to staff members (SMS and e-mail; no consumer page to feed)."""

WARNINGS: Final = frozenset({AlertKind.LOW_BALANCE, AlertKind.DISCONNECT_NOTICE})
"""The kinds that count as a warning for the rule "no cut without warning"."""


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


FINAL: Final = frozenset({DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.SKIPPED})

Fact = int | str


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An alert to raise: `fact_key` is unique per fact (e.g. ``low_balance:10:<recharge ref>``).

    It is for an account's consumer (`account_no`) or for a staff member (`staff`, a user name):
    one of the two."""

    account_no: str | None = None
    staff: str | None = None
    kind: AlertKind
    fact_key: str
    facts: Mapping[str, Fact] = field(default_factory=dict)
    raised_at: datetime

    def __post_init__(self) -> None:
        if (self.account_no is None) == (self.staff is None):
            raise ValueError(f"alert {self.fact_key}: for an account or for a staff member, one of the two")


@dataclass(frozen=True, slots=True, kw_only=True)
class RaisedAlert:
    """An alert the outbox wrote now, with the id the store gave it and its channels' first states."""

    alert_id: int
    account_no: str | None
    kind: AlertKind
    fact_key: str
    channels: Mapping[Channel, DeliveryState]
    staff: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SentWarning:
    """A warning delivered on one channel (what the cut rule counts)."""

    alert_id: int
    kind: AlertKind
    channel: Channel
    sent_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Addresses:
    """Where a consumer (or a staff member) can be reached, and in which language."""

    mobile: str | None
    email: str | None
    language: str
    web: bool = True
    """A consumer page's live feed (staff follow the cases' live stream instead)."""


def first_states(to: Addresses) -> dict[Channel, DeliveryState]:
    """Each channel's first state: pending where the consumer has an address (the web feed
    always, for a consumer), skipped where not."""
    return {
        Channel.SMS: DeliveryState.PENDING if to.mobile else DeliveryState.SKIPPED,
        Channel.EMAIL: DeliveryState.PENDING if to.email else DeliveryState.SKIPPED,
        Channel.WEB: DeliveryState.PENDING if to.web else DeliveryState.SKIPPED,
    }


# --------------------------------------------------------------------------- delivery

MAX_ATTEMPTS: Final = 8
"""Tries per channel before the delivery is `failed` for good (about 2 h of retries)."""
FIRST_RETRY: Final = timedelta(seconds=30)
LONGEST_RETRY: Final = timedelta(minutes=30)
LEASE: Final = timedelta(seconds=120)
"""How long a worker holds the deliveries it claimed: one that dies leaves them to be
claimed again once the lease ends."""
SEND_MARGIN: Final = timedelta(seconds=30)
"""A worker sends nothing later than this before its lease ends (a slow worker never races
the next one for the same delivery)."""


@dataclass(frozen=True, slots=True)
class Retries:
    """How a worker retries and how long it holds what it claimed (the defaults for a site;
    tests and trials shorten them)."""

    first: timedelta = FIRST_RETRY
    longest: timedelta = LONGEST_RETRY
    lease: timedelta = LEASE
    margin: timedelta = SEND_MARGIN


SITE_RETRIES: Final = Retries()


def retry_at(attempts: int, now: datetime, retries: Retries = SITE_RETRIES) -> datetime:
    """When to try again after `attempts` failed tries: doubling from `first` (30 s), at most
    `longest` (30 min)."""
    wait = retries.first * (1 << min(max(attempts, 1) - 1, 16))
    return now + min(wait, retries.longest)


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """A delivery a worker claimed: what it needs to build and send the message."""

    alert_id: int
    channel: Channel
    attempts: int
    """Tries including this one."""
    account_no: str | None
    kind: AlertKind
    facts: Mapping[str, Fact]
    language: str
    raised_at: datetime
    to: str | None
    """The address on this channel now (None: the consumer has none any more)."""
    staff: str | None = None


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """What became of one claimed delivery."""

    alert_id: int
    channel: Channel
    attempts: int
    outcome: Outcome
    at: datetime
    next_try_at: datetime | None = None
    error: str = ""
    provider_ref: str | None = None


def after_failure(due: Due, error: str, final: bool, now: datetime, retries: Retries = SITE_RETRIES) -> Result:
    """A failed try: retried later with backoff, or `failed` for good when the provider said
    it never will take it or the attempts are used up."""
    if final or due.attempts >= MAX_ATTEMPTS:
        reason = error if final else f"gave up after {due.attempts} attempts: {error}"
        return Result(
            alert_id=due.alert_id,
            channel=due.channel,
            attempts=due.attempts,
            outcome=Outcome.FAILED,
            at=now,
            error=reason[:256],
        )
    return Result(
        alert_id=due.alert_id,
        channel=due.channel,
        attempts=due.attempts,
        outcome=Outcome.RETRY,
        at=now,
        next_try_at=retry_at(due.attempts, now, retries),
        error=error[:256],
    )


def message_id(alert_id: int, channel: Channel) -> str:
    """The message's id, the same on every try: the SMS gateway's client reference, the local
    part of the e-mail's Message-ID, the live feed's event id."""
    return f"bijli-alert-{alert_id}-{channel.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One channel's delivery of an alert, as it stands."""

    channel: Channel
    state: DeliveryState
    attempts: int
    sent_at: datetime | None
    last_error: str
    next_try_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    """A raised alert with its deliveries (what the API and the consumer page list)."""

    alert_id: int
    account_no: str | None
    kind: AlertKind
    fact_key: str
    facts: Mapping[str, Fact]
    language: str
    raised_at: datetime
    deliveries: tuple[Delivery, ...]
    staff: str | None = None
