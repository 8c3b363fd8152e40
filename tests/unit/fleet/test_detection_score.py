"""Scoring the platform's cases and outages against a scenario's ground truth."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bijli.fleet.detection import FoundCase, FoundOutage, percentile, score
from bijli.kernel.time import IST

T = datetime(2026, 12, 1, 11, 0, tzinfo=IST)
S = T.timestamp()


def tamper(meter: str, condition: str, start: float = S, hours: float = 1) -> dict[str, Any]:
    return {
        "kind": "tamper",
        "condition": condition,
        "meter_id": meter,
        "theft": True,
        "start": datetime.fromtimestamp(start, IST).isoformat(),
        "end": datetime.fromtimestamp(start + hours * 3600, IST).isoformat(),
    }


def hook(transformer: str, watts: float, start: float = S) -> dict[str, Any]:
    return {**tamper("", "x", start), "kind": "hooking", "transformer": transformer, "watts": watts}


def case(kind: str, subject: str, at: float, level: str = "meter") -> FoundCase:
    return FoundCase(kind=kind, subject_level=level, subject_id=subject, opened_at=at)


def test_tampers_found_per_kind_with_the_time_to_case() -> None:
    truth = [tamper("M1", "magnet"), tamper("M2", "magnet"), tamper("M3", "bypass")]
    found = [case("magnet", "M1", S + 30), case("magnet", "M2", S + 90), case("bypass", "M9", S + 10)]

    figures = score(truth, found, [])

    assert figures["tampers"]["magnet"] == {"truth": 2, "found": 2, "recall": 1.0, "cases": 2, "precision": 1.0}
    assert figures["tampers"]["bypass"] == {"truth": 1, "found": 0, "recall": 0.0, "cases": 1, "precision": 0.0}
    assert figures["tamper_recall"] == round(2 / 3, 4)
    assert figures["every_tamper_a_case"] is False
    assert figures["time_to_case_p50_s"] == 30.0
    assert figures["time_to_case_p99_s"] == 90.0
    assert figures["false_cases"] == 1


def test_a_case_of_another_kind_or_before_the_tamper_does_not_find_it() -> None:
    truth = [tamper("M1", "magnet")]
    figures = score(truth, [case("bypass", "M1", S + 30), case("magnet", "M1", S - 3600)], [])
    assert figures["tampers"]["magnet"]["found"] == 0


def test_hooking_recall_precision_and_by_wattage() -> None:
    truth = [hook("DT1", 300), hook("DT1", 300, S + 86400), hook("DT2", 3000), hook("DT3", 800)]
    found = [case("hooking", t, S + 7200, "transformer") for t in ("DT1", "DT2", "DT9")]

    h = score(truth, found, [])["hooking"]

    assert (h["truth"], h["flagged"], h["found"], h["flagged_before_the_hook"]) == (3, 3, 2, 0)
    assert h["recall"] == round(2 / 3, 4)
    assert h["precision"] == round(2 / 3, 4)
    assert h["recall_by_watts"] == {"300": 1.0, "800": 0.0, "3000": 1.0}
    assert h["hours_to_case_p50"] == 2.0


def test_outages_one_record_each_and_false_records() -> None:
    truth = [
        {
            "kind": "power_outage",
            "level": "feeder",
            "feeder": "CL-F01",
            "start": T.isoformat(),
            "end": T.isoformat(),
            "meters": ["M1", "KNCLT00001"],
        },
        {"kind": "network_down", "operator": "Jio", "area": "Mall Road", "start": T.isoformat(), "end": T.isoformat()},
    ]
    outages = [
        FoundOutage(level="feeder", subject="CL-F01", area="Civil Lines", started_at=S + 5),
        FoundOutage(level="operator", subject="Jio", area="Mall Road", started_at=S + 1500),
        FoundOutage(level="transformer", subject="CL-F02-DT01", area="Civil Lines", started_at=S),
    ]
    o = score(truth, [], outages)["outages"]
    assert (o["expected"], o["found"], o["records"], o["false"]) == (2, 2, 3, 1)
    assert o["one_record_each"] is True


def test_theft_cases_on_meters_without_supply_count_against_the_outages() -> None:
    truth = [
        {
            "kind": "power_outage",
            "level": "feeder",
            "feeder": "CL-F01",
            "start": T.isoformat(),
            "end": datetime.fromtimestamp(S + 2700, IST).isoformat(),
            "meters": ["M1", "M2"],
        },
        tamper("M2", "magnet", S + 86400),
    ]
    found = [case("magnet", "M1", S + 60), case("magnet", "M2", S + 86460), case("magnet", "M7", S + 60)]
    figures = score(truth, found, [])
    assert figures["theft_cases_from_outages"] == 1
    assert figures["false_cases"] == 2


def test_facts_after_the_end_of_the_run_are_left_out() -> None:
    truth = [tamper("M1", "magnet"), tamper("M2", "magnet", S + 86400)]
    figures = score(truth, [case("magnet", "M1", S + 60)], [], end=S + 3600)
    assert figures["tampers"]["magnet"]["truth"] == 1
    assert figures["every_tamper_a_case"] is True


def test_nearest_rank_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile(list(map(float, range(1, 101))), 99) == 99.0


def test_a_hooking_case_before_the_hook_began_does_not_find_it() -> None:
    truth = [hook("DT1", 300, S + 86400)]
    h = score(truth, [case("hooking", "DT1", S, "transformer")], [])["hooking"]
    assert (h["flagged"], h["found"], h["flagged_before_the_hook"], h["recall"], h["precision"]) == (1, 0, 1, 0.0, 0.0)
