"""A household shares a read-only view of its account with a family member: the link is shown
once, works in Hindi or English, shows the balance with its time, days left, today's usage
and recent recharges and nothing personal beyond the name, and stops at once when revoked or
when it expires; only the token's hash is kept, the token is never logged, and who made and
revoked each link is in the audit trail."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bijli.access.model import Role
from bijli.adapters.db.sharing import share_links
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.access import form_token, log_in_consumer
from tests.web.conftest import DEMO_METERS, LAST_SEEN, SMS, MakeClient, TestClient

CITY = build_city(DEMO_METERS)
ME, OTHER = CITY[3], CITY[0]
NOW = LAST_SEEN + timedelta(minutes=10)


def signed_in(platform: Platform, make_client: MakeClient, mobile: str, **kwargs: object) -> TestClient:
    client = make_client(platform, role=None, **kwargs)
    log_in_consumer(client, mobile, SMS)
    return client


def make_link(client: TestClient, name: str, days: int = 90) -> tuple[str, str]:
    """Make a link from the share page: (the page that answers, the link's address)."""
    page = client.get(f"/consumer/{ME.meter_id}/share")
    made = client.post(
        f"/consumer/{ME.meter_id}/share", data={"name": name, "days": days, "csrf": form_token(page.text)}
    )
    assert made.status_code == 200, made.text
    found = re.search(r'data-testid="share-url">(http://localhost/shared/[A-Za-z0-9_-]+)</textarea>', made.text)
    assert found is not None
    return made.text, found.group(1).removeprefix("http://localhost")


def test_a_family_member_reads_the_account_by_the_link_until_it_is_revoked(
    platform: Platform, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    me = signed_in(platform, make_client, ME.mobile)
    home = me.get(f"/consumer/{ME.meter_id}").text
    assert f'href="/consumer/{ME.meter_id}/share"' in home
    caplog.set_level(logging.DEBUG)
    answer, path = make_link(me, "  Papa  ")
    token = path.removeprefix("/shared/")
    assert "Link made for Papa" in answer and "shown only this once" in answer
    assert answer.count(token) == 1
    assert token not in me.get(f"/consumer/{ME.meter_id}/share").text  # shown that once only

    family = make_client(platform, role=None)  # nobody signed in
    view = family.get(path)
    assert view.status_code == 200 and view.headers["cache-control"] == "no-store"
    assert "noindex" in view.headers["x-robots-tag"]
    html = view.text
    assert f'data-testid="shared-name">{ME.consumer_name}<' in html
    balance = me.get(f"/api/v1/meters/{ME.meter_id}/balance").json()
    assert re.search(r'data-testid="balance">₹[\d,]+\.\d\d<', html) and "as of 03 Nov 2026, 00:00" in html
    assert "Usage on 02 Nov 2026" in html and html.count('<rect class="bar') == 96
    assert 'data-testid="shared-recharges"' in html
    for private in (ME.account_no, ME.meter_id, ME.mobile, "/recharge", "data.csv", "/disputes", "/charges", ME.area):
        assert private not in html, private
    assert balance["account_no"] == ME.account_no
    hindi = family.get(path, params={"lang": "hi"}).text
    assert "आपके साथ साझा" in hindi and "शेष राशि" in hindi and "02 नवंबर 2026" in hindi
    served = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]  # not the test's own client
    assert served and not any(token in line for line in served)  # made and opened: never in a log line

    stored = platform.store.engine.connect()
    try:
        rows = stored.execute(sa.select(share_links).where(share_links.c.account_no == ME.account_no)).all()
    finally:
        stored.close()
    papa = next(r for r in rows if r.name == "Papa")
    assert papa.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(v) for r in rows for v in r)
    assert papa.made_by == ME.mobile and papa.expires_at == NOW + timedelta(days=90)

    page = me.get(f"/consumer/{ME.meter_id}/share").text
    assert f'id="link-{papa.link_id}" data-link="{papa.link_id}" data-state="live"' in page
    other = signed_in(platform, make_client, OTHER.mobile)
    assert (
        other.post(f"/consumer/{ME.meter_id}/share/{papa.link_id}/revoke", data={"csrf": form_token(page)}).status_code
        == 404
    )
    assert me.post(f"/consumer/{ME.meter_id}/share/{papa.link_id}/revoke", data={"csrf": "0" * 64}).status_code == 403
    revoked = me.post(
        f"/consumer/{ME.meter_id}/share/{papa.link_id}/revoke", data={"csrf": form_token(page)}, follow_redirects=False
    )
    assert revoked.status_code == 303
    gone = family.get(path, params={"lang": "en"})
    assert gone.status_code == 410 and "This link was revoked" in gone.text
    assert ME.consumer_name not in gone.text and "₹" not in gone.text
    assert f'data-link="{papa.link_id}" data-state="revoked"' in me.get(f"/consumer/{ME.meter_id}/share").text
    staff = make_client(platform, role=Role.OPERATOR).get(f"/consumer/{ME.meter_id}/share").text
    assert f'data-link="{papa.link_id}"' in staff and 'data-testid="share-make"' not in staff  # staff read the list

    trail = make_client(platform, role=Role.AUDITOR).get("/api/v1/audit", params={"limit": 1000}).json()["items"]
    mine = {(e["what"], e["who"], e["reference"]) for e in trail if e["meter_id"] == ME.meter_id}
    assert {("share-made", ME.mobile, str(papa.link_id)), ("share-revoked", ME.mobile, str(papa.link_id))} <= mine


