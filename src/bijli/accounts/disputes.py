"""A household disputes a day's charge: the day's figures go with it as evidence, and the
utility answers within seven days. Pure rules, the repository it needs, and its use cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal, Protocol

from bijli.kernel.unit import Transactions

ANSWER_WITHIN: Final = timedelta(days=7)
"""The utility's promise: every dispute answered within a week of being raised."""
MAX_TEXT: Final = 500
REASONS: Final = ("too_high", "not_home", "meter_fault", "other")
"""Why a household disputes a charge (the page offers these; the first is the default)."""
State = Literal["open", "answered", "all"]


class DisputeError(ValueError):
    """A dispute that cannot be raised or answered, with the reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispute:
    dispute_id: int
    account_no: str
    meter_id: str
    day: date
    reason: str
    raised_by: str
    raised_at: datetime
    evidence: Mapping[str, str | int | None]
    """The day's figures as the household saw them: charge, energy, fixed, duty (paise), kWh, intervals, tariff."""
    answer: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None

    @property
    def due_at(self) -> datetime:
        return self.raised_at + ANSWER_WITHIN

    def overdue(self, now: datetime) -> bool:
        return self.answered_at is None and now > self.due_at

    def days_left(self, now: datetime) -> int:
        """Whole days left to answer (0 when due today or past)."""
        return max(0, (self.due_at - now).days)

    def clock(self, now: datetime) -> tuple[int, int]:
        """The answer clock as (days, hours): left until it is due, or past it when overdue."""
        hours = int(abs(self.due_at - now).total_seconds() // 3600)
        return hours // 24, hours % 24


def clean_text(text: str, what: str) -> str:
    """Free text as kept: trimmed, not blank, no control characters, at most `MAX_TEXT` characters."""
    cleaned = text.strip()
    if not cleaned:
        raise DisputeError(f"{what} is blank")
    if len(cleaned) > MAX_TEXT:
        raise DisputeError(f"{what} is longer than {MAX_TEXT} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in cleaned):
        raise DisputeError(f"{what} holds control characters")
    return cleaned


class Disputes(Protocol):
    def add(self, dispute: Dispute) -> Dispute | None:
        """Keep a new dispute (its id is given by the store); None when the account disputes that day already."""
        ...

    def of_day(self, account_no: str, day: date) -> Dispute | None: ...

    def get(self, dispute_id: int) -> Dispute | None: ...

    def listed(self, state: State, limit: int, offset: int, q: str = "") -> list[Dispute]:
        """Oldest due first among open ones (so the overdue lead); newest first otherwise;
        `q` keeps those whose account number or meter id starts with it (case ignored)."""
        ...

    def answer(self, dispute_id: int, answer: str, by: str, at: datetime) -> bool:
        """Answer an open dispute; False when it was answered already."""
        ...

    def holders(self, account_nos: Sequence[str]) -> dict[str, str]:
        """The named holders of these accounts, by account number."""
        ...


class DisputeUnit(Protocol):
    @property
    def disputes(self) -> Disputes: ...


def raise_dispute(store: Transactions[DisputeUnit], dispute: Dispute) -> tuple[Dispute, bool]:
    """Raise `dispute` once per account and day: (the dispute, whether it is new)."""
    clean_text(dispute.reason, "the reason")
    with store.transaction() as uow:
        added = uow.disputes.add(dispute)
        if added is not None:
            return added, True
        found = uow.disputes.of_day(dispute.account_no, dispute.day)
    assert found is not None  # the unique (account, day) refused the new one
    return found, False


def answer_dispute(store: Transactions[DisputeUnit], dispute_id: int, answer: str, by: str, at: datetime) -> Dispute:
    """The utility's answer to an open dispute."""
    text = clean_text(answer, "the answer")
    with store.transaction() as uow:
        found = uow.disputes.get(dispute_id)
        if found is None:
            raise LookupError(f"dispute {dispute_id} not found")
        if not uow.disputes.answer(dispute_id, text, by, at):
            raise DisputeError(f"dispute {dispute_id} was answered already, by {found.answered_by}")
        answered = uow.disputes.get(dispute_id)
    assert answered is not None
    return answered


def disputes(store: Transactions[DisputeUnit], state: State, limit: int, offset: int, q: str = "") -> list[Dispute]:
    with store.transaction() as uow:
        return uow.disputes.listed(state, limit, offset, q)


def holders(store: Transactions[DisputeUnit], account_nos: Sequence[str]) -> dict[str, str]:
    with store.transaction() as uow:
        return uow.disputes.holders(account_nos)


def dispute_of_day(store: Transactions[DisputeUnit], account_no: str, day: date) -> Dispute | None:
    with store.transaction() as uow:
        return uow.disputes.of_day(account_no, day)
