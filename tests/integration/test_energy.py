"""The energy balance over a real store (SQLite and PostgreSQL): a small city whose
transformers have their own meters, fed whole days through ingest and settlement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli import settings
from bijli.adapters.db import energy
from bijli.adapters.db.energy_tables import energy_days
from bijli.bootstrap import Platform, bootstrap
from bijli.kernel.time import ist_midnight
from bijli.network.balance import added_up, transformer_balance
from bijli.network.handlers import balance_due
from bijli.vigilance.handlers import find_hooking, open_cases
from bijli.vigilance.ports import CaseFilter
from tests.support.cases import tamper
from tests.support.energy import EnergyCity, deliver, energy_city, feed_day

DAY = date(2026, 11, 2)
INSTALLED = datetime(2026, 10, 1, 6, 30, tzinfo=UTC)


@pytest.fixture
def city(database_url: str | None, tmp_path: Path) -> Iterator[tuple[Platform, EnergyCity]]:
    """Two hundred consumers on four transformers, each with its own meter."""
    p = bootstrap(
        settings.build(data_dir=tmp_path / "data", database_url=database_url, broker_url="memory", new_site=True)
    )
    ec = energy_city(p, 200, INSTALLED)
    yield p, ec
    p.store.dispose()


def after(day: date) -> datetime:
    return ist_midnight(day) + timedelta(days=1, minutes=10)


def test_usage_above_the_meter_never_adds_the_transformer_meters_to_their_consumers(
    city: tuple[Platform, EnergyCity],
) -> None:
    p, ec = city
    feed_day(p, ec, DAY)
    meters = p.reports.usage("meter", DAY, DAY)
    consumer_wh = sum(
        round(Decimal(r["kwh"]) * 1000) for r in meters if r["meter"] in ec.registers and "T" not in r["meter"][2:6]
    )
    dt_ids = {d.meter_id for d in ec.transformers}
    consumer_wh = sum(round(Decimal(r["kwh"]) * 1000) for r in meters if r["meter"] not in dt_ids)
    supplied_wh = sum(round(Decimal(r["kwh"]) * 1000) for r in meters if r["meter"] in dt_ids)
    for level in ("transformer", "feeder", "area"):
        rows = p.reports.usage(level, DAY, DAY)  # type: ignore[arg-type]
        assert sum(round(Decimal(r["kwh"]) * 1000) for r in rows) == consumer_wh
        assert sum(round(Decimal(r["supplied_kwh"]) * 1000) for r in rows) == supplied_wh
        assert sum(r["intervals"] for r in rows) == 200 * 96
    assert supplied_wh > consumer_wh  # the losses


def test_each_transformers_day_balances_energy_in_against_energy_billed(city: tuple[Platform, EnergyCity]) -> None:
    p, ec = city
    hooked = ec.transformers[1].transformer
    # A first day has no usual to compare with: only a round-the-clock excess beyond the
    # first day's bar (1,500 W) is flagged.
    feed_day(p, ec, DAY, hooks_w={hooked: 1800.0})
    done = balance_due(p.store, after(DAY))
    assert (done.days, done.transformers) == (1, 4)
    with p.store.transaction() as uow:
        days = {s.day.transformer: s for s in uow.energy.stored(DAY, DAY)}
    assert set(days) == {d.transformer for d in ec.transformers}
    per_meter = p.reports.usage("meter", DAY, DAY)
    for d in ec.transformers:
        b = transformer_balance(days[d.transformer].day)
        assert b.complete and not b.estimated
        mine = {c.meter_id for c in ec.on(d.transformer)}
        assert b.billed_wh == sum(round(Decimal(r["kwh"]) * 1000) for r in per_meter if r["meter"] in mine)
        assert 0 < b.loss_wh < b.supplied_wh
    assert [t for t, s in days.items() if s.flagged] == [hooked]
    assert days[hooked].excess_w is not None and 1800 <= days[hooked].excess_w <= 2100
    area = added_up("area", "all", DAY, [transformer_balance(s.day) for s in days.values()])
    assert area.transformers == 4 and area.loss_wh == sum(transformer_balance(s.day).loss_wh for s in days.values())


def test_a_day_is_worked_out_again_only_when_its_readings_changed(city: tuple[Platform, EnergyCity]) -> None:
    p, ec = city
    feed_day(p, ec, DAY, silent=[ec.transformers[0].meter_id])
    assert balance_due(p.store, after(DAY)).days == 1
    assert balance_due(p.store, after(DAY) + timedelta(minutes=30)).days == 0
    with p.store.transaction() as uow:
        first = {s.day.transformer for s in uow.energy.stored(DAY, DAY)}
    assert ec.transformers[0].transformer not in first  # no meter of its own read that day


def worked_out(p: Platform) -> dict[tuple[str, date], tuple[object, ...]]:
    """Every stored transformer day: what it holds, and when it was worked out."""
    with p.store.transaction() as uow:
        return {
            (s.day.transformer, s.day.day): (s.day, s.unexplained_w, s.night_w, s.excess_w, s.flagged, s.computed_at)
            for s in uow.energy.stored(DAY, DAY + timedelta(days=7))
        }


def test_a_late_reading_works_out_again_only_its_transformers_day_as_a_full_recompute_would(
    city: tuple[Platform, EnergyCity], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, ec = city
    late_dt = ec.transformers[1].transformer
    offline = ec.on(late_dt)[4].meter_id
    backlog = feed_day(p, ec, DAY, silent=[offline])
    balance_due(p.store, after(DAY))
    for n in (1, 2):
        feed_day(p, ec, DAY + timedelta(days=n))
        balance_due(p.store, after(DAY + timedelta(days=n)))
    before = worked_out(p)
    assert before[(late_dt, DAY)][3] is None  # a consumer's day missing: not judged
    # Two days later the meter is back and its backlog of the first day comes in.
    back = after(DAY + timedelta(days=3)) + timedelta(hours=2)
    deliver(p, ec, backlog, back)
    done = balance_due(p.store, back)
    now = worked_out(p)
    assert {k for k in now if now[k][-1] != before[k][-1]} == {(late_dt, DAY)}  # read again: that one
    assert done.transformers == 3  # and its two later days judged again against it
    assert now[(late_dt, DAY)][3] is not None
    assert now[(late_dt, DAY + timedelta(days=1))][3] != before[(late_dt, DAY + timedelta(days=1))][3]
    assert all(now[k] == before[k] for k in now if k[0] != late_dt)
    # Every day of every transformer worked out anew gives the same (on SQLite, its
    # transformers' days read whole, as when too many meters are due to name them).
    monkeypatch.setattr(energy, "SQLITE_NAMED_METERS", 0)
    with p.store.engine.begin() as conn:
        conn.execute(sa.delete(energy_days))
    assert balance_due(p.store, back + timedelta(minutes=10)).transformers == 4 * 3
    anew = worked_out(p)
    assert {k: v[:-1] for k, v in anew.items()} == {k: v[:-1] for k, v in now.items()}


def test_a_flagged_transformer_opens_one_hooking_case_naming_the_consumer_whose_pattern_explains_it(
    city: tuple[Platform, EnergyCity],
) -> None:
    p, ec = city
    dt = ec.transformers[0]
    thief = ec.on(dt.transformer)[7].meter_id
    for n in range(3):
        day = DAY + timedelta(days=n)
        late = n == 2
        feed_day(
            p,
            ec,
            day,
            hooks_w={dt.transformer: 300.0} if late else {},
            hook_from=74,  # 18:30
            recorded_share={thief: 0.3} if late else {},
        )
        balance_due(p.store, after(day))
    hooked_day = DAY + timedelta(days=2)
    assert find_hooking(p.store, after(DAY)) == []  # nothing flagged then
    opened = find_hooking(p.store, after(hooked_day))
    assert len(opened) == 1
    assert find_hooking(p.store, after(hooked_day) + timedelta(hours=1)) == []  # one case per run
    with p.store.transaction() as uow:
        case = uow.cases.one(opened[0])
    assert case is not None
    assert (case.kind, case.subject_level.value, case.subject_id) == ("hooking", "transformer", dt.transformer)
    ranked = case.evidence["consumers_ranked"]
    assert ranked[0]["meter_id"] == thief and ranked[0]["drop"] > 0.5
    assert "less than its usual day" in ranked[0]["reason_en"] and ranked[0]["reason_hi"]
    assert case.evidence["first_day"] == hooked_day.isoformat()
    # Flags that come and go open no second case while the first is open.
    for n, hooked in ((3, False), (4, True)):
        day = DAY + timedelta(days=n)
        feed_day(p, ec, day, hooks_w={dt.transformer: 300.0} if hooked else {}, hook_from=74)
        balance_due(p.store, after(day))
    with p.store.transaction() as uow:
        stored = uow.energy.stored(DAY, DAY + timedelta(days=4), transformer=dt.transformer)
    flags = {s.day.day: s.flagged for s in stored}
    assert [flags[DAY + timedelta(days=n)] for n in range(5)] == [False, False, True, False, True]
    assert find_hooking(p.store, after(DAY + timedelta(days=4))) == []
    with p.store.transaction() as uow:
        (still,) = uow.cases.listing(CaseFilter(kind="hooking"), 10, 0)
    assert still.case_id == opened[0]  # and the day it was flagged again is in its evidence
    assert [d["day"] for d in still.evidence["flagged_days"]] == [hooked_day.isoformat(), "2026-11-06"]


def test_a_day_whose_loss_a_consumers_own_case_explains_opens_no_hooking_case(
    city: tuple[Platform, EnergyCity],
) -> None:
    p, ec = city
    dt = ec.transformers[2]
    bypassed = ec.on(dt.transformer)[3]
    feed_day(p, ec, DAY)
    balance_due(p.store, after(DAY))
    day = DAY + timedelta(days=1)
    feed_day(p, ec, day, hooks_w={dt.transformer: 1000.0}, hook_from=76)
    balance_due(p.store, after(day))
    at = ist_midnight(day) + timedelta(hours=19)
    open_cases(p.store, [tamper("bypass", bypassed.meter_id, dt.area, at)])
    with p.store.transaction() as uow:
        assert [s.flagged for s in uow.energy.stored(day, day, transformer=dt.transformer)] == [True]
    assert find_hooking(p.store, after(day)) == []
