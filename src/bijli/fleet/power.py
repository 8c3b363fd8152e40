"""The twin's power outages (scenario kind `power`): a feeder or a transformer loses supply.

Every meter it feeds, its DT meters too, logs its last gasp (POWER_FAILURE) and falls silent;
when the supply is back each logs POWER_RESTORED and sends what it kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from bijli.fleet.scenario import Action, Built, ScenarioError, ScenarioHooks, span
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import epoch


def on_supply(tw: FleetTwin, level: str, name: str) -> list[int]:
    """The twin's meters (consumers and transformer meters) fed by a feeder or a transformer."""
    consumers = [i for i, c in enumerate(tw.consumers) if getattr(c, level) == name]
    dts = [tw.n_consumers + j for j, t in enumerate(tw.transformers) if getattr(t, level) == name]
    return consumers + dts


def power_outage(event: dict[str, Any], first_day: date, _ops: tuple[str, ...]) -> Built:
    """A `power` event: the supply off on a feeder or a transformer from `at` for `for`."""
    if ("feeder" in event) == ("transformer" in event):
        raise ScenarioError("a power outage names either a feeder or a transformer")
    level = "feeder" if "feeder" in event else "transformer"
    name = str(event[level])
    begin, end = span(event, first_day)
    if end <= begin:
        raise ScenarioError(f"power outage of {name}: 'for' must be longer than nothing")

    def switch(on: bool, at: float) -> Callable[[FleetTwin, ScenarioHooks], None]:
        def apply(tw: FleetTwin, _h: ScenarioHooks) -> None:
            tw.condition("power_failure", on_supply(tw, level, name), on, at)

        return apply

    return [
        Action(epoch(begin), f"power off on {level} {name}", switch(True, float(epoch(begin)))),
        Action(epoch(end), f"power back on {level} {name}", switch(False, float(epoch(end)))),
    ], [
        {
            "kind": "power_outage",
            "level": level,
            level: name,
            "theft": False,
            "start": begin.isoformat(),
            "end": end.isoformat(),
        }
    ]
