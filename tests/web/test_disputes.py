"""A household disputes a day's charge in two taps with the day's figures attached; staff see
it with its seven-day answer clock and answer it; the household sees the answer."""

from __future__ import annotations

import re
from datetime import timedelta

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.access import form_token, log_in_consumer
from tests.support.disputes import a_dispute
from tests.web.conftest import DEMO_METERS, LAST_SEEN, SMS, MakeClient, TestClient

ME = build_city(DEMO_METERS)[1]
NOW = LAST_SEEN + timedelta(minutes=10)


def signed_in(platform: Platform, make_client: MakeClient) -> TestClient:
    client = make_client(platform, role=None)
    log_in_consumer(client, ME.mobile, SMS)
    return client


def test_a_dispute_carries_the_days_figures_and_is_answered_within_its_clock(
    platform: Platform, make_client: MakeClient
) -> None:
    me = signed_in(platform, make_client)
    page = me.get(f"/consumer/{ME.meter_id}/charges?day=2026-11-02")
    assert 'data-testid="dispute-open"' in page.text and "Dispute this charge" in page.text
    sent = me.post(
        f"/consumer/{ME.meter_id}/disputes",
        data={"day": "2026-11-02", "reason": "too_high", "csrf": form_token(page.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/consumer/{ME.meter_id}/charges?day=2026-11-02"
    shown = me.get(sent.headers["location"]).text
    assert "Answer due by 10 Nov 2026, 00:10 (7 days left)" in shown
    again = me.post(
        f"/consumer/{ME.meter_id}/disputes",
        data={"day": "2026-11-02", "reason": "other", "csrf": form_token(page.text)},
        follow_redirects=False,
    )
    assert again.status_code == 303  # one dispute per day: the second changes nothing

    staff = make_client(platform, role=Role.BILLING)
    listed = staff.get("/api/v1/disputes").json()["items"]
    mine = [d for d in listed if d["account_no"] == ME.account_no]
    assert len(mine) == 1 and mine[0]["reason"] == "too_high" and not mine[0]["overdue"]
    charge = re.search(r'data-testid="day-charge">₹([\d,]+)\.(\d\d)<', shown)
    assert charge is not None
    assert mine[0]["evidence"]["charge_paise"] == int(charge.group(1).replace(",", "")) * 100 + int(charge.group(2))
    assert mine[0]["evidence"]["intervals"] == 96

    late = make_client(platform, now=NOW + timedelta(days=8), role=Role.AUDITOR)
    assert late.get("/api/v1/disputes").json()["items"][0]["overdue"] is True
    assert late.post(f"/api/v1/disputes/{mine[0]['dispute_id']}/answer", json={"answer": "x"}).status_code == 403

    blank = staff.post(f"/api/v1/disputes/{mine[0]['dispute_id']}/answer", json={"answer": "   "})
    assert blank.status_code == 422
    answered = staff.post(
        f"/api/v1/disputes/{mine[0]['dispute_id']}/answer", json={"answer": "Checked: the readings are right."}
    )
    assert answered.status_code == 200 and answered.json()["answered_at"] is not None
    twice = staff.post(f"/api/v1/disputes/{mine[0]['dispute_id']}/answer", json={"answer": "again"})
    assert twice.status_code == 409
    assert "Checked: the readings are right." in me.get(sent.headers["location"]).text
    assert staff.get("/api/v1/disputes").json()["items"] == []
    assert staff.post("/api/v1/disputes/999999/answer", json={"answer": "x"}).status_code == 404


def test_a_stale_form_or_a_bad_reason_raises_nothing(platform: Platform, make_client: MakeClient) -> None:
    me = signed_in(platform, make_client)
    stale = me.post(f"/consumer/{ME.meter_id}/disputes", data={"day": "2026-11-01", "csrf": "0" * 64})
    assert stale.status_code == 403
    page = me.get(f"/consumer/{ME.meter_id}/charges?day=2026-11-01")
    bad = me.post(
        f"/consumer/{ME.meter_id}/disputes", data={"day": "2026-11-01", "reason": "x", "csrf": form_token(page.text)}
    )
    assert bad.status_code == 422
    assert 'data-testid="dispute"' not in me.get(f"/consumer/{ME.meter_id}/charges?day=2026-11-01").text


def test_the_control_room_shows_the_answer_clock_and_the_figures_and_answers_with_a_reason(
    platform: Platform, make_client: MakeClient
) -> None:
    other = build_city(DEMO_METERS)[2]
    household = make_client(platform, role=None)
    log_in_consumer(household, other.mobile, SMS)
    charges = household.get(f"/consumer/{other.meter_id}/charges?day=2026-11-02")
    household.post(
        f"/consumer/{other.meter_id}/disputes",
        data={"day": "2026-11-02", "reason": "not_home", "csrf": form_token(charges.text)},
    )
    charge = re.search(r'data-testid="day-charge">(₹[\d,]+\.\d\d)<', charges.text)
    assert charge is not None

    billing = make_client(platform, role=Role.BILLING, name="billing.rao")
    platform.reads.control.forget()  # the open disputes' count, kept for half a minute
    page = billing.get("/operations/disputes", params={"q": other.account_no[:9].lower()}).text
    card = re.search(r'<article class="card dispute" id="dispute-(\d+)".*?</article>', page, re.S)
    assert card is not None, page
    shown = card.group(0)
    assert "Charge of 02 Nov 2026" in shown and "We were not at home" in shown and "7 d 0 h left" in shown
    assert f'data-testid="dispute-charge">{charge.group(1)}<' in shown and "96 / 96" in shown
    assert f"/consumer/{other.meter_id}/charges?day=2026-11-02" in shown and 'data-testid="dispute-send"' in shown
    assert re.search(r'data-testid="exception-disputes"><span class="exception-count">[1-9]', page)
    dispute_id = card.group(1)

    late = make_client(platform, now=NOW + timedelta(days=8, hours=2), role=Role.OPERATOR).get("/operations/disputes")
    overdue = re.search(
        rf'<article class="card dispute is-overdue" id="dispute-{dispute_id}".*?</article>', late.text, re.S
    )
    assert overdue is not None and "Overdue by 1 d 2 h" in overdue.group(0)
    assert 'data-testid="dispute-send"' not in late.text  # the operator reads, billing answers
    hindi = billing.get("/operations/disputes", params={"lang": "hi"}).text
    assert "हम घर पर नहीं थे" in hindi and "दिन" in hindi and "02 नवंबर 2026" in hindi
    billing.get("/operations/disputes", params={"lang": "en"})

    url = f"/operations/disputes/{dispute_id}/answer"
    assert billing.post(url, data={"answer": "   "}).status_code == 400
    assert make_client(platform, role=Role.OPERATOR).post(url, data={"answer": "x"}).status_code == 403
    done = billing.post(url, data={"answer": "Checked the meter: no load while you were away."}, follow_redirects=False)
    assert (
        done.status_code == 303
        and done.headers["location"] == f"/operations/disputes?answered={dispute_id}#dispute-{dispute_id}"
    )
    after = billing.get(done.headers["location"]).text
    assert f"Dispute {dispute_id} answered" in after
    assert f'id="dispute-{dispute_id}"' not in after  # no longer open
    answered = billing.get("/operations/disputes", params={"state": "answered"}).text
    assert "Checked the meter: no load while you were away." in answered and "by token:billing.rao" in answered
    assert billing.post(url, data={"answer": "again"}).status_code == 409
    trail = make_client(platform, role=Role.AUDITOR).get("/api/v1/audit", params={"limit": 1000}).json()["items"]
    assert {
        "what": "dispute-answered",
        "who": "token:billing.rao",
        "meter_id": other.meter_id,
        "reference": dispute_id,
        "detail": "Checked the meter: no load while you were away.",
    }.items() <= next(e for e in trail if e["what"] == "dispute-answered" and e["reference"] == dispute_id).items()
    seen = household.get(f"/consumer/{other.meter_id}/charges?day=2026-11-02").text
    assert "Checked the meter: no load while you were away." in seen
    assert billing.get("/operations/disputes", params={"state": "lost"}).status_code == 400


def test_a_full_page_of_disputes_weighs_under_300_kb_in_hindi_with_everything_it_loads(
    platform: Platform, make_client: MakeClient
) -> None:
    from datetime import date

    from bijli.accounts import disputes as use

    figures: dict[str, str | int | None] = {
        "charge_paise": 16_133_00,
        "energy_paise": 13_531_00,
        "fixed_paise": 3_371,
        "duty_paise": 769,
        "energy_wh": 24_601,
        "intervals": 96,
        "tariff_version": "UPERC-TO-2019-20",
        "on_ledger": 1,
    }
    raised = []
    for n in range(50):
        home = build_city(DEMO_METERS)[n % DEMO_METERS]
        day = date(2026, 9, 1) + timedelta(days=n)
        dispute = a_dispute(home, day, NOW - timedelta(hours=n), figures, "meter_fault")
        raised.append(use.raise_dispute(platform.store, dispute)[0])
    billing = make_client(platform, role=Role.BILLING)
    page = billing.get("/operations/disputes", params={"lang": "hi"})
    billing.get("/operations/disputes", params={"lang": "en"})
    assert page.text.count('<article class="card dispute') == 50
    total = len(page.content) + len(billing.get("/static/fonts/noto-sans-devanagari.woff2").content)
    for ref in set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)):
        total += len(billing.get(ref).content)
    for d in raised:  # answered, so the other tests see no open dispute of theirs
        use.answer_dispute(platform.store, d.dispute_id, "Checked.", "billing", NOW)
    # 253,561 bytes when written: 50 cards in Hindi (the Devanagari font is most of it)
    assert total < 300_000, total
