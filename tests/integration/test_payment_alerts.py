"""A captured payment tells its consumer once (`payment_received`, in the capture's own
transaction): never for a repeat, a failed payment or a capture that was refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bijli.alerts.handlers import alerts_of
from bijli.alerts.model import AlertKind, Channel, DeliveryState
from bijli.bootstrap import Platform
from bijli.payments.model import PaymentStatus
from tests.integration.test_payments import CITY, ME, NOW, balance, pay
from tests.support.sites import commissioned_platform


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=3), database_url=database_url)
    yield p
    p.store.dispose()


def test_a_captured_payment_raises_one_payment_received_alert(platform: Platform) -> None:
    pay(platform, "pay-101", 50_000)
    pay(platform, "pay-101", 50_000)  # the gateway repeats itself
    pay(platform, "pay-102", 20_000, status=PaymentStatus.FAILED)

    (alert,) = alerts_of(platform.store, ME.account_no, 10, 0)
    assert alert.kind is AlertKind.PAYMENT_RECEIVED
    assert alert.fact_key == "payment_received:pay-101"
    assert alert.facts == {"payment_id": "pay-101", "amount_paise": 50_000, "balance_paise": balance(platform)}
    assert {d.channel: d.state for d in alert.deliveries} == {
        Channel.SMS: DeliveryState.PENDING,
        Channel.EMAIL: DeliveryState.SKIPPED,
        Channel.WEB: DeliveryState.PENDING,
    }


def test_a_payment_for_an_unknown_account_raises_no_alert(platform: Platform) -> None:
    with pytest.raises(ValueError, match="no account"):
        pay(platform, "pay-103", account="NO-SUCH-ACCOUNT")
    assert alerts_of(platform.store, ME.account_no, 10, 0) == []
