"""The control room in a real headless Chromium: an operator watches a tamper case arrive live,
assigns it, and disconnects the meter with a reason; each control-room page is saved on a
phone and a desktop, in Hindi and in English."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bijli.adapters.db.outages import OutageFilter
from bijli.bootstrap import Platform
from bijli.network.outages import Outage, OutageLevel, StoredOutage
from bijli.vigilance.handlers import cases
from bijli.vigilance.ports import CaseFilter
from tests.browser.conftest import NOW, OPERATOR, OUT_OF_SIGHT, as_phone, screenshot, staff_login, submit, until
from tests.support.cases import hold_magnet

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser


def wait_for(driver: WebDriver, css: str) -> None:
    from selenium.webdriver.common.by import By

    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, css))


def test_an_operator_sees_a_tamper_case_arrive_live_assigns_it_and_disconnects_the_meter(
    chrome: WebDriver, base_url: str, browser_platform: Platform
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    meter_id = browser_platform.reads.meters(3, 0)[2].meter_id
    chrome.get(f"{base_url}/operations/cases?lang=en")
    wait_for(chrome, "section[data-live][data-connected='1']")
    assert not chrome.find_elements(By.CSS_SELECTOR, f"tr[data-case] a[href='/operations/meters/{meter_id}']")

    # A magnet held to the meter; the page is not reloaded: the case arrives on the live stream.
    hold_magnet(browser_platform.store, meter_id, NOW - timedelta(minutes=3), NOW, NOW)
    arrived = f"tr[data-case].is-new a[href='/operations/meters/{meter_id}']"
    wait_for(chrome, arrived)
    row = chrome.find_element(By.CSS_SELECTOR, arrived).find_element(By.XPATH, "./ancestor::tr")
    assert "New" in row.text and "High" in row.text
    screenshot(chrome, "control-cases")

    submit(chrome, row.find_element(By.CSS_SELECTOR, "a[href^='/operations/cases/']"))
    Select(chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-step]")).select_by_value("assign")
    assignee = chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-assignee-input]")
    assignee.clear()
    assignee.send_keys("je.sharma")
    chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-reason]").send_keys("Magnet alarm: site visit today")
    submit(chrome, chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-send]"))
    assert chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-status]").text == "Assigned"
    assert chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-assignee]").text == "je.sharma"
    history = chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-history]").text
    assert OPERATOR in history and "Magnet alarm: site visit today" in history
    screenshot(chrome, "control-case")

    submit(chrome, chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-meter]"))
    Select(chrome.find_element(By.CSS_SELECTOR, "[data-testid=console-action]")).select_by_value("relay_disconnect")
    send = chrome.find_element(By.CSS_SELECTOR, "[data-testid=console-send]")
    send.click()  # no reason: the browser holds the form back, nothing is asked
    assert chrome.find_element(By.CSS_SELECTOR, "[data-testid=console-reason]").get_property("validity")["valueMissing"]
    before = len(browser_platform.queries.commands_of(meter_id, 100))
    chrome.find_element(By.CSS_SELECTOR, "[data-testid=console-reason]").send_keys("Magnet tamper confirmed on site")
    submit(chrome, send)
    assert "is queued" in chrome.find_element(By.CSS_SELECTOR, "[data-testid=command-asked]").text
    asked = browser_platform.queries.commands_of(meter_id, 100)
    assert len(asked) == before + 1
    assert (asked[0].action, asked[0].reason, asked[0].requested_by) == (
        "relay_disconnect",
        "Magnet tamper confirmed on site",
        OPERATOR,
    )
    assert (
        "Magnet tamper confirmed on site" in chrome.find_element(By.CSS_SELECTOR, "[data-testid=meter-commands]").text
    )
    screenshot(chrome, "control-meter")


def test_an_operator_sees_an_outage_begin_and_end_live(
    chrome: WebDriver, base_url: str, browser_platform: Platform
) -> None:
    from selenium.webdriver.common.by import By

    meter = browser_platform.reads.meters(1, 0)[0]
    chrome.get(f"{base_url}/operations/outages?lang=en")
    wait_for(chrome, "section[data-outages][data-following='live']")
    assert "Live" in chrome.find_element(By.CSS_SELECTOR, "[data-testid=outages-state]").text
    outage = Outage(
        level=OutageLevel.TRANSFORMER,
        subject=meter.transformer,
        area=meter.area,
        started_at=NOW - timedelta(minutes=5),
        ended_at=None,
        meter_ids=(meter.meter_id,),
    )
    with browser_platform.store.transaction() as uow:  # as the outages' round keeps one; the page is not reloaded
        uow.outages.save([StoredOutage(outage_id=None, outage=outage)], NOW)
    (kept,) = browser_platform.outages.outages(OutageFilter(subject=meter.transformer, ongoing=True), 1, 0)
    row = f"tr[data-outage='{kept.outage_id}']"
    wait_for(chrome, row)
    assert "Going on" in chrome.find_element(By.CSS_SELECTOR, row).text
    screenshot(chrome, "control-outages-live")

    ended = replace(outage, ended_at=NOW - timedelta(minutes=1))
    with browser_platform.store.transaction() as uow:
        uow.outages.save([StoredOutage(outage_id=kept.outage_id, outage=ended)], NOW + timedelta(seconds=1))
    until(chrome, lambda d: "Ended" in d.find_element(By.CSS_SELECTOR, f"{row} [data-field=state]").text)
    assert chrome.find_element(By.CSS_SELECTOR, f"{row} [data-field=ended]").text.endswith("00:09")


def test_without_the_stream_the_outages_page_asks_the_list_instead(
    new_chrome: WebDriver, base_url: str, browser_platform: Platform
) -> None:
    from selenium.webdriver.common.by import By

    # A browser (or a proxy in between) without server-sent events: the page falls back.
    new_chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"})
    staff_login(new_chrome, base_url, OPERATOR)
    new_chrome.get(f"{base_url}/operations/outages?lang=en")
    wait_for(new_chrome, "section[data-outages][data-following='poll'][data-polled]")
    meter = browser_platform.reads.meters(2, 0)[1]
    outage = Outage(
        level=OutageLevel.FEEDER,
        subject=meter.feeder,
        area=meter.area,
        started_at=NOW - timedelta(minutes=7),
        ended_at=None,
        meter_ids=(meter.meter_id,),
    )
    with browser_platform.store.transaction() as uow:
        uow.outages.save([StoredOutage(outage_id=None, outage=outage)], NOW)
    (kept,) = browser_platform.outages.outages(OutageFilter(subject=meter.feeder, level="feeder"), 1, 0)
    wait_for(new_chrome, f"tr[data-outage='{kept.outage_id}']")
    row = new_chrome.find_element(By.CSS_SELECTOR, f"tr[data-outage='{kept.outage_id}']").text
    assert "Feeder supply" in row and "Going on" in row


@pytest.mark.parametrize("lang", ["hi", "en"])
def test_the_control_rooms_pages_on_a_phone_and_a_desktop(
    chrome: WebDriver, base_url: str, browser_platform: Platform, lang: str
) -> None:
    from selenium.webdriver.common.by import By

    meter_id = browser_platform.reads.meters(1, 0)[0].meter_id
    pages = {
        "control-overview": "/operations",
        "control-fleet": "/operations/fleet?by=transformer",
        "control-meters": "/operations/meters",
        "control-silent": "/operations/meters?view=silent",
        "control-commands": "/operations/commands",
        "control-cases": "/operations/cases?status=all",
        "control-outages": "/operations/outages",
        "control-meter": f"/operations/meters/{meter_id}",
        "control-reconciliation": "/operations/reconciliation",
    }
    journeys_case = None
    for journeys_case in cases(browser_platform.store, CaseFilter(), 1, 0):  # when the journey ran first
        pages["control-case"] = f"/operations/cases/{journeys_case.case_id}"
    chrome.get(f"{base_url}/operations/meters?lang={lang}")
    for name, path in pages.items():
        chrome.get(base_url + path)
        assert chrome.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == lang
        switch = chrome.find_element(By.CSS_SELECTOR, "[data-testid=switch-language]").text
        assert switch == ("English" if lang == "hi" else "हिन्दी")
        as_phone(chrome)
        wide, seen = chrome.execute_script("const d = document.documentElement; return [d.scrollWidth, d.clientWidth];")
        assert wide <= seen, f"{name} is {wide} px wide on a phone showing {seen} px (it scrolls sideways)"
        assert chrome.execute_script(OUT_OF_SIGHT) == [], f"{name}: a table's figures are hidden on a phone"
        if name == "control-case" and journeys_case is not None:  # why it opened, in the page's language
            opened = journeys_case.reason_hi if lang == "hi" else journeys_case.reason_en
            assert opened in chrome.find_element(By.CSS_SELECTOR, "[data-testid=case-history]").text
        screenshot(chrome, name)
    chrome.get(f"{base_url}/operations/meters?lang=en")
    chrome.set_window_size(1366, 900)
