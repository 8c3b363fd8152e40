"""Headless Chromium against the real app, served by uvicorn over a demo-filled store."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bijli import settings
from bijli.access.handlers import add_staff, set_up_totp
from bijli.access.model import Role
from bijli.adapters.sms.console import ConsoleSms
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints import demo
from bijli.kernel.clock import SimulatedClock
from bijli.web.app import create_app
from tests.support.access import ConsoleOutbox, bearer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BRITISH_LOCALE = "/usr/lib/chromium/locales/en-GB.pak"
"""Chromium's English for India (Debian's chromium-l10n): without it the browser is American."""
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
    "--lang=en-IN",
)
DEMO_START = date(2026, 11, 1)
DEMO_DAYS = 2
DEMO_METERS = 24
NOW = datetime(2026, 11, 2, 18, 40, tzinfo=UTC)
"""Ten minutes after the demo's last reports: its meters are online."""
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
OPERATOR, ADMIN, PASSWORD = "browser-operator", "browser-admin", "civil-lines-control-2026"
BILLING = "browser-billing"
SMS = ConsoleOutbox()
"""What the console SMS provider printed: consumers' login codes."""


def _browser_missing() -> str | None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if shutil.which(p) is None]
    if not Path(BRITISH_LOCALE).exists():
        missing.append(BRITISH_LOCALE)
    needed = "apt-get install chromium chromium-driver chromium-l10n"
    return f"{' and '.join(missing)} not installed ({needed})" if missing else None


@pytest.fixture(scope="session")
def browser_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("bijli-browser")
    platform = bootstrap(
        settings.build(data_dir=data_dir, broker_url="memory", new_site=True, dev_gateway=True), sms=ConsoleSms(SMS)
    )
    asyncio.run(demo.run_headless(platform, meters=DEMO_METERS, days=DEMO_DAYS, start=DEMO_START))
    add_staff(platform.store, OPERATOR, Role.OPERATOR, PASSWORD, NOW)
    add_staff(platform.store, ADMIN, Role.ADMIN, PASSWORD, NOW)
    add_staff(platform.store, BILLING, Role.BILLING, PASSWORD, NOW)
    yield platform
    platform.store.dispose()


