"""Anomalies in a meter's day, pure: each kind found when its pattern is there and not when
it is not, scored, ranked, with its reason in both languages."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

from bijli.vigilance.anomalies import AnomalyKind, MeterDay, ranked, score

USUAL = (7000, 7400, 6900, 7200, 7100, 7300, 7000, 6800, 7250, 7050)
NORMAL = MeterDay(
    meter_id="KNCL0000007",
    area="Civil Lines",
    transformer="CL-F01-DT01",
    day=date(2026, 11, 12),
    wh=7100,
    intervals=96,
    zero_with_supply=3,
    current_without_energy=0,
    export_wh=0,
    neutral_events=0,
    reverse_events=0,
    history=USUAL,
)


def kinds(m: MeterDay) -> set[AnomalyKind]:
    return {a.kind for a in score(m)}


def test_an_ordinary_day_has_no_anomaly() -> None:
    assert score(NORMAL) == []


def test_a_sudden_sustained_drop_is_found_and_a_single_low_day_is_not() -> None:
    dropped = replace(NORMAL, wh=2100, history=(*USUAL[:-2], 2200, 2000))
    (a,) = [a for a in score(dropped) if a.kind is AnomalyKind.SUDDEN_DROP]
    assert 0.65 < a.score < 0.75 and "below its usual" in a.reason_en and "कम" in a.reason_hi
    assert AnomalyKind.SUDDEN_DROP not in kinds(replace(NORMAL, wh=2100))


def test_flat_zero_with_the_supply_present_is_found() -> None:
    flat = replace(NORMAL, wh=3000, zero_with_supply=40)
    assert AnomalyKind.FLAT_ZERO in kinds(flat)
    assert AnomalyKind.FLAT_ZERO not in kinds(replace(flat, history=(100,) * 10))  # a house that uses nothing


def test_neutral_missing_takes_the_zero_hours_as_its_own() -> None:
    neutral = replace(NORMAL, wh=3000, zero_with_supply=40, neutral_events=2)
    assert AnomalyKind.NEUTRAL_MISSING in kinds(neutral) and AnomalyKind.FLAT_ZERO not in kinds(neutral)
    assert AnomalyKind.NEUTRAL_MISSING in kinds(replace(NORMAL, current_without_energy=8))


def test_reverse_energy_on_a_consumers_meter_is_found() -> None:
    assert AnomalyKind.REVERSE_ENERGY in kinds(replace(NORMAL, export_wh=800))
    assert AnomalyKind.REVERSE_ENERGY in kinds(replace(NORMAL, reverse_events=1))


def test_a_day_unlike_the_households_own_history_is_found_either_way() -> None:
    assert AnomalyKind.UNUSUAL_USAGE in kinds(replace(NORMAL, wh=21000))
    assert AnomalyKind.UNUSUAL_USAGE in kinds(replace(NORMAL, wh=900))
    assert AnomalyKind.UNUSUAL_USAGE not in kinds(replace(NORMAL, wh=21000, history=USUAL[:3]))  # too little history


def test_ranked_highest_score_first_and_filtered() -> None:
    days = [
        replace(NORMAL, meter_id="A", export_wh=20),
        replace(NORMAL, meter_id="B", wh=3000, zero_with_supply=60, neutral_events=3),
        NORMAL,
    ]
    found = ranked(days)
    assert [a.meter_id for a in found][:1] == ["B"] and "A" in {a.meter_id for a in found}
    assert all(x.score >= y.score for x, y in itertools.pairwise(found))
    assert {a.kind for a in ranked(days, AnomalyKind.REVERSE_ENERGY)} == {AnomalyKind.REVERSE_ENERGY}
    assert all(a.score >= 0.9 for a in ranked(days, min_score=0.9))
