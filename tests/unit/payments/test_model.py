"""The payment rules: the webhook's signature and body, the state table, arrears recovery,
redemptions against the register, the drift tolerance."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bijli.payments.model import (
    BadEvent,
    BadSignature,
    IssuedToken,
    ItemKind,
    Payment,
    PaymentConflict,
    PaymentEvent,
    PaymentStatus,
    Reported,
    Step,
    TokenState,
    capture_entries,
    check_signature,
    drift_tolerance,
    event_body,
    match,
    parse_event,
    recovery,
    refund_entries,
    sign,
    step_for,
)
from bijli.prepaid.tariff import builtin_tariffs

SECRET = b"whsec-test-0123456789abcdef"
AT = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
S = PaymentStatus


def event(status: PaymentStatus = S.CAPTURED, amount: int = 50_000, account: str = "KN-CL-000001") -> PaymentEvent:
    return PaymentEvent(
        event_id="evt-1", payment_id="pay-1", account_no=account, amount_paise=amount, status=status, at=AT
    )


def test_a_body_signed_with_the_secret_passes_and_any_change_fails() -> None:
    body = event_body(event())
    check_signature(SECRET, body, sign(SECRET, body))
    assert sign(SECRET, body).startswith("sha256=") and len(sign(SECRET, body)) == 7 + 64
    with pytest.raises(BadSignature, match="does not match"):
        check_signature(SECRET, body.replace(b"50000", b"90000"), sign(SECRET, body))
    with pytest.raises(BadSignature, match="does not match"):
        check_signature(b"another-secret-0123456789", body, sign(SECRET, body))
    with pytest.raises(BadSignature, match="no X-Bijli-Signature"):
        check_signature(SECRET, body, None)


def test_the_body_round_trips_and_a_malformed_one_names_its_fault() -> None:
    assert parse_event(event_body(event())) == event()
    with pytest.raises(BadEvent, match="not JSON"):
        parse_event(b"{not json")
    with pytest.raises(BadEvent, match="amount_paise"):
        parse_event(event_body(event()).replace(b"50000", b"-5"))
    with pytest.raises(BadEvent, match="unknown field"):
        parse_event(event_body(event())[:-1] + b',"extra":1}')
    with pytest.raises(BadEvent, match="time zone"):
        parse_event(event_body(event()).replace(b"Z", b""))


@pytest.mark.parametrize(
    ("stored", "reported", "step"),
    [
        (None, S.CAPTURED, Step.CAPTURE),
        (None, S.FAILED, Step.FAIL),
        (S.FAILED, S.CAPTURED, Step.CAPTURE),
        (S.CAPTURED, S.CAPTURED, Step.NOTHING),
        (S.CAPTURED, S.FAILED, Step.NOTHING),
        (S.CAPTURED, S.REFUNDED, Step.REFUND),
        (S.REFUNDED, S.REFUNDED, Step.NOTHING),
        (S.REFUNDED, S.CAPTURED, Step.NOTHING),
    ],
)
def test_each_reported_state_moves_a_payment_once(
    stored: PaymentStatus | None, reported: PaymentStatus, step: Step
) -> None:
    payment = (
        None
        if stored is None
        else Payment(payment_id="pay-1", account_no="KN-CL-000001", amount_paise=50_000, status=stored)
    )
    assert step_for(payment, event(reported)) is step


def test_a_refund_of_a_payment_never_captured_and_a_changed_amount_are_refused() -> None:
    with pytest.raises(PaymentConflict, match="never captured"):
        step_for(None, event(S.REFUNDED))
    captured = Payment(payment_id="pay-1", account_no="KN-CL-000001", amount_paise=50_000, status=S.CAPTURED)
    with pytest.raises(PaymentConflict, match="60000 paise"):
        step_for(captured, event(S.CAPTURED, amount=60_000))


def test_a_share_of_a_recharge_recovers_arrears_in_whole_rupees_never_more_than_owed() -> None:
    assert recovery(50_000, 1_000_000, 20) == 10_000
    assert recovery(49_900, 1_000_000, 15) == 7_400  # ₹74.85 rounds down to ₹74: the credit stays whole rupees
    assert recovery(50_000, 2_345, 25) == 2_345  # the last of the arrears
    assert recovery(50_000, 0, 25) == 0
    entries = capture_entries("pay-1", "KN-CL-000001", 50_000, 10_000)
    assert [(e.kind.value, e.amount_paise, e.reference) for e in entries] == [
        ("recharge", 50_000, "payment:pay-1"),
        ("arrears_recovery", -10_000, "arrears_recovery:pay-1"),
    ]


def test_a_refund_reverses_the_recharge_and_gives_the_arrears_share_back() -> None:
    paid = Payment(
        payment_id="pay-1", account_no="A1", amount_paise=50_000, status=S.CAPTURED, arrears_recovered_paise=10_000
    )
    entries = refund_entries(paid)
    assert [(e.kind.value, e.amount_paise) for e in entries] == [("refund", -50_000), ("arrears_recovery", 10_000)]
    assert sum(e.amount_paise for e in entries + capture_entries("pay-1", "A1", 50_000, 10_000)) == 0


def _issued(status: TokenState = TokenState.ISSUED, amount: int = 40_000) -> IssuedToken:
    return IssuedToken(
        meter_id="KNCL0000001",
        token_id=1_543_000,
        account_no="A1",
        payment_id="pay-1",
        amount_paise=amount,
        issued_at=AT,
        key_version=1,
        status=status,
    )


def test_a_redemption_is_matched_against_the_register() -> None:
    took = Reported(meter_id="KNCL0000001", token_id=1_543_000, amount_paise=40_000, redeemed_at=AT)
    assert match(_issued(), took) is None
    assert match(_issued(TokenState.REDEEMED), took) is None  # the same report again
    unmatched = match(None, took)
    assert unmatched is not None and unmatched.kind is ItemKind.UNMATCHED_REDEMPTION
    mismatched = match(_issued(amount=50_000), took)
    assert mismatched is not None and mismatched.kind is ItemKind.MISMATCHED_REDEMPTION
    cancelled = match(_issued(TokenState.CANCELLED), took)
    assert cancelled is not None and cancelled.kind is ItemKind.CANCELLED_TOKEN_REDEEMED


def test_the_drift_tolerance_is_one_intervals_charge_at_most() -> None:
    tariff = builtin_tariffs()["UP-LMV1-DU"]
    tolerance = drift_tolerance(tariff, 2_000, date(2026, 12, 4))
    # 2 kW for 15 minutes at the top rate is at most ₹3.50, a day's fixed charge under ₹8: with duty, under ₹12.
    assert 300 < tolerance < 1_200
