"""A payment's way from the gateway to the consumer's power, step by step, from the facts. Pure.

received -> credited (the credit command acknowledged, or the token typed at the meter) ->
reconnect sent (the `relay_connect` with idempotency key `supply:reconnect:<payment_id>`,
or its latest retry `supply:reconnect:<payment_id>:<n>`, which the supply service asks for
when the payment brings the balance of an account it cut back to zero or above; or not
needed: supply was on, or the meter closed its relay itself on the credit) -> power
restored (that command confirmed, or the meter's own reconnection event
after the credit). `GET /api/v1/payments/{payment_id}` shows it (docs/payments.md).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bijli.alerts.texts import rupees_text
from bijli.headend.command_records import CommandRecord
from bijli.headend.commands import Status
from bijli.kernel.units import Paise
from bijli.payments.model import IssuedToken, PaymentStatus, TokenState
from bijli.protocol.events import EventCode
from bijli.protocol.relay import RelayState

RECONNECT_KEY: Final = "supply:reconnect:{payment_id}"
"""The idempotency key of the reconnect a payment brings about (the supply service asks for it)."""
EVENT_SLACK: Final = timedelta(seconds=2)
"""A meter's event (whole seconds, by its clock) this close before a command was sent may be its doing."""
RELAY_LOOKBACK: Final = timedelta(days=30)
"""How far before a payment the meter's last load-switch event is looked for."""


def reconnect_key(payment_id: str) -> str:
    return RECONNECT_KEY.format(payment_id=payment_id)


class Stage(enum.StrEnum):
    RECEIVED = "received"
    CREDITED = "credited"
    RECONNECT_SENT = "reconnect_sent"
    POWER_RESTORED = "power_restored"


class State(enum.StrEnum):
    DONE = "done"
    PENDING = "pending"
    NOT_NEEDED = "not_needed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepReached:
    stage: Stage
    state: State
    at: datetime | None
    """When it happened (None unless done; a meter's event by the meter's clock)."""
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPayment:
    """A payment as the tracker reads it: the row, its times, and its account's meter now."""

    payment_id: str
    account_no: str
    amount_paise: Paise
    status: PaymentStatus
    arrears_recovered_paise: Paise
    received_at: datetime
    captured_at: datetime | None
    failed_at: datetime | None
    refunded_at: datetime | None
    meter_id: str | None
    """The meter installed on the account now."""
    relay: int | None = None
    """The relay state that meter shows now (`RelayState`)."""
    balance_paise: Paise | None = None
    """The account's prepaid balance now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentFacts:
    """Everything bijli knows of what a payment set going."""

    payment: StoredPayment
    tokens: Sequence[IssuedToken] = ()
    typed_at: datetime | None = None
    """When bijli heard that the meter took the payment's token (typed or pushed)."""
    credit: CommandRecord | None = None
    """The `credit` command that pushes the token."""
    reconnect: CommandRecord | None = None
    """The `relay_connect` with key `supply:reconnect:<payment_id>`."""
    relay_events: Sequence[tuple[int, datetime]] = ()
    """The meter's load-switch events (code, when): the last before the payment and every one
    after, oldest first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracked:
    payment_id: str
    account_no: str
    meter_id: str | None
    amount_paise: Paise
    status: PaymentStatus
    steps: tuple[StepReached, ...]

    @property
    def power_back_s(self) -> int | None:
        """Seconds from the payment's arrival to the power restored, once it is."""
        first, last = self.steps[0], self.steps[-1]
        if last.state is not State.DONE or last.at is None or first.at is None:
            return None
        return max(0, int((last.at - first.at).total_seconds()))


def track(facts: PaymentFacts) -> Tracked:
    """The payment's four steps, each done (when), pending, not needed or failed (why)."""
    p = facts.payment
    received = StepReached(
        stage=Stage.RECEIVED,
        state=State.DONE,
        at=p.received_at,
        detail=f"{rupees_text(p.amount_paise)} from the payment gateway, {p.status.value}",
    )
    meter = facts.tokens[0].meter_id if facts.tokens else p.meter_id
    if p.status is PaymentStatus.FAILED or p.captured_at is None:
        why = "the payment failed: nothing was credited"
        rest = [StepReached(stage=s, state=State.NOT_NEEDED, at=None, detail=why) for s in _AFTER]
        return _tracked(facts, meter, [received, *rest])
    credited = _credited(facts)
    reconnect = _reconnect(facts, p.captured_at, credited)
    restored = _restored(facts, p.captured_at, reconnect)
    return _tracked(facts, meter, [received, credited, reconnect, restored])


_AFTER = (Stage.CREDITED, Stage.RECONNECT_SENT, Stage.POWER_RESTORED)
_UNDER_WAY = (Status.SENT, Status.ACKNOWLEDGED, Status.CONFIRMED)


def _tracked(facts: PaymentFacts, meter: str | None, steps: list[StepReached]) -> Tracked:
    p = facts.payment
    return Tracked(
        payment_id=p.payment_id,
        account_no=p.account_no,
        meter_id=meter,
        amount_paise=p.amount_paise,
        status=p.status,
        steps=tuple(steps),
    )


