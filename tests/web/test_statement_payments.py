"""A payment taken through the signed webhook, and its refund, each a line of the month's statement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.kernel.clock import SimulatedClock
from bijli.payments.model import SIGNATURE_HEADER, PaymentEvent, PaymentStatus, event_body, sign
from bijli.web.app import create_app
from tests.support.access import bearer
from tests.support.sites import commissioned_platform
from tests.web.conftest import TestClient

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(1)
MINE = CITY[0]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    made = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=2))
    yield made
    made.store.dispose()


def pay(client: TestClient, platform: Platform, payment_id: str, status: PaymentStatus, at: datetime) -> None:
    secret = platform.settings.payment_secret
    assert secret is not None
    body = event_body(
        PaymentEvent(
            event_id=f"evt-{payment_id}-{status}",
            payment_id=payment_id,
            account_no=MINE.account_no,
            amount_paise=45_000,
            status=status,
            at=at,
        )
    )
    r = client.post("/api/v1/payments/webhook", content=body, headers={SIGNATURE_HEADER: sign(secret, body)})
    assert r.status_code == 200, r.text


def test_a_recharge_and_its_refund_are_lines_of_the_statement_and_it_ties_out(platform: Platform) -> None:
    client = TestClient(create_app(platform, clock=SimulatedClock(NOW)), base_url="http://localhost")
    client.headers.update(bearer(platform, Role.BILLING))
    pay(client, platform, "pay-s1", PaymentStatus.CAPTURED, NOW)
    pay(client, platform, "pay-s2", PaymentStatus.CAPTURED, NOW)
    pay(client, platform, "pay-s2", PaymentStatus.REFUNDED, NOW)

    s = client.get(f"/api/v1/accounts/{MINE.account_no}/statements/2026-12").json()
    balance = client.get(f"/api/v1/meters/{MINE.meter_id}/balance").json()

    kinds = [e["kind"] for e in s["entries"]]
    assert kinds.count("recharge") == 2 and kinds.count("refund") == 1
    assert s["recharges"] == "900.00"
    assert {t["kind"]: t["amount"] for t in s["totals"]}["refund"] == "-450.00"
    assert s["closing_balance"] == balance["balance"]
    page = client.get(f"/accounts/{MINE.account_no}/statements/2026-12", params={"lang": "en"}).text
    assert page.count("<td>Recharge</td>") == 2 and "<td>Refund</td>" in page
    hindi = client.get(f"/accounts/{MINE.account_no}/statements/2026-12", params={"lang": "hi"}).text
    assert hindi.count("<td>रिचार्ज</td>") == 2 and "<td>धनवापसी</td>" in hindi
