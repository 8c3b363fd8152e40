"""A household's day in the consumer app, in a real headless Chromium: log in with the SMS
code, see today's usage, recharge, watch the power come back on the tracker without a
reload, download the month's statement, switch to Hindi; each main page saved on a phone
and a desktop, in Hindi and English (artifacts/screenshots/)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.headend.command_records import CommandRecord, CommandRequest, CommandState, new_command
from bijli.headend.commands import Status, Step
from bijli.payments.tracker import reconnect_key
from bijli.protocol.events import EventCode
from tests.browser.conftest import DEMO_METERS, NOW, SMS, as_phone, screenshot, screenshot_languages, submit, until
from tests.support.ingest import receive_events

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser
ME = build_city(DEMO_METERS)[11]


def advance(platform: Platform, key: str, status: Status, seconds: int) -> CommandRecord:
    """The command with `key` moves on, as the dispatcher and the meter move it."""
    with platform.store.transaction() as uow:
        found = uow.commands.by_key(key)
        assert found is not None, key
        state = CommandState(found.command_id, found.meter_id, found.action, found.status, found.attempts)
        assert uow.commands.move(state, Step(status, f"journey: {status.value}"), NOW + timedelta(seconds=seconds))
        moved = uow.commands.by_key(key)
    assert moved is not None
    return moved


def cut_off(platform: Platform) -> None:
    """The supply service cut the meter a day ago (its relay's event is stored)."""
    a_day_ago = NOW - timedelta(days=1)
    receive_events(platform.store, a_day_ago, (ME.meter_id, EventCode.LOAD_SWITCH_DISCONNECTED, a_day_ago))


def power_comes_back(platform: Platform, payment_id: str) -> None:
    """The meter takes the credit, the supply service asks for the reconnection, the meter closes its relay."""
    advance(platform, f"payment:{payment_id}", Status.SENT, 1)
    advance(platform, f"payment:{payment_id}", Status.CONFIRMED, 2)
    request = CommandRequest(
        meter_id=ME.meter_id,
        action="relay_connect",
        args={},
        reason=f"payment {payment_id} brought the balance back to zero or above",
        requested_by="supply",
        idempotency_key=reconnect_key(payment_id),
        expires_in=timedelta(hours=1),
    )
    with platform.store.transaction() as uow:
        uow.commands.add(new_command(request, NOW + timedelta(seconds=3)))
    advance(platform, reconnect_key(payment_id), Status.SENT, 4)
    advance(platform, reconnect_key(payment_id), Status.ACKNOWLEDGED, 6)
    advance(platform, reconnect_key(payment_id), Status.CONFIRMED, 9)


def test_a_household_logs_in_recharges_watches_power_return_and_reads_its_statement_in_hindi(
    new_chrome: WebDriver, base_url: str, browser_platform: Platform
) -> None:
    from selenium.webdriver.common.by import By

    driver = new_chrome
    cut_off(browser_platform)

    def testid(name: str) -> str:
        return str(driver.find_element(By.CSS_SELECTOR, f"[data-testid={name}]").text)

    # Log in with the mobile number and the code the SMS brought.
    driver.get(f"{base_url}/login?lang=en")
    screenshot_languages(driver, "login", f"{base_url}/login")
    driver.find_element(By.ID, "mobile").send_keys(ME.mobile.removeprefix("+91"))
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=mobile-form] button[type=submit]"))
    driver.find_element(By.ID, "code").send_keys(SMS.last_code(ME.mobile))
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=code-form] button[type=submit]"))
    home = f"{base_url}/consumer/{ME.meter_id}"
    assert driver.current_url == home

    # Today's usage: 96 bars of 15 minutes, and the balance with its time.
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=usage-chart] rect.bar")) == 96
    assert testid("balance").startswith("₹") and "as of" in testid("as-of")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 1440
    # The month by day in rupees, swapped in without leaving the page.
    marker = driver.execute_script("window.journeyMarker = 1; return window.journeyMarker")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=view-month]").click()
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=month-total]"))
    driver.find_element(By.CSS_SELECTOR, "[data-testid=unit-rs]").click()
    # The part is swapped in again by each click: an element read as it goes is asked for anew.
    until(driver, lambda d: "₹" in testid("month-total"))
    assert driver.execute_script("return window.journeyMarker") == marker  # no reload
    assert "view=month" in driver.current_url and "unit=rs" in driver.current_url
    screenshot_languages(driver, "consumer-month", driver.current_url)
    screenshot_languages(driver, "consumer", home)
    as_phone(driver)  # nothing runs off the side
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 360 + 1
    driver.set_window_size(1366, 900)

    # Recharge ₹300 through the development gateway.
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=recharge]"))
    screenshot_languages(driver, "recharge", f"{home}/recharge")
    amount = driver.find_element(By.ID, "rupees")
    amount.clear()
    amount.send_keys("300")
    submit(driver, driver.find_element(By.CSS_SELECTOR, ".recharge-form button[type=submit]"))
    assert "₹300.00" in testid("paid")
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=token-steps] li")) == 4
    assert len(testid("token").replace(" ", "")) == 20
    assert "waiting" in testid("step-power_restored")
    payment_id = driver.find_element(By.CSS_SELECTOR, "[data-testid=paid] .mono").text

    # The meter takes the credit and closes its relay: the tracker shows it without a reload.
    power_comes_back(browser_platform, payment_id)
    restored = driver.find_element(By.CSS_SELECTOR, "[data-testid=step-power_restored]")
    until(driver, lambda _: restored.get_attribute("class") == "done")
    assert [li.get_attribute("class") for li in driver.find_elements(By.CSS_SELECTOR, ".tracker li")] == ["done"] * 4
    assert testid("power-back") == "Power came back 9 s after the payment."
    screenshot(driver, "recharge-tracker")

    # The month's statement, and its PDF downloaded.
    driver.get(home)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=statement-link]"))
    statement = driver.current_url
    assert "/statements/2026-11" in statement
    pdf = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.arrayBuffer().then(b => done("
        "[r.status, r.headers.get('content-type'), new TextDecoder().decode(new Uint8Array(b).slice(0, 5))])));",
        statement.split("?")[0] + "/pdf",
    )
    assert pdf == [200, "application/pdf", "%PDF-"]
    screenshot_languages(driver, "statement", statement.split("?")[0])
    # A day's charges item by item, down to its intervals.
    driver.get(home)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=deductions-link]"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=interval-charges] tbody tr")) == 96
    screenshot_languages(driver, "charges", driver.current_url)

    # Switch to Hindi on the app's own switch: remembered on every later page.
    driver.get(home + "?lang=en")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=switch-language]"))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "hi"
    assert driver.find_element(By.ID, "balance-heading").text == "शेष राशि"
    driver.get(f"{home}/recharge")
    assert driver.find_element(By.ID, "recharge-heading").text == "रिचार्ज"
    hindi_fonts = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.fonts.ready.then(() => done([...document.fonts]"
        ".filter(f => f.family.includes('bijli Devanagari')).map(f => f.status)));"
    )
    assert hindi_fonts == ["loaded"]
    driver.get(home + "?lang=en")
