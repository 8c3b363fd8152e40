"""Anomalies in a consumer meter's day, each scored (0 to 1), ranked, with its reason in Hindi
and English (pure).

| kind | what it looks for |
| --- | --- |
| `sudden_drop` | the day and the two before it all at most half of the household's usual day |
| `flat_zero` | hours of zero energy while the supply is there (voltage present), in a house that uses energy |
| `reverse_energy` | energy exported, or current-reverse events, on a consumer's meter |
| `neutral_missing` | neutral missing or disturbed events, or current flowing with no energy recorded |
| `unusual_usage` | a day far from the household's own history (robust z-score) |

Energy figures are integer Wh; scores are floats.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from bijli.network.balance import kwh


class AnomalyKind(StrEnum):
    SUDDEN_DROP = "sudden_drop"
    FLAT_ZERO = "flat_zero"
    REVERSE_ENERGY = "reverse_energy"
    NEUTRAL_MISSING = "neutral_missing"
    UNUSUAL_USAGE = "unusual_usage"


DROP_SHARE = 0.5
"""A day at most this share of the usual one is a drop."""
USES_ENERGY_WH = 500
"""A household whose usual day is at least this is one that uses energy."""
FLAT_ZERO_INTERVALS = 16
"""Four hours of zero energy with the supply present."""
Z_LIMIT = 4.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterDay:
    """What one consumer meter recorded on one IST day, and its earlier days."""

    meter_id: str
    area: str
    transformer: str
    day: date
    wh: int
    intervals: int
    zero_with_supply: int
    """Intervals with no energy while voltage was present."""
    current_without_energy: int
    """Intervals with current flowing and no energy recorded."""
    export_wh: int
    neutral_events: int
    reverse_events: int
    history: tuple[int, ...] = ()
    """Earlier days' actual Wh, oldest first, up to the day before."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    meter_id: str
    area: str
    transformer: str
    day: date
    kind: AnomalyKind
    score: float
    reason_en: str
    reason_hi: str
    figures: dict[str, Any] = field(default_factory=dict)


def _usual(history: Sequence[int]) -> float | None:
    return statistics.median(history) if history else None


def _sudden_drop(m: MeterDay) -> Anomaly | None:
    if len(m.history) < 6:
        return None
    baseline = statistics.median(m.history[:-2])
    recent = [*m.history[-2:], m.wh]
    if baseline < USES_ENERGY_WH or max(recent) > DROP_SHARE * baseline:
        return None
    share = statistics.fmean(recent) / baseline
    pct = round((1 - share) * 100)
    return _found(
        m,
        AnomalyKind.SUDDEN_DROP,
        1 - share,
        f"three days in a row {pct}% below its usual {kwh(round(baseline))} kWh a day",
        f"लगातार तीन दिन अपने सामान्य {kwh(round(baseline))} kWh प्रतिदिन से {pct}% कम",
        usual_kwh=kwh(round(baseline)),
        recent_kwh=[kwh(w) for w in recent],
    )


def _flat_zero(m: MeterDay) -> Anomaly | None:
    usual = _usual(m.history)
    if m.zero_with_supply < FLAT_ZERO_INTERVALS or m.neutral_events or (usual is not None and usual < USES_ENERGY_WH):
        return None
    hours = m.zero_with_supply / 4
    return _found(
        m,
        AnomalyKind.FLAT_ZERO,
        min(1.0, m.zero_with_supply / 48),
        f"recorded nothing for {hours:g} hours while the supply was there",
        f"बिजली रहते हुए {hours:g} घंटे कुछ भी दर्ज नहीं हुआ",
        zero_intervals=m.zero_with_supply,
    )


def _reverse(m: MeterDay) -> Anomaly | None:
    if m.export_wh < 10 and not m.reverse_events:
        return None
    return _found(
        m,
        AnomalyKind.REVERSE_ENERGY,
        min(1.0, 0.5 + m.export_wh / 2000 + 0.25 * m.reverse_events),
        f"{kwh(m.export_wh)} kWh ran backwards through the meter ({m.reverse_events} current-reverse events)",
        f"मीटर से {kwh(m.export_wh)} kWh उल्टी दिशा में गई ({m.reverse_events} करंट-रिवर्स घटनाएँ)",
        export_kwh=kwh(m.export_wh),
        reverse_events=m.reverse_events,
    )


def _neutral(m: MeterDay) -> Anomaly | None:
    if not m.neutral_events and m.current_without_energy < 4:
        return None
    zero_h = m.zero_with_supply / 4
    return _found(
        m,
        AnomalyKind.NEUTRAL_MISSING,
        min(1.0, 0.5 + 0.1 * m.neutral_events + m.zero_with_supply / 96 + m.current_without_energy / 96),
        f"{m.neutral_events} neutral missing or disturbed events; "
        f"{zero_h:g} hours recorded nothing with the supply there",
        f"न्यूट्रल गायब या बाधित होने की {m.neutral_events} घटनाएँ; बिजली रहते {zero_h:g} घंटे कुछ दर्ज नहीं हुआ",
        neutral_events=m.neutral_events,
        zero_intervals=m.zero_with_supply,
        current_without_energy=m.current_without_energy,
    )


def _unusual(m: MeterDay) -> Anomaly | None:
    if len(m.history) < 7 or m.intervals < 48:
        return None
    usual = statistics.median(m.history)
    spread = 1.4826 * statistics.median([abs(h - usual) for h in m.history])
    z = (m.wh - usual) / (spread + 0.05 * usual + 50)
    if abs(z) < Z_LIMIT:
        return None
    more = "more" if z > 0 else "less"
    more_hi = "ज़्यादा" if z > 0 else "कम"
    return _found(
        m,
        AnomalyKind.UNUSUAL_USAGE,
        min(1.0, abs(z) / 10),
        f"used {kwh(m.wh)} kWh, far {more} than its usual {kwh(round(usual))} kWh (z = {z:.1f})",
        f"{kwh(m.wh)} kWh खर्च, अपने सामान्य {kwh(round(usual))} kWh से बहुत {more_hi} (z = {z:.1f})",
        usual_kwh=kwh(round(usual)),
        z=round(z, 2),
    )


def _found(m: MeterDay, kind: AnomalyKind, score: float, en: str, hi: str, **figures: Any) -> Anomaly:
    return Anomaly(
        meter_id=m.meter_id,
        area=m.area,
        transformer=m.transformer,
        day=m.day,
        kind=kind,
        score=round(max(0.0, min(1.0, score)), 3),
        reason_en=en,
        reason_hi=hi,
        figures={"kwh": kwh(m.wh), **figures},
    )


DETECTORS = (_sudden_drop, _flat_zero, _reverse, _neutral, _unusual)


def score(m: MeterDay) -> list[Anomaly]:
    """Every anomaly in one meter's day."""
    return [a for detect in DETECTORS if (a := detect(m)) is not None]


def ranked(days: Iterable[MeterDay], kind: AnomalyKind | None = None, min_score: float = 0.0) -> list[Anomaly]:
    """Every anomaly of these meters' days (of one kind, or all), highest score first."""
    found = [a for m in days for a in score(m) if (kind is None or a.kind is kind) and a.score >= min_score]
    found.sort(key=lambda a: (-a.score, a.meter_id, a.kind.value))
    return found