def _credited(facts: PaymentFacts) -> StepReached:
    p = facts.payment
    stage = Stage.CREDITED
    if not facts.tokens:
        at = p.captured_at
        if p.meter_id is None:
            detail = "credited to the account's ledger; no meter is installed to send it to"
        else:
            detail = "credited to the account's ledger; all of it went to arrears, nothing for the meter"
        return StepReached(stage=stage, state=State.DONE, at=at, detail=detail)
    pushed = None
    if facts.credit is not None:
        pushed = facts.credit.first(Status.ACKNOWLEDGED) or facts.credit.first(Status.CONFIRMED)
    found = [(at, how) for at, how in ((pushed, "pushed"), (facts.typed_at, "typed")) if at is not None]
    if found:
        at, how = min(found)
        detail = (
            "the meter took the credit pushed to it"
            if how == "pushed"
            else "the meter took the payment's token (typed at its hotspot, or pushed)"
        )
        return StepReached(stage=stage, state=State.DONE, at=at, detail=detail)
    if all(tok.status is TokenState.CANCELLED for tok in facts.tokens):
        return StepReached(stage=stage, state=State.FAILED, at=None, detail="refunded before the meter took the credit")
    if facts.credit is not None and facts.credit.status in (Status.FAILED, Status.EXPIRED):
        detail = f"the push {facts.credit.status.value} ({facts.credit.detail}); the token can still be typed"
    elif facts.credit is not None and facts.credit.status is Status.SENT:
        detail = "sent to the meter; waiting for its answer (or type the token at the meter)"
    else:
        detail = "waiting for the meter to come online, or for the token to be typed at the meter"
    return StepReached(stage=stage, state=State.PENDING, at=None, detail=detail)


def _reconnect(facts: PaymentFacts, captured: datetime, credited: StepReached) -> StepReached:
    stage = Stage.RECONNECT_SENT
    command = facts.reconnect
    itself = _closed_itself(facts, captured)
    if command is not None:
        sent = [at for at in (command.first(s) for s in _UNDER_WAY) if at is not None]
        # Before the command was sent: the meter's own doing (its events are whole seconds, so
        # one the command caused can read a moment before the command was marked sent).
        if itself is not None and (not sent or itself < min(sent) - EVENT_SLACK):
            return StepReached(
                stage=stage,
                state=State.NOT_NEEDED,
                at=None,
                detail=f"the meter closed its relay itself on the credit (relay_connect {command.command_id} after)",
            )
        if sent:
            return StepReached(
                stage=stage, state=State.DONE, at=min(sent), detail=f"relay_connect {command.command_id} sent"
            )
        if command.status in (Status.FAILED, Status.EXPIRED):
            return StepReached(
                stage=stage,
                state=State.FAILED,
                at=None,
                detail=f"relay_connect {command.command_id} {command.status.value}: {command.detail}",
            )
        return StepReached(
            stage=stage,
            state=State.PENDING,
            at=None,
            detail=f"relay_connect {command.command_id} queued: waiting for the meter to be online",
        )
    if itself is not None:
        return StepReached(
            stage=stage, state=State.NOT_NEEDED, at=None, detail="the meter closed its relay itself on the credit"
        )
    if not _off_at(facts, captured):
        return StepReached(stage=stage, state=State.NOT_NEEDED, at=None, detail="supply was on")
    p = facts.payment
    if p.balance_paise is not None and p.balance_paise < 0:
        detail = (
            f"the balance is still below zero ({rupees_text(p.balance_paise)}): "
            "supply comes back once it is zero or above"
        )
    elif credited.state is State.DONE or not facts.tokens:
        detail = "waiting for the supply service to send the reconnect"
    else:
        detail = "waiting for the supply service (or for the meter to take the credit and close its relay itself)"
    return StepReached(stage=stage, state=State.PENDING, at=None, detail=detail)


def _restored(facts: PaymentFacts, captured: datetime, reconnect: StepReached) -> StepReached:
    stage = Stage.POWER_RESTORED
    confirmed = None if facts.reconnect is None else facts.reconnect.first(Status.CONFIRMED)
    closed = _closed_itself(facts, captured)
    if closed is not None and facts.reconnect is not None:
        sent = [at for at in (facts.reconnect.first(s) for s in _UNDER_WAY) if at is not None]
        if sent and closed >= min(sent) - EVENT_SLACK:  # the command's doing, in the meter's whole seconds
            closed = max(closed, min(sent))
    if closed is not None and (confirmed is None or closed <= confirmed):
        return StepReached(
            stage=stage, state=State.DONE, at=closed, detail="the meter closed its relay (its event 302, by its clock)"
        )
    if confirmed is not None:
        return StepReached(stage=stage, state=State.DONE, at=confirmed, detail="the meter confirmed its relay closed")
    if reconnect.state is State.NOT_NEEDED:
        return StepReached(stage=stage, state=State.NOT_NEEDED, at=None, detail=reconnect.detail)
    if reconnect.state is State.FAILED:
        return StepReached(stage=stage, state=State.FAILED, at=None, detail=reconnect.detail)
    return StepReached(stage=stage, state=State.PENDING, at=None, detail="waiting for the meter to close its relay")


def _closed_itself(facts: PaymentFacts, captured: datetime) -> datetime | None:
    """When the meter reported closing its relay after the payment, if it did."""
    return next(
        (at for code, at in facts.relay_events if code == EventCode.LOAD_SWITCH_CONNECTED and at >= captured), None
    )


def _off_at(facts: PaymentFacts, moment: datetime) -> bool:
    """Whether the meter's relay was open when the payment was captured: its last load-switch
    event before then says so, or with none, the state it shows now."""
    before = [code for code, at in facts.relay_events if at < moment]
    if before:
        return before[-1] == EventCode.LOAD_SWITCH_DISCONNECTED
    return facts.payment.relay == RelayState.DISCONNECTED
