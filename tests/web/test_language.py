"""One language at a time on every page: chosen with ?lang=, remembered in a cookie, Indian dates."""

from __future__ import annotations

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.web.language import COOKIE
from tests.web.conftest import DEMO_METERS, MakeClient

CITY = build_city(DEMO_METERS)
METER = CITY[0].meter_id


def test_english_by_default_and_no_hindi_beside_it(platform: Platform, make_client: MakeClient) -> None:
    page = make_client(platform, role=Role.OPERATOR).get(f"/consumer/{METER}?day=2026-11-02")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "Balance" in page.text and "शेष राशि" not in page.text
    assert "02 Nov 2026" in page.text
    assert 'href="/consumer/' + METER + '?day=2026-11-02&amp;lang=hi"' in page.text  # the switch keeps the day


def test_lang_hi_shows_hindi_and_is_remembered_on_the_next_page(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    first = client.get(f"/consumer/{METER}?day=2026-11-02&lang=hi")
    assert first.status_code == 200
    assert f"{COOKIE}=hi" in first.headers["set-cookie"] and "SameSite=Lax" in first.headers["set-cookie"]
    assert '<html lang="hi">' in first.text
    assert "शेष राशि" in first.text and ">Balance<" not in first.text
    assert "02 नवंबर 2026" in first.text
    later = client.get("/operations")
    assert '<html lang="hi">' in later.text and "संचालन" in later.text
    assert "set-cookie" not in later.headers or COOKIE not in later.headers["set-cookie"]
    back = client.get("/operations?lang=en")
    assert '<html lang="en">' in back.text and f"{COOKIE}=en" in back.headers["set-cookie"]


def test_the_login_page_speaks_the_chosen_language(platform: Platform, make_client: MakeClient) -> None:
    page = make_client(platform, role=None).get("/login?lang=hi")
    assert '<html lang="hi">' in page.text and "मोबाइल नंबर" in page.text and "Mobile number" not in page.text


@pytest.mark.parametrize("path", ["/login?lang=fr", f"/consumer/{METER}?lang=", "/operations?lang=hindi"])
def test_a_language_the_site_does_not_speak_is_a_400_with_its_reason(
    platform: Platform, make_client: MakeClient, path: str
) -> None:
    r = make_client(platform, role=Role.OPERATOR).get(path)
    assert r.status_code == 400
    assert "is not a language of this site: en or hi" in r.text
    assert "set-cookie" not in r.headers


def test_the_api_takes_no_part(platform: Platform, make_client: MakeClient) -> None:
    r = make_client(platform, role=Role.OPERATOR).get("/api/v1/meters?lang=fr")
    assert r.status_code == 200 and "set-cookie" not in r.headers