def test_an_expired_or_unknown_link_shows_nothing_and_a_bad_one_is_not_made(
    platform: Platform, make_client: MakeClient
) -> None:
    me = signed_in(platform, make_client, ME.mobile)
    _, path = make_link(me, "", days=7)
    assert make_client(platform, now=NOW + timedelta(days=6), role=None).get(path).status_code == 200
    expired = make_client(platform, now=NOW + timedelta(days=7), role=None).get(path, params={"lang": "en"})
    assert expired.status_code == 410 and "This link has expired" in expired.text and "₹" not in expired.text
    unknown = make_client(platform, role=None).get(path[:-4] + "AAAA")
    assert unknown.status_code == 404 and "This link does not work" in unknown.text
    page = me.get(f"/consumer/{ME.meter_id}/share").text
    odd = me.post(f"/consumer/{ME.meter_id}/share", data={"days": 5, "csrf": form_token(page)})
    assert odd.status_code == 400 and "not 5" in odd.text
    long = me.post(f"/consumer/{ME.meter_id}/share", data={"name": "x" * 41, "csrf": form_token(page)})
    assert long.status_code == 400 and "longer than 40" in long.text
    stale = me.post(f"/consumer/{ME.meter_id}/share", data={"name": "Didi", "csrf": "0" * 64})
    assert stale.status_code == 403
    assert "Didi" not in me.get(f"/consumer/{ME.meter_id}/share").text


@pytest.mark.parametrize("page", ["share", "shared"])
def test_the_share_pages_weigh_under_300_kb_with_everything_they_load(
    platform: Platform, make_client: MakeClient, page: str
) -> None:
    later = NOW + timedelta(hours=1 if page == "share" else 2)  # past the window of login codes sent
    me = signed_in(platform, make_client, ME.mobile, now=later)
    _, path = make_link(me, "Weight")
    client = me if page == "share" else make_client(platform, now=later, role=None)
    shown = client.get(f"/consumer/{ME.meter_id}/share" if page == "share" else path)
    assert shown.status_code == 200
    total = len(shown.content)
    for ref in set(re.findall(r'(?:src|href)="(/static/[^"]+)"', shown.text)):
        total += len(client.get(ref).content)
    total += len(client.get("/static/fonts/noto-sans-devanagari.woff2").content)
    assert total < 300_000, total
