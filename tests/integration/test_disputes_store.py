"""Disputes on both stores: one per account and day, listed by due time, answered once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bijli.accounts import disputes as use
from bijli.accounts.disputes import DisputeError
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.disputes import a_dispute
from tests.support.sites import commissioned_platform

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(2)


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=3), database_url=database_url)
    yield p
    p.store.dispose()


FIGURES: dict[str, str | int | None] = {"charge_paise": 4_321, "tariff_version": "v1", "fixed_paise": None}


def test_disputes_are_kept_once_listed_by_due_time_and_answered_once(platform: Platform) -> None:
    first = a_dispute(CITY[0], date(2026, 12, 2), NOW, FIGURES)
    second = a_dispute(CITY[1], date(2026, 12, 1), NOW - timedelta(days=1), FIGURES)
    later, first_new = use.raise_dispute(platform.store, first)
    earlier, second_new = use.raise_dispute(platform.store, second)
    again, third_new = use.raise_dispute(platform.store, replace(first, raised_at=NOW + timedelta(hours=1)))
    assert (first_new, second_new, third_new) == (True, True, False)
    assert again == later and again.evidence == FIGURES
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
