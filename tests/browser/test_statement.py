"""The monthly statement in a real headless Chromium, as a consumer reads it: in Hindi, the
language they chose, then in English."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bijli.fleet.city import build_city
from tests.browser.conftest import DEMO_METERS, SMS, submit
from tests.browser.test_pages import api_json, full_page_screenshot, shown_rupees

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser
CITY = build_city(DEMO_METERS)


def test_a_consumer_reads_their_statement_in_hindi_and_in_english(
    new_chrome: WebDriver, base_url: str, screenshots: Path, api_auth: dict[str, str]
) -> None:
    from selenium.webdriver.common.by import By

    me, neighbour = CITY[4], CITY[5]
    new_chrome.get(f"{base_url}/login")
    new_chrome.find_element(By.ID, "mobile").send_keys(me.mobile.removeprefix("+91"))
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=mobile-form] button[type=submit]"))
    new_chrome.find_element(By.ID, "code").send_keys(SMS.last_code(me.mobile))
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=code-form] button[type=submit]"))
    assert new_chrome.current_url == f"{base_url}/consumer/{me.meter_id}"

    link = new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=statement-link]")
    submit(new_chrome, link)
    assert new_chrome.current_url == f"{base_url}/accounts/{me.account_no}/statements/2026-11"
    expected = api_json(base_url, f"/api/v1/accounts/{me.account_no}/statements/2026-11", api_auth)

    def shown(testid: str) -> str:
        return str(new_chrome.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]").text)

    # The consumer chose Hindi: the statement opens in it.
    assert new_chrome.find_element(By.TAG_NAME, "html").get_attribute("lang") == "hi"
    assert shown("statement-title") == "मासिक विवरण"
    assert shown("statement-month") == "नवंबर 2026"
    assert "अंतिम शेष" in shown("line-closing")
    assert "ऊर्जा शुल्क" in shown("line-energy") and "स्थायी शुल्क" in shown("line-fixed")
    assert shown_rupees(shown("closing")) == shown_rupees(str(expected["closing_balance"]))
    main = new_chrome.find_element(By.TAG_NAME, "main").text
    assert "Closing balance" not in main and "Energy charge" not in main
    # The Hindi is set in the Devanagari font bijli serves, whatever fonts the machine has.
    fonts = new_chrome.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.fonts.ready.then(() => done([...document.fonts]"
        ".filter(f => f.family.includes('bijli Devanagari')).map(f => f.status)));"
    )
    assert fonts == ["loaded"]
    full_page_screenshot(new_chrome, screenshots / "statement-hi.png")
    submit(new_chrome, new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=lang-en]"))
    assert new_chrome.current_url.endswith("/statements/2026-11?lang=en")
    assert new_chrome.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert shown("statement-title") == "Monthly statement"
    assert shown("statement-month") == "November 2026"
    assert shown_rupees(shown("closing")) == shown_rupees(str(expected["closing_balance"]))
    assert shown_rupees(shown("slab-total")) == shown_rupees(str(expected["energy_charge"]))
    assert shown("energy-kwh") == expected["energy_kwh"]
    assert "Energy charge" in shown("line-energy") and "Fixed charge" in shown("line-fixed")
    full_page_screenshot(new_chrome, screenshots / "statement-en.png")

    pdf = new_chrome.find_element(By.CSS_SELECTOR, "[data-testid=pdf]").get_attribute("href")
    assert pdf == f"{base_url}/accounts/{me.account_no}/statements/2026-11/pdf?lang=en"

    new_chrome.get(f"{base_url}/accounts/{neighbour.account_no}/statements/2026-11?lang=hi")
    assert f"account {neighbour.account_no} not found" in new_chrome.find_element(By.TAG_NAME, "main").text
    assert neighbour.consumer_name not in new_chrome.page_source
