"""The operations dashboard and the consumer page, in a real headless Chromium."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import DEMO_METERS

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser


def api_json(base_url: str, path: str, auth: dict[str, str]) -> dict[str, object]:
    with urllib.request.urlopen(urllib.request.Request(base_url + path, headers=auth), timeout=10) as response:
        body: dict[str, object] = json.load(response)
    return body


def shown_rupees(text: str) -> Decimal:
    """``₹1,234.50`` (or with a minus sign) as a Decimal."""
    cleaned = text.strip().replace("₹", "").replace(",", "").replace("\u2212", "-")
    return Decimal(cleaned)


def full_page_screenshot(driver: WebDriver, path: Path, width: int = 1366) -> None:
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(600, min(int(height) + 120, 6000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1366, 900)


def test_operations_lists_meters_and_leads_to_a_consumer(chrome: WebDriver, base_url: str, screenshots: Path) -> None:
    from selenium.webdriver.common.by import By

    chrome.get(base_url + "/")
    assert chrome.current_url == base_url + "/operations"
    assert "Operations" in chrome.title
    rows = chrome.find_elements(By.CSS_SELECTOR, "table.meters tbody tr[data-meter]")
    assert len(rows) == DEMO_METERS
    assert chrome.find_element(By.CSS_SELECTOR, "[data-testid=fleet-meters]").text == str(DEMO_METERS)
    assert chrome.find_element(By.CSS_SELECTOR, "[data-testid=fleet-online]").text.startswith(str(DEMO_METERS))
    headers = [th.text for th in chrome.find_elements(By.CSS_SELECTOR, "table.meters thead th")]
    assert any("Balance" in h for h in headers) and any("Last seen" in h for h in headers)
    # The Hindi is set in the Devanagari font bijli serves, whatever fonts the machine has.
    hindi = chrome.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.fonts.ready.then(() => done([...document.fonts]"
        ".filter(f => f.family.includes('bijli Devanagari')).map(f => f.status)));"
    )
    assert hindi == ["loaded"]
    full_page_screenshot(chrome, screenshots / "operations.png")
    full_page_screenshot(chrome, screenshots / "operations-phone.png", width=390)

    first = rows[0].get_attribute("data-meter")
    assert first
    link = rows[0].find_element(By.CSS_SELECTOR, "a")
    assert link.text == first
    link.click()
    assert chrome.current_url == f"{base_url}/consumer/{first}"
    assert chrome.find_element(By.CSS_SELECTOR, "[data-testid=meter-id]").text == first


def test_consumer_page_charts_a_day_and_shows_the_api_balance(
    chrome: WebDriver, base_url: str, screenshots: Path, api_auth: dict[str, str]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    meter_id = "KNCL0000001"  # recharged in the demo on its second day
    chrome.get(f"{base_url}/consumer/{meter_id}")
    bars = chrome.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
    assert len(bars) == 96
    title = chrome.find_element(By.CSS_SELECTOR, "svg.chart > title")
    assert "02 Nov 2026" in title.get_attribute("textContent")  # type: ignore[operator]
    assert all(float(b.get_attribute("height") or 0) >= 0 for b in bars)

    api_balance = api_json(base_url, f"/api/v1/meters/{meter_id}/balance", api_auth)
    page_balance = chrome.find_element(By.CSS_SELECTOR, "[data-testid=balance]").text
    assert shown_rupees(page_balance) == Decimal(str(api_balance["balance"]))

    readings = api_json(
        base_url,
        f"/api/v1/meters/{meter_id}/readings?start=2026-11-02T00:00%2B05:30&end=2026-11-03T00:00%2B05:30",
        api_auth,
    )
    items = readings["items"]
    assert isinstance(items, list)
    day_total = sum(Decimal(i["kwh"]) for i in items)
    assert chrome.find_element(By.CSS_SELECTOR, "[data-testid=day-total]").text == f"{day_total} kWh"
    full_page_screenshot(chrome, screenshots / "consumer.png")

    chrome.find_element(By.CSS_SELECTOR, "a[rel=prev]").click()
    # The day before is swapped in without a reload, and the address follows it.
    WebDriverWait(chrome, 10).until(lambda d: "day=2026-11-01" in d.current_url)
    title = chrome.find_element(By.CSS_SELECTOR, "svg.chart > title")
    assert "01 Nov 2026" in title.get_attribute("textContent")  # type: ignore[operator]
    assert len(chrome.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")) == 96

    chrome.get(f"{base_url}/consumer/{meter_id}")
    full_page_screenshot(chrome, screenshots / "consumer-phone.png", width=390)


def test_unknown_meter_gets_a_friendly_404(chrome: WebDriver, base_url: str, screenshots: Path) -> None:
    from selenium.webdriver.common.by import By

    chrome.get(f"{base_url}/consumer/KNXX9999999")
    assert "meter KNXX9999999 not found" in chrome.find_element(By.TAG_NAME, "main").text
    chrome.save_screenshot(str(screenshots / "not-found.png"))
