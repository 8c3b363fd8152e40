"""Share links on both stores: kept under their token's hash, listed newest first, revoked
once, and the account's recharges read for the shared view."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bijli.access import sharing as use
from bijli.access.sharing import MAX_LIVE, ShareError
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.prepaid.handlers import record_recharge
from tests.support.sites import commissioned_platform

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(2)


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=3), database_url=database_url)
    yield p
    p.store.dispose()


def test_links_are_kept_by_hash_listed_revoked_once_and_show_the_latest_recharges(platform: Platform) -> None:
    home = CITY[0]
    for n, rupees in enumerate((200, 500, 300)):
        record_recharge(platform.store, home.account_no, rupees * 100, f"pay-share-{n}", NOW - timedelta(hours=3 - n))
    papa, token = use.make_link(
        platform.store, account_no=home.account_no, meter_id=home.meter_id, name="Papa", made_by=home.mobile, now=NOW
    )
    later, _ = use.make_link(
        platform.store,
        account_no=home.account_no,
        meter_id=home.meter_id,
        name=" ",
        made_by=home.mobile,
        now=NOW + timedelta(minutes=1),
        days=7,
    )
    assert later.name is None and later.expires_at == NOW + timedelta(minutes=1, days=7)
    assert [k.link_id for k in use.links_of(platform.store, home.account_no)] == [later.link_id, papa.link_id]
    assert use.links_of(platform.store, CITY[1].account_no) == []

    found, recharges = use.opened(platform.store, token, NOW)
    assert found == papa and found.state(NOW) == "live"
    assert [r.amount_paise for r in recharges] == [30_000, 50_000, 20_000]
    assert use.opened(platform.store, token + "x", NOW) == (None, [])

    with pytest.raises(LookupError):
        use.revoke_link(platform.store, CITY[1].account_no, papa.link_id, CITY[1].mobile, NOW)  # not theirs
    use.revoke_link(platform.store, home.account_no, papa.link_id, home.mobile, NOW + timedelta(hours=1))
    with pytest.raises(LookupError):
        use.revoke_link(platform.store, home.account_no, papa.link_id, home.mobile, NOW + timedelta(hours=2))
    gone, shown = use.opened(platform.store, token, NOW + timedelta(hours=1))
    assert gone is not None and gone.state(NOW) == "revoked" and gone.revoked_by == home.mobile and shown == []
    trail = [(e.what, e.who, e.reference, e.detail, e.at) for e in platform.audit.entries(100, 0)]
    assert trail[:3] == [
        ("share-revoked", home.mobile, str(papa.link_id), "Papa", NOW + timedelta(hours=1)),
        ("share-made", home.mobile, str(later.link_id), "", NOW + timedelta(minutes=1)),
        ("share-made", home.mobile, str(papa.link_id), "Papa", NOW),
    ]

    for n in range(MAX_LIVE - 1):  # `later` is live: up to the limit, then no more
        use.make_link(
            platform.store, account_no=home.account_no, meter_id=home.meter_id, name=f"n{n}", made_by="x", now=NOW
        )
    with pytest.raises(ShareError, match="revoke one first"):
        use.make_link(platform.store, account_no=home.account_no, meter_id=home.meter_id, name="", made_by="x", now=NOW)
