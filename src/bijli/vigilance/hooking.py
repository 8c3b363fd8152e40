"""Theft by hooking: a flagged transformer's consumers ranked by how well their own pattern
explains its missing energy, and the case that names them (pure).

For each consumer on the transformer the day's recorded energy is set against the household's
own usual day (the per-interval median of its earlier days):

- **drop**: how much less than usual it recorded (a bypass or a tampered meter records less
  while the house draws as before);
- **follows**: how closely what it stopped recording (usual less recorded, per interval) moves
  with the transformer's unexplained loss (correlation);
- **covers**: how much of the unexplained energy its shortfall could account for.

With no earlier days, the consumer's own recorded shape against the unexplained loss stands in
for the last two (a house that hooks part of its load draws the rest through its meter at the
same hours). Scores are floats between 0 and 1; energy figures stay integer Wh.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bijli.network.balance import Balance, kwh
from bijli.vigilance.cases import CaseOpening, Severity, SubjectLevel

KIND = "hooking"
HIGH_W = 500
"""Unexplained watts from which a hooking case is of high severity."""
RANKED = 10
"""Consumers named in a case's evidence."""

Series = Sequence[int | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranked:
    """A consumer of a flagged transformer, and how well it explains the missing energy."""

    meter_id: str
    score: float
    drop: float
    follows: float
    covers: float
    recorded_wh: int
    usual_wh: int | None
    reason_en: str
    reason_hi: str

    def as_evidence(self) -> dict[str, Any]:
        return {
            "meter_id": self.meter_id,
            "score": round(self.score, 3),
            "drop": round(self.drop, 3),
            "follows": round(self.follows, 3),
            "covers": round(self.covers, 3),
            "recorded_kwh": kwh(self.recorded_wh),
            "usual_kwh": None if self.usual_wh is None else kwh(self.usual_wh),
            "reason_en": self.reason_en,
            "reason_hi": self.reason_hi,
        }


def correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson's r of two series (0 when either is flat or too short)."""
    if len(xs) < 3:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return 0.0 if sxx <= 0 or syy <= 0 else sxy / math.sqrt(sxx * syy)


def usual_day(history: Sequence[Series]) -> list[float | None]:
    """Per interval, the median of the household's earlier days (None where it has none)."""
    out: list[float | None] = []
    for slot in range(max((len(d) for d in history), default=0)):
        seen = [d[slot] for d in history if slot < len(d) and d[slot] is not None]
        out.append(statistics.median([float(v) for v in seen if v is not None]) if seen else None)
    return out


def _words(drop: float, follows: float, covers: float, history: bool) -> tuple[str, str]:
    pct, r = round(drop * 100), f"{follows:.2f}"
    if not history:
        return (
            f"its own load moves with the transformer's unexplained loss (r = {r}); no earlier days to compare",
            f"इसका अपना लोड ट्रांसफ़ॉर्मर के अस्पष्ट नुकसान के साथ चलता है (r = {r}); तुलना के लिए पिछले दिन नहीं",
        )
    return (
        f"recorded {pct}% less than its usual day; the shortfall follows the transformer's unexplained "
        f"loss (r = {r}) and could account for {round(covers * 100)}% of it",
        f"अपने सामान्य दिन से {pct}% कम दर्ज किया; यह कमी ट्रांसफ़ॉर्मर के अस्पष्ट नुकसान के साथ चलती है "
        f"(r = {r}) और उसका {round(covers * 100)}% समझा सकती है",
    )


def rank(
    unexplained_wh: Sequence[float | None],
    today: Mapping[str, Series],
    history: Mapping[str, Sequence[Series]],
) -> list[Ranked]:
    """The transformer's consumers, best explanation of the unexplained loss first.

    `unexplained_wh` is the loss per interval that the technical parts do not explain (the
    fit's residual, None where the transformer's meter did not read); `today` each consumer's
    recorded Wh per interval; `history` its earlier days' (any number, maybe none)."""
    slots = [i for i, u in enumerate(unexplained_wh) if u is not None]
    excess_total = sum(max(0.0, unexplained_wh[i] or 0.0) for i in slots)
    out = []
    for meter_id, series in today.items():
        recorded = [series[i] if i < len(series) else None for i in slots]
        got = [(i, float(v)) for i, v in zip(slots, recorded, strict=True) if v is not None]
        recorded_wh = int(sum(v for _, v in got))
        usual = usual_day(history.get(meter_id, ()))
        pairs = [(i, v, usual[i]) for i, v in got if i < len(usual) and usual[i] is not None]
        if pairs:
            usual_wh = sum(u for _, _, u in pairs if u is not None)
            now_wh = sum(v for _, v, _ in pairs)
            drop = max(0.0, 1 - now_wh / usual_wh) if usual_wh > 0 else 0.0
            shortfall = [(u or 0.0) - v for _, v, u in pairs]
            follows = max(0.0, correlation(shortfall, [unexplained_wh[i] or 0.0 for i, _, _ in pairs]))
            missing = sum(max(0.0, s) for s in shortfall)
            covers = min(1.0, missing / excess_total) if excess_total > 0 else 0.0
            score = 0.4 * drop + 0.35 * follows + 0.25 * covers
            words = _words(drop, follows, covers, True)
            usual_out: int | None = round(usual_wh)
        else:
            drop = covers = 0.0
            follows = max(0.0, correlation([v for _, v in got], [unexplained_wh[i] or 0.0 for i, _ in got]))
            score = 0.5 * follows
            words = _words(drop, follows, covers, False)
            usual_out = None
        out.append(
            Ranked(
                meter_id=meter_id,
                score=score,
                drop=drop,
                follows=follows,
                covers=covers,
                recorded_wh=recorded_wh,
                usual_wh=usual_out,
                reason_en=words[0],
                reason_hi=words[1],
            )
        )
    out.sort(key=lambda r: (-r.score, r.meter_id))
    return out


def case_key(transformer: str, first_day: date) -> str:
    """One hooking case per run of flagged days of a transformer."""
    return f"{KIND}:{transformer}:{first_day.isoformat()}"


def flagged_day(balance: Balance, excess_w: int) -> dict[str, Any]:
    """One flagged day as a hooking case's evidence keeps it."""
    pct = balance.loss_pct
    return {
        "day": balance.day.isoformat(),
        "excess_w": excess_w,
        "loss_kwh": kwh(balance.loss_wh),
        "loss_pct": None if pct is None else str(pct),
    }


def with_flagged_day(evidence: Mapping[str, Any], balance: Balance, excess_w: int) -> dict[str, Any] | None:
    """An open hooking case's evidence with a flagged day added (or its figures brought up to
    date); None when it holds the day as it is already."""
    entry = flagged_day(balance, excess_w)
    days = [d for d in evidence.get("flagged_days", []) if isinstance(d, dict)]
    if entry in days:
        return None
    kept = [d for d in days if d.get("day") != entry["day"]]
    return {**evidence, "flagged_days": sorted([*kept, entry], key=lambda d: str(d.get("day")))}


def opening(
    *,
    balance: Balance,
    area: str,
    first_day: date,
    excess_w: int,
    unexplained_w: int | None,
    night_w: int | None,
    ranked: Sequence[Ranked],
    at: Any,
) -> CaseOpening:
    """The hooking case of a flagged transformer, its ranked consumers in the evidence."""
    named = list(ranked[:RANKED])
    top = f"; first to inspect: {named[0].meter_id}" if named else ""
    top_hi = f"; पहले जाँचें: {named[0].meter_id}" if named else ""
    pct = balance.loss_pct
    return CaseOpening(
        key=case_key(balance.subject, first_day),
        kind=KIND,
        severity=Severity.HIGH if excess_w >= HIGH_W else Severity.MEDIUM,
        subject_level=SubjectLevel.TRANSFORMER,
        subject_id=balance.subject,
        area=area,
        opened_at=at,
        reason_code="unexplained_loss",
        reason_en=(
            f"Transformer {balance.subject} loses about {excess_w} W more than on its own usual days "
            f"since {first_day.isoformat()} (loss {pct}% of the energy in){top}"
        ),
        reason_hi=(
            f"ट्रांसफ़ॉर्मर {balance.subject} {first_day.isoformat()} से अपने सामान्य दिनों से "
            f"लगभग {excess_w} W ज़्यादा खो रहा है (नुकसान: आने वाली ऊर्जा का {pct}%){top_hi}"
        ),
        evidence={
            "day": balance.day.isoformat(),
            "first_day": first_day.isoformat(),
            "excess_w": excess_w,
            "unexplained_w": unexplained_w,
            "night_w": night_w,
            "supplied_kwh": kwh(balance.supplied_wh),
            "billed_kwh": kwh(balance.billed_wh),
            "loss_kwh": kwh(balance.loss_wh),
            "loss_pct": None if pct is None else str(pct),
            "estimated": balance.estimated,
            "flagged_days": [flagged_day(balance, excess_w)],
            "consumers_ranked": [r.as_evidence() for r in named],
        },
        notify_field_staff=True,
    )
