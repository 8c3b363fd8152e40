"""The control room's cases in a real headless Chromium: a case opened while the page is open
appears at the top without reloading, and its row follows the case's steps (the live stream)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bijli.bootstrap import Platform
from bijli.vigilance.cases import CaseOpening, Severity, Step, StepRequest, SubjectLevel
from bijli.vigilance.handlers import act, open_cases
from tests.browser.conftest import NOW

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.browser


def test_a_new_case_and_its_steps_appear_on_the_cases_page_live(
    chrome: WebDriver, base_url: str, browser_platform: Platform, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    chrome.get(f"{base_url}/operations/cases?status=all")
    before = len(chrome.find_elements(By.CSS_SELECTOR, "tr[data-case]"))
    (case_id,) = open_cases(
        browser_platform.store,
        [
            CaseOpening(
                key="browser:hooking:DT-CL-0001",
                kind="hooking",
                severity=Severity.HIGH,
                subject_level=SubjectLevel.TRANSFORMER,
                subject_id="DT-CL-0001",
                area="Civil Lines",
                opened_at=NOW,
                reason_code="energy_missing",
                reason_en="18% of the energy into DT-CL-0001 is billed to nobody",
                reason_hi="DT-CL-0001 में आई ऊर्जा का 18% किसी के बिल में नहीं",
                notify_field_staff=True,  # and Civil Lines has no field staff on record here
            )
        ],
    )
    row = f'tr[data-case="{case_id}"]'
    WebDriverWait(chrome, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, row)) == 1)
    rows = chrome.find_elements(By.CSS_SELECTOR, "tr[data-case]")
    assert len(rows) == before + 1 and rows[0].get_attribute("data-case") == case_id  # the newest on top
    assert "DT-CL-0001" in rows[0].text and "High" in rows[0].text
    nobody = chrome.find_element(By.CSS_SELECTOR, f'{row} [data-field="assignee"]').text
    assert nobody == "no field staff on record for this area"  # the control room sees nobody was told

    act(browser_platform.store, case_id, StepRequest(step=Step.ASSIGN, actor="op", reason="r", assignee="fe-ravi"), NOW)
    status = f'{row} [data-field="status"]'
    WebDriverWait(chrome, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, status).text == "Assigned")
    assert chrome.find_element(By.CSS_SELECTOR, f'{row} [data-field="assignee"]').text == "fe-ravi"
    chrome.save_screenshot(str(screenshots / "cases-live.png"))
