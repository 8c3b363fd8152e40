"""Logging in, in a real headless Chromium: a consumer with a code by SMS, staff with a second factor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyotp
import pytest

from bijli.fleet.city import build_city
from tests.browser.conftest import ADMIN, DEMO_METERS, NOW, PASSWORD, SMS, submit

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser
CITY = build_city(DEMO_METERS)


def test_a_consumer_logs_in_with_a_code_and_sees_only_their_own_meter(
    new_chrome: WebDriver, base_url: str, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    me, neighbour = CITY[2], CITY[3]
    new_chrome.get(f"{base_url}/consumer/{me.meter_id}")
    assert new_chrome.current_url.startswith(f"{base_url}/login")  # nobody is signed in yet
    new_chrome.save_screenshot(str(screenshots / "login.png"))
    new_chrome.find_element(By.ID, "mobile").send_keys(me.mobile.removeprefix("+91"))
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=mobile-form] button[type=submit]"))
    assert "a code is on its way" in new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=login-notice]").text

    new_chrome.find_element(By.ID, "code").send_keys(SMS.last_code(me.mobile))
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=code-form] button[type=submit]"))

    assert new_chrome.current_url == f"{base_url}/consumer/{me.meter_id}"
    assert new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=meter-id]").text == me.meter_id
    assert new_chrome.find_element(By.ID, "consumer-name").text == me.consumer_name
    assert new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=signed-in-as]").text == me.mobile
    assert not new_chrome.find_elements(By.LINK_TEXT, "Operations")  # no way into the fleet
    new_chrome.save_screenshot(str(screenshots / "consumer-logged-in.png"))

    new_chrome.get(f"{base_url}/consumer/{neighbour.meter_id}")
    assert f"meter {neighbour.meter_id} not found" in new_chrome.find_element(By.TAG_NAME, "main").text
    assert neighbour.consumer_name not in new_chrome.page_source
    new_chrome.get(f"{base_url}/operations")
    assert "Not allowed" in new_chrome.find_element(By.TAG_NAME, "main").text
    new_chrome.get(f"{base_url}/")
    assert new_chrome.current_url == f"{base_url}/consumer/{me.meter_id}"

    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "form.signed-in button[type=submit]"))
    assert new_chrome.current_url == f"{base_url}/login"
    new_chrome.get(f"{base_url}/consumer/{me.meter_id}")
    assert new_chrome.current_url.startswith(f"{base_url}/login")


def test_staff_with_a_second_factor_log_in_with_password_and_code(
    new_chrome: WebDriver, base_url: str, totp_secret: str
) -> None:
    from selenium.webdriver.common.by import By

    def log_in(code: str) -> None:
        new_chrome.get(f"{base_url}/login")
        form = new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=staff-form]")
        form.find_element(By.NAME, "username").send_keys(ADMIN)
        form.find_element(By.NAME, "password").send_keys(PASSWORD)
        form.find_element(By.NAME, "totp").send_keys(code)
        submit(new_chrome, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    log_in("000000" if pyotp.TOTP(totp_secret).at(NOW) != "000000" else "111111")
    error = new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=login-error]").text
    assert "Wrong user name, password or code" in error

    log_in(pyotp.TOTP(totp_secret).at(NOW))  # the server's clock is stopped at NOW
    assert new_chrome.current_url == f"{base_url}/operations"
    assert new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=signed-in-as]").text == ADMIN
