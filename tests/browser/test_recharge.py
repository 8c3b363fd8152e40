"""A consumer recharges in a real headless Chromium: the page's form (its form token in a
hidden field, as a browser sends it) pays through the development gateway, and the page shows
the token to type at the meter's hotspot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.protocol import tokens
from tests.browser.conftest import DEMO_METERS, NOW, SMS, submit

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser
CITY = build_city(DEMO_METERS)


def test_a_consumer_recharges_and_gets_the_token_for_the_hotspot(
    new_chrome: WebDriver, base_url: str, browser_platform: Platform, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    me = CITY[7]
    new_chrome.get(f"{base_url}/login")
    new_chrome.find_element(By.ID, "mobile").send_keys(me.mobile.removeprefix("+91"))
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=mobile-form] button[type=submit]"))
    new_chrome.find_element(By.ID, "code").send_keys(SMS.last_code(me.mobile))
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=code-form] button[type=submit]"))
    assert new_chrome.current_url == f"{base_url}/consumer/{me.meter_id}"
    before = browser_platform.queries.balance(me.account_no).balance_paise

    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=recharge]"))
    assert new_chrome.current_url == f"{base_url}/consumer/{me.meter_id}/recharge"
    assert "Recharge" in new_chrome.find_element(By.ID, "recharge-heading").text
    amount = new_chrome.find_element(By.ID, "rupees")
    amount.clear()
    amount.send_keys("300")
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, ".recharge-form button[type=submit]"))

    paid = new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=paid]").text
    assert "₹300.00" in paid and "Paid" in paid
    digits = new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=token]").text
    assert re.fullmatch(r"\d{4}( \d{4}){4}", digits)
    taken = tokens.redeem(browser_platform.settings.site_keys.token_key(me.meter_id), digits, NOW, tokens.UsedTokens())
    assert (taken.status, taken.amount_paise) == (tokens.TokenStatus.ACCEPTED, 30_000)
    assert browser_platform.queries.balance(me.account_no).balance_paise == before + 30_000
    new_chrome.save_screenshot(str(screenshots / "recharge-paid.png"))
