"""The consumer page says how many days of credit are left, as the account API does."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.browser.conftest import DEMO_METERS, DEMO_START
from tests.browser.test_pages import api_json, full_page_screenshot

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser
CONSUMER = build_city(DEMO_METERS)[-1]


def test_the_consumer_page_shows_the_days_of_credit_left(
    chrome: WebDriver, base_url: str, browser_platform: Platform, screenshots: Path, api_auth: dict[str, str]
) -> None:
    from selenium.webdriver.common.by import By

    # Three earlier days charged and closed (all on the ledger's side of the balance, so no
    # balance anywhere moves): the forecast has the demo's two days and these to go by.
    with browser_platform.store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO day_charges (account_no, day, charge_paise, duty_paise, energy_wh, tariff_version, "
                "posted_paise, posted_duty_paise, posted_energy_wh, postings, pending) "
                "VALUES (:a, :d, 4000, 0, 6000, 'earlier', 4000, 0, 6000, 1, false)"
            ),
            [{"a": CONSUMER.account_no, "d": DEMO_START - timedelta(days=k)} for k in (1, 2, 3)],
        )
    account = api_json(base_url, f"/api/v1/accounts/{CONSUMER.account_no}", api_auth)
    days, runs_out = account["days_left"], account["runs_out_on"]
    assert isinstance(days, str) and isinstance(runs_out, str)

    chrome.get(f"{base_url}/consumer/{CONSUMER.meter_id}")
    shown = chrome.find_element(By.CSS_SELECTOR, "[data-testid=days-left]")
    assert f"About {days} days of credit left" in shown.text
    assert date.fromisoformat(runs_out).strftime("%d %b %Y") in shown.text
    full_page_screenshot(chrome, screenshots / "consumer-days-left.png")
    chrome.get(f"{base_url}/consumer/{CONSUMER.meter_id}?lang=hi")
    try:
        assert f"लगभग {days} दिन का बैलेंस शेष" in chrome.find_element(By.CSS_SELECTOR, "[data-testid=days-left]").text
    finally:
        chrome.get(f"{base_url}/consumer/{CONSUMER.meter_id}?lang=en")  # the shared browser stays in English
