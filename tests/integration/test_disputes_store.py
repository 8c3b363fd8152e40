"""Disputes on both stores: one per account and day, listed by due time, answered once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bijli import settings
from bijli.accounts import disputes as use
from bijli.accounts.disputes import Dispute, DisputeError
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(2)


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    p = bootstrap(
        settings.build(data_dir=tmp_path / "data", database_url=database_url, broker_url="memory", new_site=True)
    )
    commission_city(p.store, p.settings.tariff_code, CITY, NOW - timedelta(days=3))
    yield p
    p.store.dispose()


def a_dispute(n: int, day: date, at: datetime) -> Dispute:
    return Dispute(
        dispute_id=0,
        account_no=CITY[n].account_no,
        meter_id=CITY[n].meter_id,
        day=day,
        reason="too_high",
        raised_by=CITY[n].mobile,
        raised_at=at,
        evidence={"charge_paise": 4_321, "tariff_version": "v1", "fixed_paise": None},
    )


def test_disputes_are_kept_once_listed_by_due_time_and_answered_once(platform: Platform) -> None:
    later, first_new = use.raise_dispute(platform.store, a_dispute(0, date(2026, 12, 2), NOW))
    earlier, second_new = use.raise_dispute(platform.store, a_dispute(1, date(2026, 12, 1), NOW - timedelta(days=1)))
    again, third_new = use.raise_dispute(platform.store, a_dispute(0, date(2026, 12, 2), NOW + timedelta(hours=1)))
    assert (first_new, second_new, third_new) == (True, True, False)
    assert again == later and again.evidence == {"charge_paise": 4_321, "tariff_version": "v1", "fixed_paise": None}
    assert later.due_at == NOW + timedelta(days=7) and later.raised_at == NOW
    assert [d.dispute_id for d in use.disputes(platform.store, "open", 10, 0)] == [earlier.dispute_id, later.dispute_id]

    done = use.answer_dispute(platform.store, later.dispute_id, "Checked.", "billing.rao", NOW + timedelta(days=2))
    assert done.answer == "Checked." and done.answered_at == NOW + timedelta(days=2)
    answered = [(e.what, e.who, e.reference, e.detail) for e in platform.audit.entries(10, 0)]
    assert ("dispute-answered", "billing.rao", str(later.dispute_id), "Checked.") in answered
    with pytest.raises(DisputeError, match="answered already"):
        use.answer_dispute(platform.store, later.dispute_id, "Again.", "billing.rao", NOW + timedelta(days=3))
    assert [d.dispute_id for d in use.disputes(platform.store, "open", 10, 0)] == [earlier.dispute_id]
    assert [d.dispute_id for d in use.disputes(platform.store, "answered", 10, 0)] == [later.dispute_id]
    assert len(use.disputes(platform.store, "all", 10, 0)) == 2
