"""A household disputes a day's charge in two taps; billing staff see it in the control room
with its answer clock and the day's figures, answer it with a reason, and the household reads
the answer on its charges page. Saved on a phone and a desktop, in Hindi and English."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.browser.conftest import (
    BILLING,
    DEMO_METERS,
    as_phone,
    consumer_login,
    log_out,
    screenshot,
    screenshot_languages,
    staff_login,
    submit,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser

HOUSEHOLD = build_city(DEMO_METERS)[5]
DAY = "2026-11-01"
ANSWER = "Checked on site: the meter is right; the geyser ran from 06:00 to 08:00."


def test_billing_answers_a_households_dispute_from_the_control_room(
    new_chrome: WebDriver, base_url: str, browser_platform: Platform
) -> None:
    from selenium.webdriver.common.by import By

    driver = new_chrome
    charges = f"{base_url}/consumer/{HOUSEHOLD.meter_id}/charges?day={DAY}"
    consumer_login(driver, base_url, HOUSEHOLD.mobile)
    driver.get(charges + "&lang=en")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=dispute-open] summary").click()
    driver.find_element(By.CSS_SELECTOR, "input[name=reason][value=not_home]").click()
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=dispute-send]"))
    assert "(7 days left)" in driver.find_element(By.CSS_SELECTOR, "[data-testid=dispute-clock]").text
    charge = driver.find_element(By.CSS_SELECTOR, "[data-testid=day-charge]").text
    log_out(driver)

    browser_platform.reads.control.forget()  # the exception views' counts, kept for half a minute
    staff_login(driver, base_url, BILLING)
    driver.get(f"{base_url}/operations/disputes?lang=en")
    card = driver.find_element(By.XPATH, f"//article[@data-dispute][.//a[text()='{HOUSEHOLD.meter_id}']]")
    assert "7 d 0 h left" in card.find_element(By.CSS_SELECTOR, "[data-testid=dispute-clock]").text
    assert card.find_element(By.CSS_SELECTOR, "[data-testid=dispute-charge]").text == charge
    assert "We were not at home" in card.text and "01 Nov 2026" in card.text
    count = driver.find_element(By.CSS_SELECTOR, "[data-testid=exception-disputes] .exception-count").text
    assert int(count) >= 1
    dispute_id = card.get_attribute("data-dispute")
    screenshot_languages(driver, "control-disputes", f"{base_url}/operations/disputes")
    as_phone(driver)
    wide, seen = driver.execute_script("const d = document.documentElement; return [d.scrollWidth, d.clientWidth];")
    assert wide <= seen, f"the disputes page is {wide} px wide on a phone showing {seen} px"
    driver.set_window_size(1366, 900)

    card = driver.find_element(By.ID, f"dispute-{dispute_id}")
    send = card.find_element(By.CSS_SELECTOR, "[data-testid=dispute-send]")
    send.click()  # no answer: the browser holds the form back
    answer = card.find_element(By.CSS_SELECTOR, "[data-testid=dispute-answer-input]")
    assert answer.get_property("validity")["valueMissing"]
    answer.send_keys(ANSWER)
    submit(driver, send)
    assert (
        f"Dispute {dispute_id} answered"
        in driver.find_element(By.CSS_SELECTOR, "[data-testid=dispute-answered-note]").text
    )
    driver.get(f"{base_url}/operations/disputes?state=answered")
    done = driver.find_element(By.ID, f"dispute-{dispute_id}").text
    assert ANSWER in done and BILLING in done
    screenshot(driver, "control-disputes-answered")
    log_out(driver)

    consumer_login(driver, base_url, HOUSEHOLD.mobile)
    driver.get(charges)
    assert ANSWER in driver.find_element(By.CSS_SELECTOR, "[data-testid=dispute-answer]").text
    screenshot_languages(driver, "charges-answered", charges)
