"""Scenario hooking events: one transformer, several, or a share of the city's, for some nights."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bijli.fleet.city import build_city
from bijli.fleet.scenario import ScenarioError, parse

DAY = date(2026, 12, 1)


def hooks(event: dict[str, Any], meters: int = 600) -> list[dict[str, Any]]:
    scenario = parse({"start": DAY, "days": 3, "meters": meters, "events": [{"kind": "hooking", **event}]})
    return [f for f in scenario.truth if f["kind"] == "hooking"]


def test_one_transformer_one_night_as_before() -> None:
    (fact,) = hooks({"transformer": "CL-F01-DT02", "watts": 2000, "at": "18:00", "for": "4h"})
    assert fact == {
        "kind": "hooking",
        "transformer": "CL-F01-DT02",
        "watts": 2000.0,
        "theft": True,
        "start": "2026-12-01T18:00:00+05:30",
        "end": "2026-12-01T22:00:00+05:30",
    }


def test_a_share_of_the_transformers_each_with_its_watts_for_several_nights() -> None:
    facts = hooks({"share": 0.25, "watts": [300, 3000], "at": "day 2 19:00", "for": "5h", "nights": 2})
    names = sorted({c.transformer for c in build_city(600)})  # 12 transformers
    hooked = sorted({f["transformer"] for f in facts})
    assert len(hooked) == 3 and set(hooked) <= set(names)
    assert len(facts) == 6
    assert {f["watts"] for f in facts} == {300.0, 3000.0}
    assert sorted({f["start"][:10] for f in facts}) == ["2026-12-02", "2026-12-03"]
    assert hooks({"share": 0.25, "watts": 300, "at": "19:00", "for": "1h"}, meters=600)[0]["transformer"] == hooked[0]


@pytest.mark.parametrize(
    "event",
    [
        {"share": 0, "watts": 300, "at": "19:00", "for": "1h"},
        {"transformer": "CL-F01-DT01", "watts": 0, "at": "19:00", "for": "1h"},
        {"transformer": "CL-F01-DT01", "watts": 300, "at": "19:00", "for": "1h", "nights": 0},
    ],
)
def test_a_bad_hooking_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError):
        hooks(event)
