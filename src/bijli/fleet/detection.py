"""How well the platform found what a scenario did: its cases and outages against the ground truth.

`score` takes the scenario's ground truth (the JSON lines `write_truth` wrote), the cases the
platform opened and the outages it recorded, and gives the figures of `bijli theft evaluate`:

- **tampers**, per kind: a tamper on a meter is found when a case on that meter was opened
  at or after its start (and, when the case names a tamper kind, of that kind); recall is the
  share found, precision the share of the cases attributed to the kind that found one;
- **time to case**: simulated seconds from a tamper's start to its first case (p50, p99);
- **hooking**: a hooked transformer is found by a `hooking` case on it opened once its first
  hook was on (a case before it was not about the hook); precision is the share of
  transformers flagged that were found;
- **outages**: each power outage (feeder or transformer) and operator outage of the truth is
  found by an outage record of its level and subject beginning near it; records matching no
  outage are false;
- **theft cases from outages**: cases matching no tamper or hook on meters (or transformers)
  that lost supply in a power outage or a house's power failure, or were offline. Must be 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bijli.meter.sensors import CONDITIONS

HOOKING = "hooking"
EARLY_S = 120
"""A case may name a moment this much before the truth's (meter clocks drift, rounds)."""
OUTAGE_EARLY_S = 15 * 60
OUTAGE_LATE_S = 60 * 60
"""An outage record matches a truth outage beginning within these of its start."""
TAMPERS = tuple(name for name, spec in CONDITIONS.items() if spec.is_theft)


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundCase:
    """A case the platform opened."""

    kind: str
    subject_level: str
    """"meter" or "transformer"."""
    subject_id: str
    opened_at: float
    """Epoch seconds on the scenario's clock."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundOutage:
    """An outage the platform recorded."""

    level: str
    """"feeder", "transformer" or "operator"."""
    subject: str
    area: str | None
    started_at: float


def _t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)])


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score(
    truth: Iterable[Mapping[str, Any]],
    cases: Sequence[FoundCase],
    outages: Sequence[FoundOutage],
    end: float | None = None,
) -> dict[str, Any]:
    """The evaluation's figures (see the module's description); facts starting at or after `end`
    (the run's end, epoch seconds) never happened and are left out."""
    facts = [f for f in truth if end is None or "start" not in f or _t(f["start"]) < end]
    tampers = [f for f in facts if f.get("kind") == "tamper"]
    meter_cases = [c for c in cases if c.subject_level == "meter" and c.kind != HOOKING]
    by_meter: dict[str, list[FoundCase]] = defaultdict(list)
    for c in meter_cases:
        by_meter[c.subject_id].append(c)

    def matches(c: FoundCase, fact: Mapping[str, Any]) -> bool:
        kind_ok = c.kind == fact["condition"] or c.kind not in CONDITIONS
        return kind_ok and c.subject_id == fact["meter_id"] and c.opened_at >= _t(fact["start"]) - EARLY_S

    delays: list[float] = []
    per_kind: dict[str, dict[str, Any]] = {k: {"truth": 0, "found": 0, "cases": 0, "right": 0} for k in TAMPERS}
    matched_cases: set[int] = set()
    for fact in tampers:
        row = per_kind.setdefault(fact["condition"], {"truth": 0, "found": 0, "cases": 0, "right": 0})
        row["truth"] += 1
        hits = [c for c in by_meter.get(fact["meter_id"], []) if matches(c, fact)]
        if hits:
            row["found"] += 1
            delays.append(max(0.0, min(c.opened_at for c in hits) - _t(fact["start"])))
        matched_cases.update(id(c) for c in hits)
    for c in meter_cases:
        truths = [f for f in tampers if matches(c, f)]
        kind = c.kind if c.kind in CONDITIONS else (truths[0]["condition"] if truths else "other")
        row = per_kind.setdefault(kind, {"truth": 0, "found": 0, "cases": 0, "right": 0})
        row["cases"] += 1
        row["right"] += 1 if any(f["condition"] == kind for f in truths) else 0
    kinds = {
        k: {
            "truth": r["truth"],
            "found": r["found"],
            "recall": _ratio(r["found"], r["truth"]),
            "cases": r["cases"],
            "precision": _ratio(r["right"], r["cases"]),
        }
        for k, r in per_kind.items()
    }
    found = sum(r["found"] for r in per_kind.values())
    right = sum(r["right"] for r in per_kind.values())
    hooking = _hooking(facts, cases)
    false_meter = [c for c in meter_cases if id(c) not in matched_cases]
    return {
        "tampers": kinds,
        "tamper_recall": _ratio(found, len(tampers)),
        "tamper_precision": _ratio(right, len(meter_cases)),
        "every_tamper_a_case": found == len(tampers),
        "time_to_case_p50_s": percentile(delays, 50),
        "time_to_case_p99_s": percentile(delays, 99),
        "hooking": hooking,
        "outages": _outages(facts, outages),
        "theft_cases_from_outages": _from_outages(facts, false_meter, cases),
        "false_cases": len(false_meter) + hooking["flagged"] - hooking["found"],
        "cases": len(cases),
    }


def _hooking(facts: Sequence[Mapping[str, Any]], cases: Sequence[FoundCase]) -> dict[str, Any]:
    hooks = [f for f in facts if f.get("kind") == HOOKING]
    hooked = {f["transformer"] for f in hooks}
    first = {t: min(_t(f["start"]) for f in hooks if f["transformer"] == t) for t in hooked}
    opened: dict[str, list[float]] = defaultdict(list)
    for c in cases:
        if c.kind == HOOKING and c.subject_level == "transformer":
            opened[c.subject_id].append(c.opened_at)
    flagged = set(opened)
    # A hooked transformer is found by a case opened once its hook was on, not by one before it.
    after = {t: [at for at in opened[t] if at >= first[t] - EARLY_S] for t in hooked & flagged}
    found = {t for t, ats in after.items() if ats}
    watts: dict[str, set[str]] = defaultdict(set)
    for f in hooks:
        watts[str(round(float(f["watts"])))].add(f["transformer"])
    hours = [(min(after[t]) - first[t]) / 3600 for t in found]
    return {
        "truth": len(hooked),
        "flagged": len(flagged),
        "flagged_before_the_hook": len((hooked & flagged) - found),
        "found": len(found),
        "recall": _ratio(len(found), len(hooked)),
        "precision": _ratio(len(found), len(flagged)),
        "recall_by_watts": {w: _ratio(len(watts[w] & found), len(watts[w])) for w in sorted(watts, key=float)},
        "hours_to_case_p50": None if not hours else round(percentile(hours, 50) or 0.0, 1),
    }


def _outages(facts: Sequence[Mapping[str, Any]], outages: Sequence[FoundOutage]) -> dict[str, Any]:
    expected: list[tuple[str, Mapping[str, Any]]] = []
    for f in facts:
        if f.get("kind") == "power_outage":
            expected.append((str(f["level"]), f))
        elif f.get("kind") == "network_down" and f.get("area"):
            expected.append(("operator", f))
    used: set[int] = set()
    each: list[dict[str, Any]] = []
    for level, f in expected:
        start = _t(f["start"])
        hits = [
            k
            for k, o in enumerate(outages)
            if o.level == level
            and start - OUTAGE_EARLY_S <= o.started_at <= start + OUTAGE_LATE_S
            and (
                o.subject == f.get(level)
                if level != "operator"
                else (o.area == f["area"] and str(f["operator"]).lower() in o.subject.lower())
            )
        ]
        used.update(hits)
        name = f.get(level) if level != "operator" else f"{f['operator']} in {f['area']}"
        each.append({"level": level, "subject": name, "records": len(hits)})
    return {
        "expected": len(expected),
        "found": sum(1 for e in each if int(e["records"]) >= 1),
        "one_record_each": all(int(e["records"]) == 1 for e in each),
        "records": len(outages),
        "false": len(outages) - len(used),
        "each": each,
    }


def _from_outages(
    facts: Sequence[Mapping[str, Any]], false_meter_cases: Sequence[FoundCase], cases: Sequence[FoundCase]
) -> int:
    """False theft cases on meters or transformers that lost supply or their modem."""
    dark: dict[str, list[tuple[float, float]]] = defaultdict(list)
    hooked = {f["transformer"] for f in facts if f.get("kind") == HOOKING}
    for f in facts:
        span = (_t(f["start"]), _t(f["end"])) if "start" in f and "end" in f else None
        if span is None:
            continue
        if f.get("kind") == "power_outage":
            for m in f.get("meters", []):
                dark[m].append(span)
            dark[str(f.get(str(f.get("level")), ""))].append(span)
        elif f.get("kind") in ("power_failure", "offline"):
            dark[f["meter_id"]].append(span)
    wrong_hooks = [c for c in cases if c.kind == HOOKING and c.subject_id not in hooked]
    count = 0
    for c in [*false_meter_cases, *wrong_hooks]:
        if any(s - EARLY_S <= c.opened_at for s, _e in dark.get(c.subject_id, [])):
            count += 1
    return count
