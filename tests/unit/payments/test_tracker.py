"""A payment's tracker from the facts: received -> credited -> reconnect sent -> power restored."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bijli.headend.command_records import CommandRecord, CommandRequest, HistoryEntry, new_command
from bijli.headend.commands import Status
from bijli.payments.model import IssuedToken, PaymentStatus, TokenState
from bijli.payments.tracker import PaymentFacts, Stage, State, StoredPayment, reconnect_key, track
from bijli.protocol.events import EventCode
from bijli.protocol.relay import RelayState

PAID = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
METER = "KNCL0000001"
PAYMENT = StoredPayment(
    payment_id="pay-1",
    account_no="KESCOCL0000001",
    amount_paise=50_000,
    status=PaymentStatus.CAPTURED,
    arrears_recovered_paise=0,
    received_at=PAID,
    captured_at=PAID,
    failed_at=None,
    refunded_at=None,
    meter_id=METER,
    relay=RelayState.DISCONNECTED,
    balance_paise=12_000,
)
TOKEN = IssuedToken(
    meter_id=METER,
    token_id=7,
    account_no=PAYMENT.account_no,
    payment_id="pay-1",
    amount_paise=50_000,
    issued_at=PAID,
    key_version=1,
)


def command(action: str, key: str, *moves: tuple[Status, float]) -> CommandRecord:
    """A command queued at the payment, moved to each status `seconds` after it."""
    request = CommandRequest(
        meter_id=METER,
        action=action,
        args={},
        reason="r",
        requested_by="supply",
        idempotency_key=key,
        expires_in=timedelta(hours=1),
    )
    queued = new_command(request, PAID)
    history = queued.history + tuple(HistoryEntry(PAID + timedelta(seconds=s), st, "") for st, s in moves)
    return replace(queued, status=moves[-1][0] if moves else Status.QUEUED, history=history)


PUSHED = command("credit", "payment:pay-1", (Status.SENT, 1), (Status.CONFIRMED, 3))
DISCONNECTED_BEFORE = ((int(EventCode.LOAD_SWITCH_DISCONNECTED), PAID - timedelta(days=2)),)


def states(facts: PaymentFacts) -> list[tuple[str, str, float | None]]:
    found = track(facts)
    return [
        (s.stage.value, s.state.value, None if s.at is None else (s.at - PAID).total_seconds()) for s in found.steps
    ]


def test_an_online_meter_gets_its_power_back_through_the_supply_services_reconnect() -> None:
    reconnect = command("relay_connect", reconnect_key("pay-1"), (Status.SENT, 5), (Status.CONFIRMED, 9))
    facts = PaymentFacts(
        payment=PAYMENT, tokens=(TOKEN,), credit=PUSHED, reconnect=reconnect, relay_events=DISCONNECTED_BEFORE
    )
    assert states(facts) == [
        ("received", "done", 0),
        ("credited", "done", 3),
        ("reconnect_sent", "done", 5),
        ("power_restored", "done", 9),
    ]
    assert track(facts).power_back_s == 9


def test_a_token_typed_at_an_offline_meter_that_closes_its_relay_itself_restores_power() -> None:
    typed = PAID + timedelta(hours=2)
    facts = PaymentFacts(
        payment=PAYMENT,
        tokens=(TOKEN,),
        typed_at=typed,
        credit=command("credit", "payment:pay-1"),  # still queued: the meter is offline
        relay_events=(*DISCONNECTED_BEFORE, (int(EventCode.LOAD_SWITCH_CONNECTED), typed - timedelta(seconds=30))),
    )
    assert states(facts) == [
        ("received", "done", 0),
        ("credited", "done", 7200),
        ("reconnect_sent", "not_needed", None),
        ("power_restored", "done", 7170),
    ]


def test_a_payment_while_supply_is_on_needs_no_reconnect() -> None:
    facts = PaymentFacts(payment=replace(PAYMENT, relay=RelayState.CONNECTED), tokens=(TOKEN,), credit=PUSHED)
    found = track(facts)
    assert [s.state for s in found.steps] == [State.DONE, State.DONE, State.NOT_NEEDED, State.NOT_NEEDED]
    assert found.steps[3].detail == "supply was on"
    assert found.power_back_s is None


def test_waiting_steps_say_what_they_wait_for() -> None:
    facts = PaymentFacts(payment=PAYMENT, tokens=(TOKEN,), credit=command("credit", "payment:pay-1"))
    found = track(facts)
    assert [s.state for s in found.steps] == [State.DONE, State.PENDING, State.PENDING, State.PENDING]
    assert "online" in found.steps[1].detail
    queued = replace(facts, reconnect=command("relay_connect", reconnect_key("pay-1")))
    assert "queued" in track(queued).steps[2].detail
    still_negative = replace(facts, payment=replace(PAYMENT, balance_paise=-5_000))
    assert "below zero (\u2212₹50.00)" in track(still_negative).steps[2].detail


def test_a_failed_reconnect_is_shown_failed_with_its_reason() -> None:
    failed = replace(command("relay_connect", reconnect_key("pay-1"), (Status.FAILED, 60)), detail="meter refused")
    found = track(PaymentFacts(payment=PAYMENT, tokens=(TOKEN,), credit=PUSHED, reconnect=failed))
    assert found.steps[2].state is State.FAILED and "meter refused" in found.steps[2].detail
    assert found.steps[3].state is State.FAILED


def test_a_failed_payment_goes_no_further() -> None:
    failed = replace(PAYMENT, status=PaymentStatus.FAILED, captured_at=None)
    found = track(PaymentFacts(payment=failed))
    assert [s.state for s in found.steps] == [State.DONE, *[State.NOT_NEEDED] * 3]
    assert found.steps[0].stage is Stage.RECEIVED


def test_a_refund_before_the_meter_took_it_fails_the_credit() -> None:
    cancelled = replace(TOKEN, status=TokenState.CANCELLED)
    refunded = replace(PAYMENT, status=PaymentStatus.REFUNDED, relay=RelayState.CONNECTED)
    found = track(PaymentFacts(payment=refunded, tokens=(cancelled,)))
    assert found.steps[1].state is State.FAILED


def test_an_account_without_a_meter_is_credited_in_the_ledger() -> None:
    found = track(PaymentFacts(payment=replace(PAYMENT, meter_id=None, relay=None)))
    assert found.steps[1].state is State.DONE and "no meter" in found.steps[1].detail
    assert found.meter_id is None


def test_a_meter_that_closed_its_relay_on_a_typed_token_needed_no_reconnect_though_one_came_later() -> None:
    typed = PAID + timedelta(minutes=10)
    later = command("relay_connect", reconnect_key("pay-1"), (Status.SENT, 3600), (Status.CONFIRMED, 3602))
    facts = PaymentFacts(
        payment=PAYMENT,
        tokens=(TOKEN,),
        typed_at=PAID + timedelta(hours=1),
        credit=command("credit", "payment:pay-1"),
        reconnect=later,
        relay_events=(*DISCONNECTED_BEFORE, (int(EventCode.LOAD_SWITCH_CONNECTED), typed)),
    )
    assert states(facts)[2:] == [("reconnect_sent", "not_needed", None), ("power_restored", "done", 600)]


def test_the_reconnects_own_event_in_the_meters_whole_seconds_counts_from_the_send() -> None:
    sent = PAID + timedelta(seconds=5, milliseconds=700)
    reconnect = command("relay_connect", reconnect_key("pay-1"), (Status.SENT, 5.7), (Status.CONFIRMED, 7))
    facts = PaymentFacts(
        payment=PAYMENT,
        tokens=(TOKEN,),
        credit=PUSHED,
        reconnect=reconnect,
        relay_events=(*DISCONNECTED_BEFORE, (int(EventCode.LOAD_SWITCH_CONNECTED), PAID + timedelta(seconds=5))),
    )
    found = track(facts)
    assert [(s.state, s.at) for s in found.steps[2:]] == [(State.DONE, sent), (State.DONE, sent)]
