"""Consumers whose meters go offline for a while (a scenario's `[network] offline` share).

A dead modem keeps the meter from sending anything, with no event for it: the meter meters
on and keeps every reading; the platform estimates the gap meanwhile, and the real readings
replace the estimates once the modem is mended.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import numpy as np

from bijli.fleet.city import consumer_meter_id
from bijli.fleet.grid import GridOptions
from bijli.fleet.scenario import Action, Built, ScenarioError, ScenarioHooks
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import IST, epoch


def lossy_network(
    table: Any, meters: int, days: float, first_day: date, seed: int
) -> tuple[GridOptions | None, list[Action], list[dict[str, Any]]]:
    """A scenario's `[network]` table (None: not there), and the dead modems it asks for."""
    if table is None:
        return None, [], []
    if not isinstance(table, dict):
        raise ScenarioError("[network] is a table, e.g. [network] with lossy = true")
    try:
        options = GridOptions.from_table(table)
    except ValueError as e:
        raise ScenarioError(str(e)) from e
    actions, facts = dead_modems(options.offline, meters, days, first_day, seed)
    return options, actions, facts


def dead_modems(share: float, meters: int, days: float, first_day: date, seed: int) -> Built:
    """`share` of the consumer meters lose their modem for 12 h to 3 days, starting at random in the
    first 60 % of the run: silent meanwhile (no event), metering on, delivering when mended."""
    if share <= 0:
        return [], []
    rng = np.random.default_rng([seed, 47])
    count = max(1, round(meters * share))
    picked = sorted(rng.choice(meters, size=min(count, meters), replace=False).tolist())
    begin = float(epoch(datetime.combine(first_day, time(0), IST)))
    actions: list[Action] = []
    facts: list[dict[str, Any]] = []
    for i in picked:
        meter = consumer_meter_id(int(i))
        fails = round(begin + rng.uniform(0.0, 0.6) * days * 86_400)
        mended = round(fails + rng.uniform(12, 72) * 3600)
        actions.append(Action(fails, f"modem of {meter} fails", _modem_fault(meter, True, fails)))
        actions.append(Action(mended, f"modem of {meter} mended", _modem_fault(meter, False, mended)))
        facts.append(
            {
                "kind": "offline",
                "meter_id": meter,
                "start": datetime.fromtimestamp(fails, IST).isoformat(),
                "end": datetime.fromtimestamp(mended, IST).isoformat(),
            }
        )
    return actions, facts


def _modem_fault(meter: str, failed: bool, at: float) -> Callable[[FleetTwin, ScenarioHooks], None]:
    return lambda tw, _h: tw.modem_fault([tw.index[meter]], failed, at)
