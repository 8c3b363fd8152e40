"""The pages as the server renders them (the browser tests drive them in Chromium)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bijli import settings
from bijli.accounts.handlers import change_status
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from tests.web.conftest import DEMO_METERS

if TYPE_CHECKING:
    from fastapi.testclient import TestClient  # imported at run time by conftest, quietly

METERS = build_city(DEMO_METERS)


def test_home_leads_to_operations(api: TestClient) -> None:
    r = api.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/operations"


def test_operations_lists_every_meter_with_a_link_to_its_consumer_page(api: TestClient) -> None:
    r = api.get("/operations")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for c in METERS:
        assert f'href="/consumer/{c.meter_id}"' in r.text
        assert c.consumer_name in r.text
    assert r.text.count('class="badge online"') == len(METERS)
    assert '<th scope="col"' in r.text


def test_operations_page_past_the_last_is_not_found(api: TestClient) -> None:
    r = api.get("/operations", params={"page": 2})
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]


def test_operations_page_number_must_be_a_positive_whole_number(api: TestClient) -> None:
    assert api.get("/operations", params={"page": 0}).status_code == 422
    assert api.get("/operations", params={"page": "two"}).status_code == 422


def test_consumer_page_shows_balance_and_a_day_of_96_bars(api: TestClient) -> None:
    c = METERS[0]
    balance = api.get(f"/api/v1/meters/{c.meter_id}/balance").json()["balance"]
    r = api.get(f"/consumer/{c.meter_id}")
    assert r.status_code == 200
    whole, paise = balance.split(".")
    assert re.search(rf'data-testid="balance">₹{int(whole):,}\.{paise}<', r.text)
    assert len(re.findall(r'<rect class="bar[ "]', r.text)) == 96
    assert '<title id="usage-chart-title">' in r.text
    assert "2026-11-02" in r.text  # the day of the latest reading, by default
    assert "day=2026-11-01" in r.text


def test_consumer_page_for_a_day_without_readings_has_no_bars(api: TestClient) -> None:
    r = api.get(f"/consumer/{METERS[0].meter_id}", params={"day": "2026-10-01"})
    assert r.status_code == 200
    assert '<rect class="bar' not in r.text
    assert "No readings for this day." in r.text


@pytest.mark.parametrize(("path", "status"), [("/consumer/KNXX9999999", 404), ("/consumer/KNCL0000001?day=2nd", 400)])
def test_bad_page_requests_get_an_html_error_page(api: TestClient, path: str, status: int) -> None:
    r = api.get(path)
    assert r.status_code == status
    assert "text/html" in r.headers["content-type"]
    assert "Back to the start" in r.text


def test_pages_load_nothing_from_elsewhere(api: TestClient) -> None:
    for path in ["/operations", f"/consumer/{METERS[0].meter_id}", "/consumer/nope"]:
        html = api.get(path).text
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert ref.startswith(("/", "?", "#")), ref


def test_stylesheet_and_everything_it_uses_are_served_by_bijli(api: TestClient) -> None:
    r = api.get("/static/bijli.css")
    assert r.status_code == 200
    assert "text/css" in r.headers["content-type"]
    assert "@import" not in r.text
    used = re.findall(r"url\(\s*['\"]?([^'\")]+)", r.text)
    assert used == ["/static/fonts/noto-sans-devanagari.woff2"]  # the Hindi text's font
    for path in used:
        font = api.get(path)
        assert font.status_code == 200 and font.content[:4] == b"wOF2"


def test_operations_counts_online_by_the_clock(platform: Platform, make_client: Callable[..., TestClient]) -> None:
    late = make_client(platform, datetime(2026, 11, 3, 6, 0, tzinfo=UTC))
    html = late.get("/operations").text
    assert re.search(r'data-testid="fleet-online">0\b', html)
    assert html.count('class="badge offline"') == len(METERS)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_no_api_explorer_that_loads_scripts_from_a_cdn(api: TestClient, path: str) -> None:
    assert api.get(path).status_code == 404


def test_a_decommissioned_meter_is_shown_out_of_service_not_offline(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    now = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
    platform = bootstrap(settings.build(data_dir=tmp_path, broker_url="memory", new_site=True))
    try:
        city = build_city(4)
        commission_city(platform.store, platform.settings.tariff_code, city, now - timedelta(days=30))
        gone = city[0].meter_id
        change_status(platform.store, gone, "decommissioned", changed_by="operator.verma", reason="removed", now=now)
        client = make_client(platform, now)

        operations = client.get("/operations").text
        consumer = client.get(f"/consumer/{gone}").text
    finally:
        platform.store.dispose()

    assert re.search(r'data-testid="fleet-decommissioned">1\b', operations)
    assert re.search(r'data-testid="fleet-offline">3\b', operations)  # the others, never heard from
    row = re.search(rf'<tr data-meter="{gone}">.*?</tr>', operations, re.S)
    assert row is not None and 'class="badge retired"' in row.group(0) and "badge offline" not in row.group(0)
    assert operations.count('class="badge offline"') == 3
    assert 'class="badge retired"' in consumer and "badge offline" not in consumer


def test_operations_shows_yesterdays_data_collection_and_the_silent_meters(
    platform: Platform, make_client: Callable[..., TestClient]
) -> None:
    html = make_client(platform).get("/operations").text  # just after midnight IST: yesterday is the demo's day

    assert "02 Nov 2026 (IST)" in html
    assert re.search(r'data-testid="collection-8h">100\.00%\s*<span class="stat-sub">4 of 4<', html)
    assert re.search(r'data-testid="collection-now">100\.00%', html)
    assert re.search(r'data-testid="silent-24h"><a href="/operations/meters\?view=silent">0<', html)

    before = make_client(platform, datetime(2026, 11, 2, 6, 0, tzinfo=UTC)).get("/operations").text
    assert re.search(r'data-testid="collection-8h">—', before)  # no meter was there all of the 1st
    assert "no meter was in service all day" in before

    days_later = make_client(platform, datetime(2026, 11, 5, 6, 0, tzinfo=UTC))
    newest = days_later.get("/operations").text  # nothing came on the 4th: the newest day with data, said so
    assert "02 Nov 2026 (IST)" in newest and "showing 02 Nov 2026, the newest day with data" in newest
    assert re.search(r'data-testid="silent-24h"><a [^>]*>4<', newest)
    picked = days_later.get("/operations", params={"day": "2026-11-04"}).text
    assert "04 Nov 2026 (IST)" in picked and "newest day with data" not in picked
    assert re.search(r'data-testid="collection-now">0\.00%', picked)
    assert days_later.get("/operations", params={"day": "2026-11-31"}).status_code == 400
