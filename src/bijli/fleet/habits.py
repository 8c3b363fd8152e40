"""Consumers' habits in a scenario: who recharges online, when, and how much.

A `payments` event in a scenario file makes the city's consumers pay as people do: some as
soon as their balance runs low, some only once their supply has been cut, some not at all
within the scenario. Each habit looks at the meters at every interval boundary (what the
consumer sees on the meter or the app) and adds the payments that follow to the run.

```toml
[[events]]
kind = "payments"
at = "00:00"                 # from (default: the start)
for = "30d"                  # how long the habits hold (default: the whole run)
amounts = ["200", "500", "1000"]
prompt = 0.6                 # share of consumers who pay when the balance falls below `below`
below = "40"                 # rupees (may be negative: inside emergency credit)
after_cut = 0.3              # share who pay only once cut off, `delay` later
delay = ["20m", "6h"]        # drawn uniformly for each payment
typed_after = "10m"          # a consumer whose meter is offline types the token this long after paying
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from bijli.fleet.scenario import Action, ScenarioError, ScenarioHooks, duration, moment, paise_of, recharge_action
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import INTERVAL_S, epoch

PAUSE_S = 86_400
"""A consumer who has just paid does not pay again for a day (the credit is on its way)."""
NEVER = 0
PROMPT = 1
AFTER_CUT = 2


@dataclass(frozen=True, slots=True)
class PaymentHabits:
    """How the city's consumers pay, from a scenario's `payments` event."""

    begin: float | None
    span: float | None
    amounts: tuple[int, ...]
    prompt: float
    below: int
    after_cut: float
    delay: tuple[float, float]
    typed_after: float | None
    seed: int

    def start(self, twin: FleetTwin, hooks: ScenarioHooks) -> RunningHabits:
        return RunningHabits(self, twin)


Habit = PaymentHabits


@dataclass(slots=True)
class RunningHabits:
    """The habits at work on one twin: each consumer's kind, and when each may pay next."""

    habits: PaymentHabits
    twin: FleetTwin
    kind: npt.NDArray[np.int64] = field(init=False)
    free_from: npt.NDArray[np.float64] = field(init=False)
    rng: np.random.Generator = field(init=False)
    paid: int = 0

    def __post_init__(self) -> None:
        h, n = self.habits, self.twin.n_consumers
        self.rng = np.random.default_rng([h.seed, 23])
        draw = self.rng.random(n)
        self.kind = np.where(draw < h.prompt, PROMPT, np.where(draw < h.prompt + h.after_cut, AFTER_CUT, NEVER))
        self.free_from = np.zeros(n)

    def due(self, t0: float, end: float) -> list[Action]:
        """The payments consumers make in the interval [t0, end), from what their meters show at t0."""
        h, tw = self.habits, self.twin
        begin = h.begin if h.begin is not None else float("-inf")
        until = begin + h.span if h.span is not None else float("inf")
        if not begin <= t0 < until:
            return []
        nc = tw.n_consumers
        balance, relay = tw.balance[:nc], tw.relay[:nc]
        free = self.free_from <= t0
        low = free & (self.kind == PROMPT) & (balance < h.below)
        cut = free & (self.kind == AFTER_CUT) & ~relay
        actions = []
        for i in np.nonzero(low)[0].tolist():
            actions.append(self._pay(i, t0 + float(self.rng.uniform(0, INTERVAL_S))))
        for i in np.nonzero(cut)[0].tolist():
            actions.append(self._pay(i, t0 + float(self.rng.uniform(*h.delay))))
        return actions

    def _pay(self, i: int, at: float) -> Action:
        h, tw = self.habits, self.twin
        paise = int(h.amounts[int(self.rng.integers(len(h.amounts)))])
        owed = -int(tw.balance[i])
        if paise < owed:  # enough to be back in credit, in whole hundreds of rupees
            paise = (owed // 10_000 + 1) * 10_000
        self.free_from[i] = at + PAUSE_S
        self.paid += 1
        meter = tw.meter_ids[i]
        return recharge_action(meter, paise, f"HAB-{meter}-{int(at)}", at, h.typed_after)


def payment_habits(event: dict[str, Any], first_day: date, seed: int) -> PaymentHabits:
    """A `payments` event, checked."""
    amounts = tuple(paise_of(a) for a in event.get("amounts", ["500"]))
    if not amounts or min(amounts) <= 0:
        raise ScenarioError("payments: amounts are rupees above 0")
    prompt, after_cut = float(event.get("prompt", 0.7)), float(event.get("after_cut", 0.2))
    if prompt < 0 or after_cut < 0 or prompt + after_cut > 1:
        raise ScenarioError("payments: prompt and after_cut are shares of the consumers, together at most 1")
    below = str(event.get("below", "50"))
    below_paise = -paise_of(below[1:]) if below.startswith("-") else paise_of(below)
    delay = event.get("delay", ["30m", "4h"])
    if not isinstance(delay, list) or len(delay) != 2:
        raise ScenarioError('payments: delay is two durations, e.g. ["30m", "4h"]')
    low, high = (duration(str(d)).total_seconds() for d in delay)
    if high < low:
        raise ScenarioError("payments: delay is shortest first")
    begin = float(epoch(moment(str(event["at"]), first_day))) if "at" in event else None
    span = duration(str(event["for"])).total_seconds() if "for" in event else None
    typed = duration(str(event["typed_after"])).total_seconds() if "typed_after" in event else None
    return PaymentHabits(
        begin=begin,
        span=span,
        amounts=amounts,
        prompt=prompt,
        below=below_paise,
        after_cut=after_cut,
        delay=(low, high),
        typed_after=typed,
        seed=seed,
    )
