"""A day's charges item by item: energy by slab, fixed charge, duty, traced to every interval."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.prepaid.charging import IntervalCharge
from bijli.prepaid.tariff import builtin_tariffs
from bijli.web.deductions import slab_shares
from tests.web.conftest import DEMO_METERS, MakeClient

MINE = build_city(DEMO_METERS)[0]


def rupees(html: str, testid: str) -> Decimal:
    found = re.search(rf'data-testid="{testid}">(\u2212?)₹([\d,]+\.\d\d)<', html)
    assert found is not None, testid
    return Decimal(found.group(2).replace(",", "")) * (-1 if found.group(1) else 1)


def test_the_days_items_add_up_to_its_charge_and_its_intervals(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    page = client.get(f"/consumer/{MINE.meter_id}/charges?day=2026-11-02")
    assert page.status_code == 200
    html = page.text
    assert rupees(html, "energy") + rupees(html, "fixed") + rupees(html, "duty") == rupees(html, "day-charge")
    rows = re.findall(r"<tr><th scope=\"row\" class=\"mono\">(\d\d:\d\d)</th>", html)
    assert len(rows) == 96
    energy = re.findall(r'<td class="num mono">(₹[\d,]+\.\d\d)</td><td class="num mono">₹[\d,]+\.\d\d</td></tr>', html)
    assert sum(Decimal(e[1:].replace(",", "")) for e in energy) == rupees(html, "energy")
    slabs = re.search(r'data-testid="slabs">.*?</table>', html, re.S)
    assert slabs is not None and re.search(r"<th scope=\"row\">0\u2013\d+ kWh<", slabs.group(0))
    assert 'data-testid="trace" href="/api/v1/accounts/' in html or "ledger?start=2026-11-02" in html
    hindi = client.get(f"/consumer/{MINE.meter_id}/charges?day=2026-11-02&lang=hi").text
    assert "02 नवंबर 2026 के शुल्क" in hindi and "ऊर्जा शुल्क" in hindi


def test_a_bad_day_or_a_meter_without_account_is_refused(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    assert client.get(f"/consumer/{MINE.meter_id}/charges?day=2nd").status_code == 422
    assert client.get("/consumer/KNXX9999999/charges").status_code == 404


def test_an_interval_across_a_slab_boundary_is_split_between_the_two() -> None:
    version = builtin_tariffs()["UP-LMV1-DU"].on(datetime(2026, 11, 2).date())
    at = datetime(2026, 11, 2, tzinfo=UTC)

    def charge(before: int, wh: int) -> IntervalCharge:
        return IntervalCharge(
            account_no="A",
            meter_id="M",
            interval_start=at,
            wh=wh,
            month_wh_before=before,
            energy_paise=0,
            duty_paise=0,
            tariff_version=version.label,
        )

    first_top = version.slabs[0].up_to_wh
    assert first_top is not None
    shares = slab_shares(version, [charge(first_top - 300, 500), charge(0, 200)])
    assert [(s.low_kwh, s.wh) for s in shares] == [(0, 500), (first_top // 1000, 200)]
