"""Payments on both stores: the signed webhook credits the ledger once per payment, registers
a token and queues its push; refunds reverse; reconciliation matches what meters report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.accounts.handlers import close_account
from bijli.accounts.model import Closing
from bijli.adapters.db import schema as t
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import epoch
from bijli.payments.handlers import reconcile, reconciliation_items, take_webhook
from bijli.payments.model import (
    BadEvent,
    BadSignature,
    PaymentConflict,
    PaymentEvent,
    PaymentStatus,
    event_body,
    sign,
)
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import PROTOCOL_VERSION, Redemption, StatusFrame, TokenFrame
from tests.support.sites import commissioned_platform

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(2)
ME = CITY[0]


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=3), database_url=database_url)
    yield p
    p.store.dispose()


def pay(
    p: Platform,
    payment_id: str,
    amount: int = 50_000,
    status: PaymentStatus = PaymentStatus.CAPTURED,
    at: datetime = NOW,
    account: str = ME.account_no,
) -> object:
    event = PaymentEvent(
        event_id=f"evt-{payment_id}-{status}",
        payment_id=payment_id,
        account_no=account,
        amount_paise=amount,
        status=status,
        at=at,
    )
    body = event_body(event)
    secret = p.settings.payment_secret
    assert secret is not None
    return take_webhook(p.store, body, sign(secret, body), secret, 1, at)


def rows(p: Platform, sql: str, **params: object) -> list[tuple[object, ...]]:
    with p.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def balance(p: Platform) -> int:
    return p.queries.balance(ME.account_no).balance_paise


def test_a_captured_payment_credits_once_registers_a_token_and_queues_its_push(platform: Platform) -> None:
    before = balance(platform)
    pay(platform, "pay-001")
    pay(platform, "pay-001")  # the gateway sends it again: nothing changes
    assert balance(platform) == before + 50_000
    assert rows(platform, "SELECT kind, amount_paise, reference FROM ledger WHERE reference LIKE 'payment:%'") == [
        ("recharge", 50_000, "payment:pay-001")
    ]
    tokens = rows(platform, "SELECT meter_id, token_id, amount_paise, status, payment_id FROM tokens_issued")
    assert len(tokens) == 1
    meter, token_id, amount, status, payment = tokens[0]
    assert (meter, amount, status, payment) == (ME.meter_id, 50_000, "issued", "pay-001")
    pushes = rows(
        platform, "SELECT meter_id, action, args, status FROM commands WHERE idempotency_key = 'payment:pay-001'"
    )
    assert [(m, a, json.loads(str(args)), s) for m, a, args, s in pushes] == [
        (ME.meter_id, "credit", {"amount_paise": 50_000, "token_id": token_id}, "queued")
    ]
    outcomes = rows(platform, "SELECT outcome FROM payment_events ORDER BY id")
    assert outcomes == [("applied",), ("nothing",)]


def test_two_payments_in_one_minute_get_two_token_ids(platform: Platform) -> None:
    pay(platform, "pay-a", 20_000)
    pay(platform, "pay-b", 30_000, at=NOW + timedelta(seconds=20))
    ids = [r[0] for r in rows(platform, "SELECT token_id FROM tokens_issued ORDER BY token_id")]
    assert len(ids) == 2 and ids[1] == ids[0] + 1


def test_a_forged_or_malformed_call_changes_nothing_and_is_kept_with_its_reason(platform: Platform) -> None:
    before = balance(platform)
    body = event_body(
        PaymentEvent(
            event_id="evt-x",
            payment_id="pay-x",
            account_no=ME.account_no,
            amount_paise=99_900,
            status=PaymentStatus.CAPTURED,
            at=NOW,
        )
    )
    secret = platform.settings.payment_secret
    assert secret is not None
    with pytest.raises(BadSignature):
        take_webhook(platform.store, body, sign(b"not-the-site-secret-at-all", body), secret, 1, NOW)
    with pytest.raises(BadEvent):
        take_webhook(platform.store, b'{"payment_id": 7}', sign(secret, b'{"payment_id": 7}'), secret, 1, NOW)
    assert balance(platform) == before
    assert rows(platform, "SELECT count(*) FROM payments") == [(0,)]
    assert rows(platform, "SELECT count(*) FROM tokens_issued") == [(0,)]
    kept = rows(platform, "SELECT outcome, reason, body FROM payment_events ORDER BY id")
    assert [(o, r.split(" ")[0]) for o, r, _ in kept] == [("refused", "the"), ("refused", "not")]
    assert bytes(kept[0][2]) == body  # type: ignore[arg-type]


def test_a_refund_reverses_the_credit_by_its_own_entry_and_cancels_the_undelivered_token(platform: Platform) -> None:
    before = balance(platform)
    pay(platform, "pay-r")
    pay(platform, "pay-r", status=PaymentStatus.REFUNDED, at=NOW + timedelta(hours=1))
    pay(platform, "pay-r", status=PaymentStatus.REFUNDED, at=NOW + timedelta(hours=1))
    assert balance(platform) == before
    assert rows(platform, "SELECT kind, amount_paise FROM ledger WHERE reference LIKE '%pay-r' ORDER BY id") == [
        ("recharge", 50_000),
        ("refund", -50_000),
    ]
    assert rows(platform, "SELECT status FROM tokens_issued") == [("cancelled",)]
    assert rows(platform, "SELECT status FROM commands WHERE idempotency_key = 'payment:pay-r'") == [("failed",)]
    with pytest.raises(PaymentConflict, match="stored for account"):
        pay(platform, "pay-r", amount=10_000, status=PaymentStatus.REFUNDED)
    with pytest.raises(PaymentConflict, match="never captured"):
        pay(platform, "pay-never", status=PaymentStatus.REFUNDED)


def test_a_failed_payment_credits_nothing(platform: Platform) -> None:
    before = balance(platform)
    pay(platform, "pay-f", status=PaymentStatus.FAILED)
    assert balance(platform) == before
    assert rows(platform, "SELECT status FROM payments") == [("failed",)]


def _frames(p: Platform, *frames: StatusFrame | TokenFrame) -> list[Delivery]:
    key = p.settings.site_keys.frame_key(ME.meter_id)
    return [Delivery(topics.uplink("bijli", ME.meter_id, f.__struct_config__.tag), seal(key, f)) for f in frames]  # type: ignore[attr-defined]


def _status(fc: int, mirror: int, at: datetime) -> StatusFrame:
    return StatusFrame(
        v=PROTOCOL_VERSION, m=ME.meter_id, fc=fc, ts=epoch(at), sim=1, operator="Jio", rssi_dbm=-70,
        relay=1, balance_paise=mirror,
    )  # fmt: skip


def _took(fc: int, token_id: int, amount: int, at: datetime) -> TokenFrame:
    return TokenFrame(
        v=PROTOCOL_VERSION,
        m=ME.meter_id,
        fc=fc,
        ts=epoch(at),
        redemptions=[Redemption(token_id=token_id, status=0, amount_paise=amount, at=epoch(at))],
    )


def test_reconciliation_matches_redemptions_and_flags_a_drifting_mirror_until_it_agrees(platform: Platform) -> None:
    pay(platform, "pay-t", 40_000)
    ((token_id,),) = rows(platform, "SELECT token_id FROM tokens_issued")
    opening = balance(platform) - 40_000
    later = NOW + timedelta(minutes=5)
    deliveries = _frames(
        platform,
        _took(10, int(token_id), 40_000, later),  # type: ignore[call-overload]
        _took(11, 999, 10_000, later),  # a token nobody issued
        _status(12, opening + 40_000, later),  # the mirror agrees with the ledger
    )
    ingest_batch(platform.store, deliveries, platform.ring, "bijli", later)
    done = reconcile(platform.store, later)
    assert (done.redemptions, done.items_opened, done.mirrors, done.drifting) == (2, 1, 1, 0)
    assert rows(platform, "SELECT status FROM tokens_issued") == [("redeemed",)]
    (item,) = reconciliation_items(platform.store, "open", 10, 0)
    assert (item.item.kind.value, item.item.token_id, item.item.amount_paise) == ("unmatched_redemption", 999, 10_000)
    assert reconcile(platform.store, later).redemptions == 0  # each report is looked at once

    # The meter says it holds ₹100 more than the ledger allows: flagged, then resolved once it agrees.
    ingest_batch(platform.store, _frames(platform, _status(13, opening + 50_000, later)), platform.ring, "bijli", later)
    assert reconcile(platform.store, later).drifting == 0  # once may be a credit on its way
    assert reconciliation_items(platform.store, "open", 10, 0)[0].item.kind.value == "unmatched_redemption"
    ingest_batch(platform.store, _frames(platform, _status(14, opening + 50_000, later)), platform.ring, "bijli", later)
    assert reconcile(platform.store, later).drifting == 1
    drift = [o for o in reconciliation_items(platform.store, "open", 10, 0) if o.item.kind.value == "mirror_drift"]
    assert [o.item.amount_paise for o in drift] == [10_000]
    ingest_batch(platform.store, _frames(platform, _status(15, opening + 40_000, later)), platform.ring, "bijli", later)
    assert reconcile(platform.store, later).drifting == 0
    assert [o.item.kind.value for o in reconciliation_items(platform.store, "open", 10, 0)] == ["unmatched_redemption"]
    assert [o.item.kind.value for o in reconciliation_items(platform.store, "resolved", 10, 0)] == ["mirror_drift"]


def test_tables_are_where_the_schema_says(platform: Platform) -> None:
    with platform.store.engine.connect() as conn:
        for table in (t.payments, t.payment_events, t.tokens_issued, t.reconciliation_items, t.mirror_checks):
            assert sa.inspect(conn).has_table(table.name)


def test_a_share_of_each_recharge_recovers_arrears_as_its_own_line_until_they_are_paid(platform: Platform) -> None:
    with platform.store.engine.begin() as conn:  # ₹150 arrears, as onboarding posts them
        conn.execute(
            t.ledger.insert().values(
                account_no=ME.account_no, kind="arrears", amount_paise=-15_000, reference="arrears:test", posted_at=NOW
            )
        )
    before = balance(platform)
    pay(platform, "pay-1", 50_000)  # 20 % of ₹500 is ₹100
    pay(platform, "pay-2", 50_000)  # the last ₹50
    pay(platform, "pay-3", 50_000)  # nothing left to recover
    lines = rows(platform, "SELECT kind, amount_paise FROM ledger WHERE kind = 'arrears_recovery' ORDER BY id")
    assert lines == [("arrears_recovery", -10_000), ("arrears_recovery", -5_000)]
    assert balance(platform) == before + 150_000 - 15_000
    shown = platform.queries.balance(ME.account_no)
    assert (shown.recharges_paise, shown.arrears_recovered_paise) == (150_000, 15_000)
    credits = rows(platform, "SELECT payment_id, amount_paise FROM tokens_issued ORDER BY payment_id")
    assert credits == [("pay-1", 40_000), ("pay-2", 45_000), ("pay-3", 50_000)]
    pay(platform, "pay-1", 50_000, status=PaymentStatus.REFUNDED)  # the refund gives the share back
    assert rows(platform, "SELECT amount_paise FROM ledger WHERE reference = 'arrears_recovery_refunded:pay-1'") == [
        (10_000,)
    ]
    shown = platform.queries.balance(ME.account_no)
    assert (shown.recharges_paise, shown.arrears_recovered_paise) == (100_000, 5_000)


def test_a_token_no_meter_reported_is_flagged_undelivered_until_a_late_report_arrives(platform: Platform) -> None:
    pay(platform, "pay-u", 30_000)
    ((token_id,),) = rows(platform, "SELECT token_id FROM tokens_issued")
    assert reconcile(platform.store, NOW + timedelta(days=30)).items_opened == 0  # still valid: on its way
    month_on = NOW + timedelta(days=32)
    assert reconcile(platform.store, month_on).items_opened == 1
    assert reconcile(platform.store, month_on).items_opened == 0  # once
    (item,) = reconciliation_items(platform.store, "open", 10, 0)
    assert (item.item.kind.value, item.item.payment_id, item.item.amount_paise) == (
        "undelivered_credit",
        "pay-u",
        30_000,
    )
    assert rows(platform, "SELECT status FROM tokens_issued") == [("undelivered",)]

    # The meter took it before it expired, and says so only now: the credit did arrive.
    taken_at = NOW + timedelta(days=2)
    ingest_batch(
        platform.store, _frames(platform, _took(20, int(token_id), 30_000, taken_at)), platform.ring, "bijli", month_on
    )  # type: ignore[call-overload]
    reconcile(platform.store, month_on)
    assert rows(platform, "SELECT status FROM tokens_issued") == [("redeemed",)]
    assert reconciliation_items(platform.store, "open", 10, 0) == []


def test_the_same_payment_reported_twice_at_once_is_credited_once(platform: Platform) -> None:
    before = balance(platform)
    with ThreadPoolExecutor(max_workers=4) as pool:
        taken = list(pool.map(lambda _: pay(platform, "pay-race", 10_000), range(4)))
    assert sorted(bool(t.applied) for t in taken) == [False, False, False, True]  # type: ignore[attr-defined]
    assert balance(platform) == before + 10_000
    assert rows(platform, "SELECT count(*) FROM tokens_issued") == [(1,)]


def test_a_payment_for_a_closed_account_is_refused_and_kept_with_its_reason(platform: Platform) -> None:
    closed_at = NOW - timedelta(hours=1)
    close_account(
        platform.store,
        Closing(account_no=ME.account_no, closing_wh_total=ME.initial_register_wh, at=closed_at, reason="moved away"),
        closed_at,
        by="billing-1",
    )
    after_closing = balance(platform)

    with pytest.raises(PaymentConflict, match="closed"):
        pay(platform, "pay-late")

    assert balance(platform) == after_closing == 0
    assert rows(platform, "SELECT count(*) FROM payments") == [(0,)]
    assert rows(platform, "SELECT count(*) FROM tokens_issued") == [(0,)]
    assert rows(platform, "SELECT outcome, reason FROM payment_events") == [
        ("refused", f"account {ME.account_no} is closed: it takes no payments (refund this one at the gateway)")
    ]
