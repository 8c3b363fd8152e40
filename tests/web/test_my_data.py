"""My data: a month of readings as CSV and as Green Button (ESPI) XML, the same figures as the API's."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from xml.etree import ElementTree as ET

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.web.my_data import ATOM, ESPI
from tests.web.conftest import DEMO_METERS, MakeClient

MINE = build_city(DEMO_METERS)[0]
DAY = {"start": "2026-11-02T00:00+05:30", "end": "2026-11-03T00:00+05:30"}


def test_the_csv_holds_every_interval_as_the_api_gives_it(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    r = client.get(f"/consumer/{MINE.meter_id}/data.csv", params={"month": "2026-11"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="bijli-{MINE.meter_id}-2026-11.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    api = client.get(f"/api/v1/meters/{MINE.meter_id}/readings", params=DAY).json()["items"]
    assert len(rows) == len(api) == 96
    assert rows[0]["interval_start_ist"] == "2026-11-02T00:00:00+05:30"
    assert rows[0]["interval_end_ist"] == "2026-11-02T00:15:00+05:30"
    assert [row["kwh"] for row in rows] == [x["kwh"] for x in api]


def test_green_button_xml_is_an_espi_feed_of_the_same_watt_hours(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    r = client.get(f"/consumer/{MINE.meter_id}/data.xml", params={"month": "2026-11"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    assert feed.tag == f"{{{ATOM}}}feed"
    reading_type = feed.find(f".//{{{ESPI}}}ReadingType")
    assert reading_type is not None
    assert (
        reading_type.findtext(f"{{{ESPI}}}uom") == "72" and reading_type.findtext(f"{{{ESPI}}}intervalLength") == "900"
    )
    values = [int(v.text or "") for v in feed.iter(f"{{{ESPI}}}value")]
    api = client.get(f"/api/v1/meters/{MINE.meter_id}/readings", params=DAY).json()["items"]
    assert values == [int(Decimal(x["kwh"]) * 1000) for x in api]
    block = feed.find(f".//{{{ESPI}}}IntervalBlock/{{{ESPI}}}interval")
    assert block is not None and block.findtext(f"{{{ESPI}}}duration") == str(30 * 86400)


def test_a_bad_month_is_refused_and_another_households_data_is_not_found(
    platform: Platform, make_client: MakeClient
) -> None:
    client = make_client(platform, role=Role.OPERATOR)
    assert client.get(f"/consumer/{MINE.meter_id}/data.csv", params={"month": "2026-13"}).status_code == 422
    assert client.get(f"/consumer/{MINE.meter_id}/data.csv").status_code == 422
    assert client.get("/consumer/KNXX9999999/data.xml", params={"month": "2026-11"}).status_code == 404