@pytest.fixture(scope="session")
def base_url(browser_platform: Platform) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread."""
    app = create_app(browser_platform, clock=SimulatedClock(NOW))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


def staff_login(driver: Any, base_url: str, username: str) -> None:
    """Log `username` in (a staff member without a second factor) through the login page."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/login")
    form = driver.find_element(By.CSS_SELECTOR, "[data-testid=staff-form]")
    form.find_element(By.NAME, "username").send_keys(username)
    form.find_element(By.NAME, "password").send_keys(PASSWORD)
    submit(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def consumer_login(driver: Any, base_url: str, mobile: str) -> None:
    """Log a household in with its mobile number and the code the SMS brought."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/login")
    driver.find_element(By.ID, "mobile").send_keys(mobile.removeprefix("+91"))
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=mobile-form] button[type=submit]"))
    driver.find_element(By.ID, "code").send_keys(SMS.last_code(mobile))
    submit(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=code-form] button[type=submit]"))


def log_out(driver: Any) -> None:
    """Log out with the top bar's button."""
    from selenium.webdriver.common.by import By

    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.signed-in button[type=submit]"))


LIVE_WAIT_S = 20


def until(driver: Any, condition: Callable[[Any], Any], seconds: float = LIVE_WAIT_S) -> Any:
    """Wait for `condition` on a page that changes under it: an element the page has just
    replaced (a live row, a form's next page) is asked again at the next poll."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.wait import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, seconds, ignored_exceptions=ignored).until(condition)


def left_behind(element: Any) -> Callable[[Any], bool]:
    """True once `element`'s page has gone. Chromium's driver says so as a stale element or,
    asked while the next page replaces it, as an inspector error that the node is no longer
    in the document."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def gone(_driver: Any) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in (error.msg or ""):
                return True
            raise
        return False

    return gone


def submit(driver: Any, button: Any) -> None:
    """Click a form's submit button and wait for the page it leads to."""
    button.click()
    until(driver, left_behind(button), 15)


@pytest.fixture(scope="session")
def api_auth(browser_platform: Platform) -> dict[str, str]:
    """An auditor's bearer token: the API as another system reads it."""
    return bearer(browser_platform, Role.AUDITOR)


@pytest.fixture(scope="session")
def totp_secret(browser_platform: Platform) -> str:
    """The admin's second factor (set up once: the admin's logins then need its codes)."""
    secret = set_up_totp(browser_platform.store, ADMIN)
    assert secret is not None
    return secret


@pytest.fixture(scope="session")
def chrome(base_url: str) -> Iterator[Any]:
    """A headless Chromium logged in as an operator through the login page."""
    from selenium.webdriver.common.by import By

    for driver in _chromium():
        driver.get(f"{base_url}/login")
        form = driver.find_element(By.CSS_SELECTOR, "[data-testid=staff-form]")
        form.find_element(By.NAME, "username").send_keys(OPERATOR)
        form.find_element(By.NAME, "password").send_keys(PASSWORD)
        submit(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert driver.current_url == f"{base_url}/operations"
        yield driver


@pytest.fixture
def new_chrome() -> Iterator[Any]:
    """A headless Chromium of its own, nobody logged in."""
    yield from _chromium()


def _chromium() -> Iterator[Any]:
    """A headless Chromium driven by chromedriver; missing browser fails on CI, skips elsewhere."""
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need Chromium on CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    # India's English, as a browser in Kanpur: a date field reads 02/11/2026 for 2 November, not
    # 11/02/2026. Chromium on Linux takes its locale from the environment (and needs Debian's
    # chromium-l10n for any but American English).
    service = Service(executable_path=CHROMEDRIVER, env={**os.environ, "LANGUAGE": "en_IN", "LANG": "en_IN.UTF-8"})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


OUT_OF_SIGHT = """
const seen = document.documentElement.clientWidth;
return [...document.querySelectorAll("table tbody tr:first-child > *")]
  .filter(cell => !cell.closest("details:not([open])"))  // folded away by the reader's choice
  .filter(cell => { const r = cell.getBoundingClientRect(); return r.width === 0 || r.right > seen + 1; })
  .map(cell => cell.textContent.trim().slice(0, 40));
"""
"""The cells of each table's first row that a phone does not show: hidden, or past the screen's edge."""


SIZES: dict[str, tuple[int, int]] = {"phone": (360, 800), "desktop": (1440, 900)}
"""The screens every main page is saved at: a small Android phone and a control room's monitor."""
TALLEST = 6000
"""A full-page screenshot stops here (a long list's page)."""


def screenshot(driver: Any, page: str, sizes: tuple[str, ...] = ("phone", "desktop")) -> list[Path]:
    """Save the page `driver` shows, whole, at each of `sizes`, as
    ``artifacts/screenshots/<page>-<phone|desktop>-<hi|en>.png`` (the language read from the
    page's ``<html lang>``); the page is laid out at each width as that device would (a mobile
    viewport for the phone), then the window is as before. Returns the files written."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    lang = driver.execute_script("return document.documentElement.lang") or "en"
    written: list[Path] = []
    try:
        for size in sizes:
            width, height = SIZES[size]
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            if size == "phone":
                hidden = driver.execute_script(OUT_OF_SIGHT)
                assert hidden == [], f"{page}: a table's figures are out of sight on a phone: {hidden}"
            tall = int(driver.execute_script("return document.documentElement.scrollHeight"))
            metrics["height"] = max(height, min(tall, TALLEST))
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            path = SCREENSHOTS / f"{page}-{size}-{lang}.png"
            driver.save_screenshot(str(path))
            written.append(path)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return written


PHONE = (360, 800)


def as_phone(driver: Any) -> None:
    """The window made a phone's, once the page is laid out at its width (the browser resizes
    after `set_window_size` returns)."""
    driver.set_window_size(*PHONE)
    until(driver, lambda d: d.execute_script("return document.documentElement.clientWidth") <= PHONE[0], 10)


def screenshot_languages(driver: Any, page: str, url: str) -> list[Path]:
    """Open `url` in Hindi and in English and save each at every size (`screenshot`); the
    browser is left remembering English. Only for pages a GET shows again (not a form's answer)."""
    from selenium.webdriver.common.by import By

    written: list[Path] = []
    joiner = "&" if "?" in url else "?"
    for lang in ("hi", "en"):
        driver.get(f"{url}{joiner}lang={lang}")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
        written += screenshot(driver, page)
    return written
