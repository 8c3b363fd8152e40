"""Hindi is a whole choice: a page asked in Hindi says nothing in English words."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.web.conftest import DEMO_METERS, MakeClient

CITY = build_city(DEMO_METERS)
METER = CITY[0].meter_id
ENGLISH = re.compile(r"\b(of|the|and|with|to|from|no|not|yet|is|are|was|for|by|on|in|at)\b|\b(No|Page|The) \w")
"""Words only an English sentence has (names, meter and tariff ids, kWh, SIM, IST are not sentences)."""


class Shown(HTMLParser):
    """The text a reader sees in the page's language: not scripts, styles or attributes, nor
    what is marked as English (`lang="en"`: the switch to English, a technical detail)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0
        self._english: list[str] = []  # the tag marked English, once for each of its kind open inside it

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1
        if (self._english and tag == self._english[0]) or (not self._english and ("lang", "en") in attrs):
            self._english.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self._hidden -= 1
        if self._english and tag == self._english[0]:
            self._english.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden and not self._english and data.strip():
            self.parts.append(" ".join(data.split()))


def english_in(html: str) -> list[str]:
    shown = Shown()
    shown.feed(html)
    return [part for part in shown.parts if ENGLISH.search(part)]


@pytest.mark.parametrize(
    "path",
    [
        "/operations",
        "/operations?day=2026-11-01",
        "/operations/fleet",
        "/operations/fleet?by=area",
        "/operations/meters",
        "/operations/meters?view=offline",
        "/operations/commands",
        "/operations/cases",
        "/operations/outages",
        "/operations/disputes",
        "/operations/reconciliation",
        f"/operations/meters/{METER}",
        f"/consumer/{METER}",
        f"/consumer/{METER}?view=month",
        f"/consumer/{METER}/charges",
        f"/consumer/{METER}/recharge",
        f"/consumer/{METER}/share",
        f"/accounts/{CITY[0].account_no}/statements/2026-11",
    ],
)
def test_a_page_in_hindi_has_no_english_sentence(platform: Platform, make_client: MakeClient, path: str) -> None:
    joiner = "&" if "?" in path else "?"
    page = make_client(platform, role=Role.ADMIN).get(f"{path}{joiner}lang=hi")
    assert page.status_code == 200
    assert '<html lang="hi">' in page.text
    assert english_in(page.text) == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login", 200),
        ("/consumer/KNXX0000009", 404),
        ("/operations?page=99", 404),
        ("/consumer/KNCL0000001?day=someday", 400),
    ],
)
def test_the_login_and_error_pages_in_hindi_have_no_english_sentence(
    platform: Platform, make_client: MakeClient, path: str, status: int
) -> None:
    joiner = "&" if "?" in path else "?"
    page = make_client(platform, role=None if path == "/login" else Role.ADMIN).get(f"{path}{joiner}lang=hi")
    assert page.status_code == status
    assert '<html lang="hi">' in page.text
    assert english_in(page.text) == []
