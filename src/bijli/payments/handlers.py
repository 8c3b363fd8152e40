"""Payment use cases: take the gateway's webhook, and reconcile what meters report with the
ledger (redemptions against the token register, credit mirrors against balances)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from bijli.alerts.model import Alert, AlertKind
from bijli.headend.command_records import CommandRecord, CommandRequest, CommandState, new_command
from bijli.headend.commands import Status
from bijli.headend.commands import Step as CommandStep
from bijli.kernel.time import ist_day
from bijli.kernel.unit import Transactions
from bijli.kernel.units import Paise
from bijli.mdm.meters import MeterStatus
from bijli.payments.model import (
    KEPT_BODY_BYTES,
    UNDELIVERED_AFTER,
    BadEvent,
    BadSignature,
    IssuedToken,
    Item,
    ItemKind,
    OpenedItem,
    Payment,
    PaymentConflict,
    PaymentEvent,
    PaymentStatus,
    Step,
    TokenState,
    capture_entries,
    check_signature,
    drift_tolerance,
    match,
    mirror_drift,
    parse_event,
    recovery,
    refund_entries,
    step_for,
    undelivered,
)
from bijli.payments.ports import ItemsUnit, PaymentUnit, ReconcileUnit, TrackUnit
from bijli.payments.tracker import RELAY_LOOKBACK, PaymentFacts, Tracked, reconnect_key, track
from bijli.protocol import tokens

GATEWAY: Final = "payment gateway"
"""Who asks for the credit commands a payment sends (the command audit trail's `requested_by`)."""
ROUND: Final = 5000
"""Redemptions and status reports one reconciliation round looks at, at most."""


class UnknownAccount(ValueError):
    """A payment for an account the store does not hold; nothing changes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Taken:
    """What a webhook call did."""

    payment_id: str
    status: PaymentStatus
    applied: bool
    """False: a repeat (or news the payment had moved past), and nothing changed."""
    tokens: tuple[IssuedToken, ...] = ()
    """The payment's tokens (the credit on its way to the meter)."""


def take_webhook(
    store: Transactions[PaymentUnit],
    body: bytes,
    signature: str | None,
    secret: bytes,
    key_version: int,
    now: datetime,
) -> Taken:
    """Apply one signed webhook call, once per payment and state.

    `BadSignature`, `BadEvent`, `UnknownAccount` or `PaymentConflict` when it cannot be applied:
    then nothing changes but the call kept for audit with the reason. `key_version`: the site's
    current key version (a meter without a record of its own holds it).
    """
    event: PaymentEvent | None = None
    try:
        check_signature(secret, body, signature)
        event = parse_event(body)
        with store.transaction() as uow:
            taken = _apply(uow, event, key_version, now)
            uow.payments.record_event(event, "applied" if taken.applied else "nothing", "", b"", now)
            return taken
    except (BadSignature, BadEvent, UnknownAccount, PaymentConflict) as e:
        with store.transaction() as uow:
            uow.payments.record_event(event, "refused", str(e)[:256], body[:KEPT_BODY_BYTES], now)
        raise


def _apply(uow: PaymentUnit, event: PaymentEvent, key_version: int, now: datetime) -> Taken:
    stored = uow.payments.get(event.payment_id)
    step = step_for(stored, event)
    if step is Step.NOTHING:
        assert stored is not None
        return Taken(
            payment_id=stored.payment_id,
            status=stored.status,
            applied=False,
            tokens=tuple(uow.token_register.of_payment(stored.payment_id)),
        )
    if step is Step.FAIL:
        failed = Payment(
            payment_id=event.payment_id,
            account_no=event.account_no,
            amount_paise=event.amount_paise,
            status=PaymentStatus.FAILED,
        )
        if uow.payments.account(event.account_no) is None:
            raise UnknownAccount(f"no account {event.account_no}")
        uow.payments.save(failed, event, now)
        return Taken(payment_id=event.payment_id, status=PaymentStatus.FAILED, applied=True)
    if step is Step.REFUND:
        assert stored is not None
        return _refund(uow, stored, event, now)
    return _capture(uow, event, key_version, now)


def _capture(uow: PaymentUnit, event: PaymentEvent, key_version: int, now: datetime) -> Taken:
    account = uow.payments.account(event.account_no)
    if account is None:
        raise UnknownAccount(f"no account {event.account_no}")
    if account.closed:
        raise PaymentConflict(
            f"account {event.account_no} is closed: it takes no payments (refund this one at the gateway)"
        )
    recovered = recovery(event.amount_paise, account.arrears_paise, account.arrears_share_pct)
    payment = Payment(
        payment_id=event.payment_id,
        account_no=event.account_no,
        amount_paise=event.amount_paise,
        status=PaymentStatus.CAPTURED,
        arrears_recovered_paise=recovered,
    )
    uow.payments.save(payment, event, now)
    uow.ledger.post(capture_entries(payment.payment_id, payment.account_no, payment.amount_paise, recovered), now)
    credit = payment.amount_paise - recovered
    issued: tuple[IssuedToken, ...] = ()
    if credit > 0 and account.meter_id is not None:
        issued = (_issue(uow, account.meter_id, payment, credit, key_version, now),)
    _tell_consumer(uow, payment, now)
    return Taken(payment_id=payment.payment_id, status=payment.status, applied=True, tokens=issued)


def _issue(
    uow: PaymentUnit, meter_id: str, payment: Payment, credit: Paise, current: int, now: datetime
) -> IssuedToken:
    """Register the payment's token (the next id free for the meter) and queue its push: a
    `credit` command carrying the token's id, so the meter takes the credit once, whichever
    of the push and the typed token reaches it first."""
    first = tokens.id_at(now)
    token_id = tokens.next_free_id(uow.token_register.ids_from(meter_id, first), now)
    version = uow.meter_keys.versions_of([meter_id]).get(meter_id, current)
    token = IssuedToken(
        meter_id=meter_id,
        token_id=token_id,
        account_no=payment.account_no,
        payment_id=payment.payment_id,
        amount_paise=credit,
        issued_at=tokens.time_of(token_id),
        key_version=version,
    )
    uow.token_register.add(token)
    if uow.registry.status_for_command(meter_id) == MeterStatus.COMMISSIONED:
        request = CommandRequest(
            meter_id=meter_id,
            action="credit",
            args={"amount_paise": credit, "token_id": token_id},
            reason=f"payment {payment.payment_id}",
            requested_by=GATEWAY,
            idempotency_key=_push_key(payment.payment_id),
            expires_in=tokens.DEFAULT_VALIDITY,
        )
        uow.commands.add(new_command(request, now))
    return token


def _tell_consumer(uow: PaymentUnit, payment: Payment, now: datetime) -> None:
    """Raise `payment_received` in the capture's own transaction: no alert for a capture that
    rolls back, one for each captured payment."""
    balance = uow.alerts.balances([payment.account_no]).get(payment.account_no, 0)
    alert = Alert(
        account_no=payment.account_no,
        kind=AlertKind.PAYMENT_RECEIVED,
        fact_key=f"payment_received:{payment.payment_id}",
        facts={"payment_id": payment.payment_id, "amount_paise": payment.amount_paise, "balance_paise": balance},
        raised_at=now,
    )
    uow.alerts.raise_alerts([alert], now)


def _refund(uow: PaymentUnit, stored: Payment, event: PaymentEvent, now: datetime) -> Taken:
    """Reverse a captured payment by its own entries; cancel its tokens the meter has not
    taken and its credit command if not sent yet (one the meter took leaves a drift that
    reconciliation reports: the meter holds credit the ledger no longer does)."""
    refunded = replace(stored, status=PaymentStatus.REFUNDED)
    uow.payments.save(refunded, event, now)
    uow.ledger.post(refund_entries(stored), now)
    uow.token_register.cancel(stored.payment_id)
    push = uow.commands.by_key(_push_key(stored.payment_id))
    if push is not None and push.status == Status.QUEUED:
        uow.commands.move(_state(push), CommandStep(Status.FAILED, "payment refunded before it was sent"), now)
    return Taken(
        payment_id=stored.payment_id,
        status=PaymentStatus.REFUNDED,
        applied=True,
        tokens=tuple(uow.token_register.of_payment(stored.payment_id)),
    )


def _push_key(payment_id: str) -> str:
    return f"payment:{payment_id}"


def _state(command: CommandRecord) -> CommandState:
    return CommandState(
        command_id=command.command_id,
        meter_id=command.meter_id,
        action=command.action,
        status=command.status,
        attempts=command.attempts,
    )


def tokens_of(store: Transactions[PaymentUnit], payment_id: str) -> list[IssuedToken]:
    """The tokens a payment bought."""
    with store.transaction() as uow:
        return uow.token_register.of_payment(payment_id)


# ------------------------------------------------------------------------- reconciliation


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one reconciliation round looked at and opened."""

    redemptions: int
    items_opened: int
    mirrors: int
    drifting: int


def reconcile(store: Transactions[ReconcileUnit], now: datetime) -> Reconciled:
    """Match the redemptions meters reported against the token register, report tokens that
    expired undelivered, then compare each new status report's credit mirror with the ledger
    (one round: up to `ROUND` of each)."""
    with store.transaction() as uow:
        reported = uow.redemptions.unmatched(ROUND)
        register = uow.token_register.find((r.meter_id, r.token_id) for r in reported)
        items = []
        taken = []
        for r in reported:
            issued = register.get((r.meter_id, r.token_id))
            item = match(issued, r)
            if item is not None:
                items.append(item)
            elif issued is not None and issued.status is not TokenState.REDEEMED:
                taken.append(r)
        uow.token_register.mark_redeemed(taken, now)
        late = [(r.meter_id, r.token_id) for r in taken]  # reported after all: the credit did arrive
        uow.reconciliation.resolve_tokens(ItemKind.UNDELIVERED_CREDIT.value, late, now)
        items += [undelivered(tok) for tok in uow.token_register.mark_undelivered(now - UNDELIVERED_AFTER)]
        uow.reconciliation.open(items, now)
        uow.redemptions.mark_matched([(r.meter_id, r.token_id) for r in reported], now)
    with store.transaction() as uow:
        facts = uow.mirrors.unchecked(ROUND)
        drifting = []
        steady = []
        checked: dict[str, tuple[int, int | None]] = {}
        for f in facts:
            drift = mirror_drift(f.mirror_paise, f.balance_paise, f.in_flight_paise)
            tolerance = drift_tolerance(f.tariff, f.sanctioned_load_w, ist_day(f.reported_at))
            if abs(drift) <= tolerance:
                steady.append(f.meter_id)
                checked[f.meter_id] = (f.status_fc, None)
                continue
            checked[f.meter_id] = (f.status_fc, drift)
            if f.drifted_before:  # one report can catch a credit or a charge on its way: two cannot
                drifting.append(
                    Item(
                        kind=ItemKind.MIRROR_DRIFT,
                        meter_id=f.meter_id,
                        account_no=f.account_no,
                        amount_paise=drift,
                        detail=(
                            f"meter {f.meter_id} holds {f.mirror_paise} paise; the ledger says "
                            f"{f.balance_paise - f.in_flight_paise} ({f.balance_paise} balance less "
                            f"{f.in_flight_paise} on its way): {drift:+} paise, beyond {tolerance}, "
                            "on two status reports in a row"
                        ),
                    )
                )
        uow.reconciliation.drifting(drifting, steady, now)
        uow.mirrors.mark_checked(checked, now)
    return Reconciled(len(reported), len(items), len(facts), len(drifting))


RECONCILE_EVERY: Final = timedelta(seconds=5)
"""How often `bijli serve` runs a reconciliation round."""


def reconciliation_items(store: Transactions[ItemsUnit], state: str, limit: int, offset: int) -> list[OpenedItem]:
    """Reconciliation items, newest first (`state`: open, resolved or all)."""
    with store.transaction() as uow:
        return uow.reconciliation.listed(state, limit, offset)


def tracked(store: Transactions[TrackUnit], payment_id: str) -> Tracked | None:
    """Where a payment has got to: received, credited, reconnect sent, power restored (None: no
    such payment)."""
    with store.transaction() as uow:
        stored = uow.trails.of(payment_id)
        if stored is None:
            return None
        issued = uow.token_register.of_payment(payment_id)
        meter = issued[0].meter_id if issued else stored.meter_id
        taken = uow.trails.taken(meter, [tok.token_id for tok in issued]) if meter is not None else None
        moment = stored.captured_at or stored.received_at
        events = [] if meter is None else uow.trails.relay_events(meter, moment, moment - RELAY_LOOKBACK)
        facts = PaymentFacts(
            payment=stored,
            tokens=issued,
            typed_at=taken,
            credit=uow.commands.by_key(_push_key(payment_id)),
            reconnect=_last_reconnect(uow, payment_id),
            relay_events=events,
        )
    return track(facts)


def _last_reconnect(uow: TrackUnit, payment_id: str) -> CommandRecord | None:
    """The supply service's reconnect for the payment: `supply:reconnect:<payment_id>`, or its
    latest retry (`…:2`, `…:3`, … after one that failed or expired)."""
    found = uow.commands.by_key(reconnect_key(payment_id))
    attempt = 2
    while found is not None and found.status in (Status.FAILED, Status.EXPIRED) and attempt <= MAX_RETRIES_SHOWN:
        retry = uow.commands.by_key(f"{reconnect_key(payment_id)}:{attempt}")
        if retry is None:
            break
        found, attempt = retry, attempt + 1
    return found


MAX_RETRIES_SHOWN: Final = 20
