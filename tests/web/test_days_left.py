"""Days of credit left, as the account API and the consumer's page show them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.kernel.time import ist_day
from bijli.prepaid.charging import DayCharge
from tests.support.sites import commissioned_platform
from tests.web.conftest import MakeClient

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)  # 12:00 IST, a Friday
CITY = build_city(2)
DAILY = 4_000  # ₹40.00 a day


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Platform]:
    platform = commissioned_platform(tmp_path, CITY, NOW - timedelta(days=60))
    yield platform
    platform.close()


def charge_days(platform: Platform, account_no: str, days: int, today_so_far: int) -> None:
    """`days` whole days at `DAILY` before today, and today's running charge."""
    today = ist_day(NOW)
    charges = [
        DayCharge(
            account_no=account_no,
            day=today - timedelta(days=k),
            charge_paise=DAILY,
            duty_paise=0,
            energy_wh=0,
            tariff_version="test",
        )
        for k in range(1, days + 1)
    ]
    charges.append(
        DayCharge(
            account_no=account_no, day=today, charge_paise=today_so_far, duty_paise=0, energy_wh=0, tariff_version="t"
        )
    )
    with platform.store.transaction() as uow:
        uow.day_charges.add(charges, NOW)


def test_the_account_says_how_many_days_its_credit_lasts(site: Platform, make_client: MakeClient) -> None:
    consumer = CITY[0]
    charge_days(site, consumer.account_no, 21, today_so_far=1_000)
    balance = consumer.opening_balance_paise - 21 * DAILY - 1_000
    found = make_client(site, now=NOW, role=Role.OPERATOR).get(f"/api/v1/accounts/{consumer.account_no}").json()
    assert found["balance"] == f"{Decimal(balance) / 100:.2f}"
    # 3,000 paise of today still to come, then DAILY a day.
    expected = (Decimal(3_000) / DAILY + Decimal(balance - 3_000) / DAILY).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert found["days_left"] == str(expected)
    whole = (balance - 3_000 + DAILY - 1) // DAILY
    assert found["runs_out_on"] == (ist_day(NOW) + timedelta(days=whole)).isoformat()


def test_a_new_account_has_no_forecast_yet(site: Platform, make_client: MakeClient) -> None:
    consumer = CITY[1]
    charge_days(site, consumer.account_no, 2, today_so_far=0)
    found = make_client(site, now=NOW, role=Role.BILLING).get(f"/api/v1/accounts/{consumer.account_no}").json()
    assert found["days_left"] is None and found["runs_out_on"] is None
    assert found["balance"] == f"{Decimal(consumer.opening_balance_paise - 2 * DAILY) / 100:.2f}"


def test_the_consumer_page_shows_the_days_left(site: Platform, make_client: MakeClient) -> None:
    consumer = CITY[0]
    charge_days(site, consumer.account_no, 21, today_so_far=0)
    client = make_client(site, now=NOW, role=Role.ADMIN)
    page = client.get(f"/consumer/{consumer.meter_id}").text
    days = (Decimal(consumer.opening_balance_paise - 21 * DAILY) / DAILY).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert 'data-testid="days-left"' in page
    assert f"About {days} days of credit left" in page
    assert f"लगभग {days} दिन का बैलेंस शेष" in client.get(f"/consumer/{consumer.meter_id}?lang=hi").text
