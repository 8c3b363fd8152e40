"""Theft by hooking in scenarios (kind `hooking`): unmetered load hung on transformers' lines.

```toml
[[events]]
kind = "hooking"
transformer = "CL-F01-DT03"   # or transformers = [...], or share = 0.02 of the city's (at least one a wattage)
watts = 1800                  # or an array, taken in turn over the transformers
at = "day 2 18:00"
for = "6h"
nights = 3                    # optional: the same hours on this many days running (default 1)
```

The share is chosen by the seed from the transformers of the city that runs, so `--meters`
scales it. Each hook, on each transformer and night, is one `hooking` fact of the ground truth.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np

from bijli.fleet.city import build_city
from bijli.fleet.scenario import Action, Built, ScenarioError, ScenarioHooks, span
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import epoch


def chosen_transformers(event: dict[str, Any], meters: int, seed: int) -> dict[str, Any]:
    """A hooking event that names `share` of the city's transformers, chosen by the seed (at least
    one for each of its wattages)."""
    share = float(event["share"])
    if not 0 < share <= 1:
        raise ScenarioError(f"share {share}: a fraction of the transformers, above 0 and at most 1")
    names = sorted({c.transformer for c in build_city(meters, seed)})
    kinds = len(event["watts"]) if isinstance(event.get("watts"), list) else 1
    count = min(len(names), max(kinds, round(len(names) * share)))
    picked = np.random.default_rng([seed, 19]).choice(len(names), size=count, replace=False)
    return {**event, "transformers": [names[int(i)] for i in sorted(picked.tolist())]}


def hooking(event: dict[str, Any], first_day: date, _ops: tuple[str, ...]) -> Built:
    """Hooks on one or more transformers, each with its watts, for some hours on some nights."""
    names = [str(t) for t in event["transformers"]] if "transformers" in event else [str(event["transformer"])]
    watts = event["watts"]
    each = [float(w) for w in watts] if isinstance(watts, list) else [float(watts)]
    nights = int(event.get("nights", 1))
    if not names or not each or nights < 1 or min(each) <= 0:
        raise ScenarioError("a hooking names its transformers, watts above 0 and nights from 1")
    begin, end = span(event, first_day)
    actions: list[Action] = []
    facts: list[dict[str, Any]] = []
    for k, name in enumerate(names):
        w = each[k % len(each)]
        for night in range(nights):
            on, off = begin + timedelta(days=night), end + timedelta(days=night)
            actions.append(Action(epoch(on), f"hook on {name}", _hook(name, w, float(epoch(on)))))
            actions.append(Action(epoch(off), f"hook off {name}", _hook(name, 0.0, float(epoch(off)))))
            facts.append(
                {
                    "kind": "hooking",
                    "transformer": name,
                    "watts": w,
                    "theft": True,
                    "start": on.isoformat(),
                    "end": off.isoformat(),
                }
            )
    return actions, facts


def _hook(transformer: str, watts: float, at: float) -> Callable[[FleetTwin, ScenarioHooks], None]:
    return lambda tw, _h: tw.hook(transformer, watts, at)
