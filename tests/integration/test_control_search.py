"""The control room's meter search on both stores: a meter id, an account number or any word of
the consumer's name, by its start, case ignored; on PostgreSQL through the search indexes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bijli.adapters.db.control_rows import MeterFilter
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.sites import commissioned_platform

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(12)


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=3), database_url=database_url)
    yield p
    p.store.dispose()


def found(platform: Platform, q: str, **kw: str) -> list[str]:
    rows, total = platform.reads.control.meters(MeterFilter(q=q, **kw), NOW, NOW - timedelta(minutes=30))
    assert total == len(rows)
    return [r.meter.meter_id for r in rows]


def test_a_meter_is_found_by_its_id_its_account_or_a_word_of_its_consumers_name(platform: Platform) -> None:
    one = CITY[4]
    assert found(platform, one.meter_id.lower()) == [one.meter_id]
    assert found(platform, one.account_no) == [one.meter_id]
    first, *_, last = one.consumer_name.split()
    assert one.meter_id in found(platform, first.upper())
    by_surname = found(platform, last[:3].lower())
    assert one.meter_id in by_surname
    named = [m.meter_id for m in CITY if any(w.startswith(last[:3]) for w in m.consumer_name.split())]
    assert by_surname == sorted(named)
    prefix = one.meter_id[:6]
    assert found(platform, prefix) == sorted(m.meter_id for m in CITY if m.meter_id.startswith(prefix))


def test_a_search_is_narrowed_by_the_filters_and_takes_its_characters_literally(platform: Platform) -> None:
    one = CITY[4]
    assert found(platform, one.meter_id, area=one.area) == [one.meter_id]
    other_area = next(m.area for m in CITY if m.area != one.area)
    assert found(platform, one.meter_id, area=other_area) == []
    assert found(platform, "%") == [] and found(platform, "_") == []
    assert found(platform, one.consumer_name[1:4]) == []  # the middle of a word is not the start of one
