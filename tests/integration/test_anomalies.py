"""Anomalies over a real store (SQLite and PostgreSQL): a small city fed ten days through
ingest and settlement; a household whose meter records a third of its draw from day eight,
one whose meter records nothing on the last day, and the rest as usual."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bijli import settings
from bijli.bootstrap import Platform, bootstrap
from bijli.vigilance.anomalies import AnomalyKind
from bijli.vigilance.handlers import score_anomalies
from tests.support.energy import EnergyCity, energy_city, feed_day

FIRST = date(2026, 11, 1)
DAYS = 10
LAST = FIRST + timedelta(days=DAYS - 1)


@pytest.fixture
def city(database_url: str | None, tmp_path: Path) -> Iterator[tuple[Platform, EnergyCity, str, str]]:
    p = bootstrap(
        settings.build(data_dir=tmp_path / "data", database_url=database_url, broker_url="memory", new_site=True)
    )
    ec = energy_city(p, 50, datetime(2026, 10, 1, 6, 30, tzinfo=UTC))
    dropped, silent = ec.consumers[3].meter_id, ec.consumers[11].meter_id
    for n in range(DAYS):
        share = {dropped: 0.3} if n >= DAYS - 3 else {}
        if n == DAYS - 1:
            share[silent] = 0.0
        feed_day(p, ec, FIRST + timedelta(days=n), recorded_share=share)
    yield p, ec, dropped, silent
    p.store.dispose()


def test_the_drop_and_the_flat_zero_are_found_ranked_and_the_rest_left_alone(
    city: tuple[Platform, EnergyCity, str, str],
) -> None:
    p, ec, dropped, silent = city
    found = score_anomalies(p.store, LAST)
    by_meter = {(a.meter_id, a.kind) for a in found}
    assert (dropped, AnomalyKind.SUDDEN_DROP) in by_meter
    assert (silent, AnomalyKind.FLAT_ZERO) in by_meter
    assert {a.meter_id for a in found} <= {dropped, silent}
    assert all(x.score >= y.score for x, y in itertools.pairwise(found))
    assert not any(a.meter_id in {d.meter_id for d in ec.transformers} for a in found)  # consumers only
    only = score_anomalies(p.store, LAST, kind=AnomalyKind.FLAT_ZERO, transformer=ec.consumers[11].transformer)
    assert [(a.meter_id, a.kind) for a in only] == [(silent, AnomalyKind.FLAT_ZERO)]
    assert score_anomalies(p.store, FIRST + timedelta(days=3)) == []
