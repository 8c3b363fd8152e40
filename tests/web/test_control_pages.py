"""The control room's pages over the demo's store: the fleet by area, feeder and transformer on
a day it picks (or is given), the meters searched, filtered, sorted and paged, the exception
views, a meter's detail, and the command console with its reason, in one language at a time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from bijli.access.model import Role
from bijli.adapters.db.energy_tables import energy_days
from bijli.bootstrap import Platform
from bijli.network.outages import Outage, OutageLevel, StoredOutage
from bijli.vigilance.handlers import open_cases
from tests.support.cases import tamper
from tests.web.conftest import DEMO_DAY, DEMO_METERS, LAST_SEEN, MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def meter_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-meter="([^"]+)">', html)


def test_the_fleet_over_old_data_shows_the_newest_day_with_data_and_says_so(
    platform: Platform, make_client: MakeClient
) -> None:
    weeks_later = make_client(platform, LAST_SEEN + timedelta(days=20))
    html = weeks_later.get("/operations/fleet").text
    assert "02 Nov 2026, the newest day with data" in html
    row = re.search(r'<tr data-group="([^"]+)">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "100.0%" in row.group(2)  # every interval of the demo's day is in


def test_any_past_day_can_be_picked_and_a_day_without_data_shows_none(api: TestClient) -> None:
    picked = api.get("/operations/fleet", params={"day": "2026-10-01"}).text
    assert "Readings of 01 Oct 2026" in picked
    assert "0.000" in picked
    assert api.get("/operations/fleet", params={"day": "2026-13-01"}).status_code == 400
    assert api.get("/operations/fleet", params={"day": "1999-12-31"}).status_code == 400


@pytest.mark.parametrize("by", ["area", "feeder", "transformer"])
def test_the_fleet_groups_by_each_level_and_counts_every_meter_once(api: TestClient, by: str) -> None:
    html = api.get("/operations/fleet", params={"by": by, "day": DEMO_DAY.isoformat()}).text
    counts = re.findall(r'<tr data-group="[^"]+">.*?<td class="num"[^>]*>(\d+)</td>', html, re.S)
    assert sum(int(c) for c in counts) == DEMO_METERS


def test_an_unknown_grouping_or_sort_is_a_clear_400(api: TestClient) -> None:
    r = api.get("/operations/fleet", params={"by": "state"})
    assert r.status_code == 400 and "area, feeder, transformer" in r.text
    assert api.get("/operations/meters", params={"sort": "balance; drop"}).status_code == 400
    assert api.get("/operations/meters", params={"view": "everything"}).status_code == 400


def test_meters_are_searched_sorted_and_paged_on_the_server(api: TestClient) -> None:
    every = meter_ids(api.get("/operations/meters").text)
    assert len(every) == DEMO_METERS and every == sorted(every)
    assert meter_ids(api.get("/operations/meters", params={"sort": "meter", "desc": 1}).text) == every[::-1]
    found = api.get("/operations/meters", params={"q": every[2].lower()}).text
    assert meter_ids(found) == [every[2]]
    none = api.get("/operations/meters", params={"q": "no such meter%"}).text
    assert meter_ids(none) == [] and "Nothing matches." in none
    assert api.get("/operations/meters", params={"page": 2}).status_code == 404


def test_meters_sorted_by_their_state_page_through_every_meter_once(platform: Platform, api: TestClient) -> None:
    every = meter_ids(api.get("/operations/meters").text)
    platform.reads.control.forget()
    for sort in ("last_seen", "signal", "failovers"):
        for desc in (0, 1):
            shown = meter_ids(api.get("/operations/meters", params={"sort": sort, "desc": desc}).text)
            assert sorted(shown) == every


def test_a_meter_is_found_by_its_consumers_name(platform: Platform, api: TestClient) -> None:
    meter = platform.reads.meters(1, 0)[0]
    assert meter.consumer_name
    surname = meter.consumer_name.split()[-1]
    found = meter_ids(api.get("/operations/meters", params={"q": surname[:4]}).text)
    assert meter.meter_id in found


def test_exception_views_list_the_meters_they_name(platform: Platform, make_client: MakeClient) -> None:
    two_days_on = make_client(platform, LAST_SEEN + timedelta(days=2))
    silent = two_days_on.get("/operations/meters", params={"view": "silent"}).text
    assert len(meter_ids(silent)) == DEMO_METERS
    assert re.search(rf'data-testid="exception-silent"><span class="exception-count">{DEMO_METERS}<', silent)
    fresh = make_client(platform).get("/operations/meters", params={"view": "offline"}).text
    assert meter_ids(fresh) == []


def test_a_meters_detail_shows_its_readings_events_commands_and_ledger(platform: Platform, api: TestClient) -> None:
    meter = platform.reads.meters(1, 0)[0]
    html = api.get(f"/operations/meters/{meter.meter_id}").text
    assert "Readings on 02 Nov 2026" in html
    assert "in 96 of 96 intervals" in html
    for testid in ("meter-commands", "meter-events", "meter-ledger", "console-reason"):
        assert f'data-testid="{testid}"' in html
    assert api.get("/operations/meters/KNXX0000000").status_code == 404


def test_the_console_needs_a_reason_and_the_audit_trail_keeps_it(platform: Platform, make_client: MakeClient) -> None:
    operator = make_client(platform, role=Role.OPERATOR, name="desk-1")
    meter = platform.reads.meters(DEMO_METERS, 0)[-1].meter_id
    url = f"/operations/meters/{meter}/commands"
    before = len(platform.queries.commands_of(meter, 100))
    for blank in ("", "   "):
        r = operator.post(url, data={"action": "relay_disconnect", "reason": blank})
        assert r.status_code == 400 and "reason" in r.text
    assert len(platform.queries.commands_of(meter, 100)) == before
    r = operator.post(
        url, data={"action": "relay_disconnect", "reason": "tamper case, site visit"}, follow_redirects=False
    )
    assert r.status_code == 303
    asked = platform.queries.commands_of(meter, 1)[0]
    assert (asked.action, asked.reason, asked.requested_by) == (
        "relay_disconnect",
        "tamper case, site visit",
        "token:desk-1",
    )
    page = operator.get(r.headers["location"]).text
    assert asked.command_id in page
    audit = make_client(platform, role=Role.AUDITOR).get("/api/v1/audit").json()["items"]
    assert any(e["reference"] == asked.command_id and e["detail"] == "tamper case, site visit" for e in audit)


def test_the_console_refuses_an_action_the_role_may_not_ask(platform: Platform, make_client: MakeClient) -> None:
    engineer = make_client(platform, role=Role.FIELD_ENGINEER)
    meter = platform.reads.meters(1, 0)[0].meter_id
    r = engineer.post(f"/operations/meters/{meter}/commands", data={"action": "relay_disconnect", "reason": "x"})
    assert r.status_code == 403
    html = engineer.get(f"/operations/meters/{meter}").text
    assert 'value="relay_connect"' in html and 'value="relay_disconnect"' not in html


def test_hindi_is_chosen_once_and_remembered(api: TestClient) -> None:
    hindi = api.get("/operations/meters", params={"lang": "hi"})
    assert '<html lang="hi">' in hindi.text and "मीटर" in hindi.text and "Nothing matches" not in hindi.text
    assert "Last seen" not in hindi.text
    later = api.get("/operations/fleet", params={"day": DEMO_DAY.isoformat()}).text
    assert "02 नवंबर 2026 की रीडिंग" in later
    english = api.get("/operations/fleet", params={"lang": "en"}).text
    assert '<html lang="en">' in english and "की रीडिंग" not in english


def test_times_on_the_pages_are_ist(api: TestClient, platform: Platform) -> None:
    meter = platform.reads.meters(1, 0)[0]
    assert meter.last_seen is not None
    html = api.get("/operations/meters").text
    shown = meter.last_seen.astimezone(UTC) + timedelta(hours=5, minutes=30)
    assert shown.strftime("%d %b %Y, %H:%M") in html
    assert datetime(2026, 11, 3, tzinfo=UTC)  # the demo's last report is past IST midnight


def a_magnet_case(platform: Platform, meter_id: str, n: int = 1) -> str:
    meter = platform.reads.meter(meter_id, balance=False)
    assert meter is not None
    opening = tamper(
        "magnet",
        meter_id,
        meter.area,
        LAST_SEEN - timedelta(hours=2),
        f"control-test:magnet:{meter_id}:{n}",
        notify_field_staff=True,  # the demo's staff have no area: nobody to tell
    )
    (case_id,) = open_cases(platform.store, [opening])
    return case_id


def test_the_case_queue_lists_open_cases_and_the_case_page_takes_a_step_with_a_reason(
    platform: Platform, make_client: MakeClient
) -> None:
    meter_id = platform.reads.meters(DEMO_METERS, 0)[0].meter_id
    case_id = a_magnet_case(platform, meter_id)
    operator = make_client(platform, role=Role.OPERATOR, name="desk-2")
    queue = operator.get("/operations/cases").text
    assert f'data-case="{case_id}"' in queue and "A magnet was held to the meter" in queue
    assert 'data-live="/api/v1/cases/live"' in queue
    assert "no field staff on record for this area" in queue  # nobody told, nobody assigned: the room sees it
    hindi = operator.get("/operations/cases", params={"lang": "hi"}).text
    assert "मीटर पर चुंबक लगाया गया" in hindi and "चुंबक" in hindi
    assert "इस क्षेत्र के लिए कोई फ़ील्ड कर्मचारी दर्ज नहीं" in hindi
    operator.get("/operations/cases", params={"lang": "en"})

    page = operator.get(f"/operations/cases/{case_id}").text
    assert re.search(r'data-testid="case-field-staff">no field staff on record for this area<', page)
    assert 'value="assign"' in page and 'value="confirm"' not in page  # only the steps the workflow allows now
    url = f"/operations/cases/{case_id}/actions"
    assert operator.post(url, data={"action": "assign", "reason": " ", "assignee": "je.sharma"}).status_code == 400
    done = operator.post(
        url, data={"action": "assign", "reason": "site visit today", "assignee": "je.sharma"}, follow_redirects=False
    )
    assert done.status_code == 303
    after = operator.get(f"/operations/cases/{case_id}").text
    assert re.search(r'data-testid="case-status">Assigned<', after)
    assert "je.sharma" in after and "site visit today" in after and "token:desk-2" in after
    refused = operator.post(url, data={"action": "confirm", "reason": "not inspected yet"})
    assert refused.status_code == 409
    engineer = make_client(platform, role=Role.FIELD_ENGINEER)
    assert engineer.post(url, data={"action": "confirm", "reason": "x"}).status_code == 403
    meter_page = operator.get(f"/operations/meters/{meter_id}").text
    assert f'data-case="{case_id}"' in meter_page


def test_the_case_queue_filters_by_status_and_refuses_an_unknown_one(
    platform: Platform, make_client: MakeClient
) -> None:
    meter_id = platform.reads.meters(DEMO_METERS, 0)[1].meter_id
    case_id = a_magnet_case(platform, meter_id, 2)
    api = make_client(platform)
    assert f'data-case="{case_id}"' in api.get("/operations/cases", params={"status": "new"}).text
    assert f'data-case="{case_id}"' not in api.get("/operations/cases", params={"status": "closed"}).text
    assert f'data-case="{case_id}"' in api.get("/operations/cases", params={"q": meter_id.lower()}).text
    assert api.get("/operations/cases", params={"status": "lost"}).status_code == 400
    assert api.get("/operations/cases/C-000000000000").status_code == 404
    billing = make_client(platform, role=Role.BILLING)
    assert billing.get("/operations/cases").status_code == 200  # billing sees cases, takes no step
    assert 'data-testid="case-step"' not in billing.get(f"/operations/cases/{case_id}").text


def test_the_outages_page_lists_an_outage_and_follows_the_outages_list(
    platform: Platform, make_client: MakeClient
) -> None:
    meter = platform.reads.meters(1, 0)[0]
    began = LAST_SEEN - timedelta(hours=1)
    outage = Outage(
        level=OutageLevel.TRANSFORMER,
        subject=meter.transformer,
        area=meter.area,
        started_at=began,
        ended_at=None,
        meter_ids=(meter.meter_id,),
    )
    with platform.store.transaction() as uow:
        uow.outages.save([StoredOutage(outage_id=None, outage=outage)], LAST_SEEN)
    operator = make_client(platform, role=Role.OPERATOR)
    html = operator.get("/operations/outages").text
    row = re.search(r'<tr data-outage="\d+">(.*?)</tr>', html, re.S)
    assert row is not None
    assert meter.transformer in row.group(1) and "Transformer supply" in row.group(1) and "Going on" in row.group(1)
    assert 'data-outages="/api/v1/outages"' in html and "control.js" in html
    assert "Going on" not in operator.get("/operations/outages", params={"state": "ended"}).text.split("<tbody>")[1]
    assert operator.get("/operations/outages", params={"level": "city"}).status_code == 400
    hindi = operator.get("/operations/outages", params={"lang": "hi"}).text
    assert "ट्रांसफ़ॉर्मर की बिजली" in hindi
    operator.get("/operations/outages", params={"lang": "en"})


def test_the_outages_stream_sends_the_list_at_once_then_what_changes(
    platform: Platform, make_client: MakeClient
) -> None:
    meter = platform.reads.meters(1, 0)[0]
    outage = Outage(
        level=OutageLevel.FEEDER,
        subject=meter.feeder,
        area=meter.area,
        started_at=LAST_SEEN - timedelta(minutes=20),
        ended_at=None,
        meter_ids=(meter.meter_id,),
    )
    with platform.store.transaction() as uow:
        uow.outages.save([StoredOutage(outage_id=None, outage=outage)], LAST_SEEN)
    operator = make_client(platform, role=Role.OPERATOR)
    page = operator.get("/operations/outages").text
    assert 'data-outages-live="/api/v1/outages/live"' in page
    stream = operator.get("/api/v1/outages/live", params={"wait": 0, "level": "feeder"})
    assert stream.headers["content-type"].startswith("text/event-stream")
    ((name, data),) = sse(stream.text)
    listed = operator.get("/api/v1/outages", params={"level": "feeder", "limit": 50}).json()["items"]
    assert name == "outages" and data["ids"] == [o["outage_id"] for o in listed] and data["items"] == listed
    mine = next(o for o in data["items"] if o["subject"] == meter.feeder)
    assert mine["ongoing"] is True and mine["meters"] == 1
    elsewhere = operator.get("/api/v1/outages/live", params={"wait": 0, "area": "Nowhere"}).text
    assert sse(elsewhere) == [("outages", {"items": [], "ids": []})]
    assert make_client(platform, role=None).get("/api/v1/outages/live", params={"wait": 0}).status_code == 401


def sse(body: str) -> list[tuple[str, Any]]:
    """A server-sent events body as (event, data as JSON) pairs."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_the_fleet_by_transformer_shows_its_losses_from_the_energy_balance(
    platform: Platform, make_client: MakeClient
) -> None:
    meter = platform.reads.meters(1, 0)[0]
    with platform.store.transaction() as uow:
        uow.conn.execute(
            sa.insert(energy_days).values(
                transformer=meter.transformer,
                day=DEMO_DAY,
                feeder=meter.feeder,
                area=meter.area,
                consumers=2,
                supplied_wh=20_000,
                supplied_estimated_wh=0,
                billed_wh=17_000,
                billed_estimated_wh=0,
                intervals=96,
                consumer_intervals=192,
                slots="[]",
                flagged=True,
                computed_at=LAST_SEEN,
            )
        )
    platform.reads.control.forget()  # the groups an earlier page kept for half a minute
    api = make_client(platform)
    html = api.get("/operations/fleet", params={"by": "transformer", "day": DEMO_DAY.isoformat()}).text
    row = re.search(rf'<tr data-group="{meter.transformer}">(.*?)</tr>', html, re.S)
    assert (
        row is not None
        and "15.0%" in row.group(1)
        and "3.000" in row.group(1)
        and "beyond its threshold" in row.group(1)
    )
    by_loss = api.get(
        "/operations/fleet", params={"by": "transformer", "day": DEMO_DAY.isoformat(), "sort": "losses", "desc": 1}
    )
    assert re.findall(r'<tr data-group="([^"]+)">', by_loss.text)[0] == meter.transformer
    other_day = api.get("/operations/fleet", params={"by": "transformer", "day": "2026-11-01"}).text
    assert "15.0%" not in other_day and "not metered" in other_day
