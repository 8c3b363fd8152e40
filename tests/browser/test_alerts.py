"""The consumer page's alerts in a real headless Chromium: the list, and a new alert arriving
on the live feed (server-sent events) without reloading the page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bijli.alerts.handlers import LiveFeed, deliver_due
from bijli.alerts.model import Alert, AlertKind, Channel
from bijli.bootstrap import Platform
from tests.browser.conftest import NOW, until

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser


def test_a_new_alert_appears_on_the_consumer_page_live(
    chrome: WebDriver, base_url: str, browser_platform: Platform, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    meter_id = "KNCL0000003"
    meter = browser_platform.reads.meter(meter_id, balance=False)
    assert meter is not None and meter.account_no
    with browser_platform.store.transaction() as uow:
        uow.alerts.raise_alerts(
            [
                Alert(
                    account_no=meter.account_no,
                    kind=AlertKind.LOW_BALANCE,
                    fact_key=f"browser:low_balance:30:{meter.account_no}",
                    facts={"level_pct": 30, "balance_paise": 12_936_600},
                    raised_at=NOW,
                )
            ],
            NOW,
        )
    deliver_due(browser_platform.store, {Channel.WEB: LiveFeed()}, NOW)

    chrome.get(f"{base_url}/consumer/{meter_id}")
    listed = chrome.find_elements(By.CSS_SELECTOR, "[data-testid=alerts] li.alert-item")
    assert len(listed) == 1 and "₹1,29,366.00" in listed[0].text

    with browser_platform.store.transaction() as uow:  # a payment arrives while the page is open
        uow.alerts.raise_alerts(
            [
                Alert(
                    account_no=meter.account_no,
                    kind=AlertKind.PAYMENT_RECEIVED,
                    fact_key=f"browser:payment_received:{meter.account_no}",
                    facts={"payment_id": "pay-live-1", "amount_paise": 50_000, "balance_paise": 12_986_600},
                    raised_at=NOW + timedelta(minutes=1),
                )
            ],
            NOW,
        )
    deliver_due(browser_platform.store, {Channel.WEB: LiveFeed()}, NOW + timedelta(minutes=1))

    until(chrome, lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-testid=alerts] li.alert-item")) == 2)
    items = chrome.find_elements(By.CSS_SELECTOR, "[data-testid=alerts] li.alert-item")
    assert "pay-live-1" in items[0].text and "₹500.00" in items[0].text  # the newest on top
    assert "web: sent" in items[0].text.lower()
    chrome.save_screenshot(str(screenshots / "consumer-alerts-live.png"))
