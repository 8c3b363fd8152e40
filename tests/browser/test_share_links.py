"""A household makes a share link for a family member in a real headless Chromium; the family
member opens it, signed in as nobody, and reads the account in Hindi and English on a phone
and a desktop; the household revokes it and the link then says so and shows nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.prepaid.handlers import record_recharge
from tests.browser.conftest import (
    DEMO_METERS,
    NOW,
    as_phone,
    consumer_login,
    log_out,
    screenshot,
    screenshot_languages,
    submit,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser

HOUSEHOLD = build_city(DEMO_METERS)[7]


def test_a_household_shares_its_account_with_papa_and_revokes_the_link(
    new_chrome: WebDriver, base_url: str, browser_platform: Platform
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    record_recharge(browser_platform.store, HOUSEHOLD.account_no, 45_000, "pay-share-papa", NOW - timedelta(hours=2))
    driver = new_chrome
    consumer_login(driver, base_url, HOUSEHOLD.mobile)
    driver.get(f"{base_url}/consumer/{HOUSEHOLD.meter_id}?lang=en")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=share-open]"))
    share_page = driver.current_url
    assert share_page.endswith(f"/consumer/{HOUSEHOLD.meter_id}/share")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=share-name]").send_keys("Papa")
    Select(driver.find_element(By.CSS_SELECTOR, "[data-testid=share-days]")).select_by_value("30")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=share-make]"))
    assert "Link made for Papa" in driver.find_element(By.CSS_SELECTOR, "[data-testid=share-new]").text
    link = driver.find_element(By.CSS_SELECTOR, "[data-testid=share-url]").get_property("value")
    assert link.startswith(f"{base_url}/shared/")
    screenshot(driver, "share-made")
    screenshot_languages(driver, "share", share_page)
    assert fits_a_phone(driver), "the share page scrolls sideways on a phone"
    log_out(driver)

    driver.get(link + "?lang=en")  # nobody signed in
    assert driver.find_element(By.CSS_SELECTOR, "[data-testid=shared-name]").text == HOUSEHOLD.consumer_name
    assert driver.find_element(By.CSS_SELECTOR, "[data-testid=balance]").text.startswith("₹")
    assert "as of" in driver.find_element(By.CSS_SELECTOR, "[data-testid=as-of]").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=usage-chart] rect.bar")) == 96
    recharges = driver.find_element(By.CSS_SELECTOR, "[data-testid=shared-recharges]").text
    assert "02 Nov 2026, 22:10" in recharges and "₹450.00" in recharges
    page = driver.find_element(By.TAG_NAME, "main").text
    assert HOUSEHOLD.account_no not in page and HOUSEHOLD.meter_id not in page
    assert not driver.find_elements(By.CSS_SELECTOR, "main form, main a[href*='/recharge'], main a[download]")
    screenshot_languages(driver, "shared", link)
    assert fits_a_phone(driver), "the shared view scrolls sideways on a phone"

    consumer_login(driver, base_url, HOUSEHOLD.mobile)
    driver.get(share_page)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=share-revoke]"))
    assert driver.find_element(By.CSS_SELECTOR, "[data-testid=share-state]").text == "Revoked"
    log_out(driver)
    driver.get(link)
    assert driver.find_element(By.CSS_SELECTOR, "[data-testid=shared-gone] h1").text == "This link was revoked"
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=balance]")
    screenshot_languages(driver, "shared-revoked", link)


def fits_a_phone(driver: WebDriver) -> bool:
    """Whether the page, laid out 360 px wide, is no wider than the screen."""
    as_phone(driver)
    try:
        wide, seen = driver.execute_script("const d = document.documentElement; return [d.scrollWidth, d.clientWidth];")
    finally:
        driver.set_window_size(1366, 900)
    return bool(wide <= seen)
