"""The consumer app: usage by the interval or by the day in kWh or rupees, the part that
refreshes itself, the staleness banner, and what makes it installable and usable offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.web.consumer_pages import age_parts
from tests.web.conftest import DEMO_METERS, MakeClient

CITY = build_city(DEMO_METERS)
MINE = CITY[0]


def bar_values(html: str) -> list[str]:
    """The figures of the page's table (one row per bar)."""
    return re.findall(r'<td class="num mono">([^<]+?)(?: <span|</td>)', html)


def test_the_day_in_rupees_adds_up_to_the_intervals_charges(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    kwh = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02&view=day&unit=kwh").text
    rupees = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02&view=day&unit=rs").text
    assert len(bar_values(kwh)) == 96 and len(bar_values(rupees)) == 96
    shown = sum(Decimal(v.replace("₹", "").replace(",", "")) for v in bar_values(rupees))
    total = re.search(r'data-testid="day-total">₹([\d,]+\.\d\d)', rupees)
    assert total is not None and Decimal(total.group(1).replace(",", "")) == shown
    assert shown > 0
    assert 'aria-current="true" data-testid="unit-rs"' in rupees


def test_the_month_by_day_shows_each_days_energy_and_charge(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    kwh = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02&view=month&unit=kwh").text
    rupees = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02&view=month&unit=rs").text
    assert "November 2026" in kwh and 'data-testid="month-total"' in kwh
    day_kwh = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02").text
    day_total = re.search(r'data-testid="day-total">([\d.]+) <span', day_kwh)
    assert day_total is not None
    assert day_total.group(1) in bar_values(kwh)  # the 2nd's bar is the day's total
    assert all(v.startswith("₹") for v in bar_values(rupees)) and bar_values(rupees)
    hindi = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02&view=month&lang=hi").text
    assert "नवंबर 2026" in hindi


def test_the_live_part_is_the_same_balance_and_chart_without_the_page(
    platform: Platform, make_client: MakeClient
) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    page = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02").text
    live = client.get(f"/consumer/{MINE.meter_id}/live?day=2026-11-02&view=day&unit=kwh")
    assert live.status_code == 200 and "<html" not in live.text
    balance = re.search(r'data-testid="balance">([^<]+)<', live.text)
    assert balance is not None and balance.group(1) in page
    assert bar_values(live.text) == bar_values(page)
    assert f'data-live="/consumer/{MINE.meter_id}/live?view=day&amp;unit=kwh&amp;day=2026-11-02"' in page
    assert '<script src="/static/consumer.js" defer></script>' in page
    assert '<link rel="manifest" href="/static/consumer.webmanifest">' in page


def test_another_consumers_live_part_is_a_404(platform: Platform, make_client: MakeClient) -> None:
    anonymous = make_client(platform, role=None)
    assert anonymous.get(f"/consumer/{MINE.meter_id}/live", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("query", ["view=week", "unit=usd", "day=2026-13-01"])
def test_a_bad_view_unit_or_day_is_refused(platform: Platform, make_client: MakeClient, query: str) -> None:
    r = make_client(platform, role=Role.OPERATOR).get(f"/consumer/{MINE.meter_id}?{query}")
    assert r.status_code in (400, 422)


def test_a_meter_that_stopped_reporting_shows_its_balance_with_a_warning(
    platform: Platform, make_client: MakeClient
) -> None:
    fresh = make_client(platform, role=Role.OPERATOR).get(f"/consumer/{MINE.meter_id}").text
    assert 'data-testid="stale"' not in fresh
    late = make_client(platform, now=datetime(2026, 11, 3, 0, 30, tzinfo=UTC), role=Role.OPERATOR)
    page = late.get(f"/consumer/{MINE.meter_id}").text
    assert 'data-testid="stale"' in page
    assert "Your meter has not reported since 03 Nov 2026, 00:00 (5 h ago)" in page
    hindi = late.get(f"/consumer/{MINE.meter_id}?lang=hi").text
    assert "आपके मीटर ने 03 नवंबर 2026, 00:00 (5 घंटे पहले) के बाद से रिपोर्ट नहीं किया है" in hindi


def test_ages_read_in_minutes_hours_then_days() -> None:
    at = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert age_parts(at, datetime(2026, 11, 2, 12, 40, tzinfo=UTC)) == ("consumer.age_minutes", 40)
    assert age_parts(at, datetime(2026, 11, 2, 17, 0, tzinfo=UTC)) == ("consumer.age_hours", 5)
    assert age_parts(at, datetime(2026, 11, 5, 12, 0, tzinfo=UTC)) == ("consumer.age_days", 3)


def test_the_app_is_installable_and_has_an_offline_page(platform: Platform, make_client: MakeClient) -> None:
    anonymous = make_client(platform, role=None)
    worker = anonymous.get("/consumer-sw.js")
    assert worker.status_code == 200 and worker.headers["service-worker-allowed"] == "/consumer/"
    assert "javascript" in worker.headers["content-type"]
    for path in re.findall(r'"(/static/[^"]+)"', worker.text):  # everything the offline page needs is ours
        assert anonymous.get(path).status_code == 200, path
    manifest = anonymous.get("/static/consumer.webmanifest").json()
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone" and manifest["icons"]


def test_the_consumer_page_weighs_under_300_kb_with_everything_it_loads(
    platform: Platform, make_client: MakeClient
) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    page = client.get(f"/consumer/{MINE.meter_id}?day=2026-11-02")
    total = len(page.content)
    for ref in set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)):
        total += len(client.get(ref).content)
    total += len(client.get("/static/fonts/noto-sans-devanagari.woff2").content)
    assert total < 300_000, total
