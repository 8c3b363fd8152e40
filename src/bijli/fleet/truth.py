"""The prepaid ground truth of a scenario run: what really happened at the meters and in the
consumers' hands, judged against the policy.

`WatchedTwin` is the fleet twin keeping a record of every relay operation (when each meter
really opened or closed its relay) and of each consumer's balance at every IST midnight.
`Inbox` is what each consumer really received, per channel, from the alert providers. `judge`
compares them with the policy and with the payments made, never with the platform's own
record of what it did; it prints the figures of the scenario's JSON line.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import INTERVAL_S, epoch, ist_day, ist_midnight, utc_from_epoch
from bijli.prepaid.forecast import Sample, error_at

WARNINGS_NEEDED = 3
CHANNELS_NEEDED = 2
LAST_WARNING_BEFORE_S = 86_400
WARNING_KINDS = frozenset({"low_balance", "disconnect_notice"})
NEAR_DAYS = (Decimal("2.5"), Decimal("3.5"))
"""'At 3 days': the credit really had between 2.5 and 3.5 days left."""


class WatchedTwin(FleetTwin):
    """A fleet twin that records its relay operations and its balances at IST midnights."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relay_log: list[tuple[int, float, bool]] = []
        """(meter index, moment, closed) for every change of a relay."""
        self.midnights: list[tuple[date, npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        """(IST day starting, balances then, credit received since the previous midnight)."""
        self._credited = np.zeros(self.n, dtype=np.int64)
        self.zero_log: dict[int, list[float]] = defaultdict(list)
        """Per consumer meter, the end of each interval in which its balance went below zero."""
        first = ist_day(utc_from_epoch(int(self.now)))
        self.midnights.append((first, self.balance[: self.n_consumers].copy(), self._credited.copy()))

    def set_relay(self, i: int, closed: bool, t: float, for_credit: bool = False) -> None:
        was = bool(self.relay[i])
        super().set_relay(i, closed, t, for_credit)
        if bool(self.relay[i]) != was:
            self.relay_log.append((i, t, closed))

    def credit(self, i: int, amount_paise: int, t: float) -> None:
        self._credited[i] += amount_paise
        super().credit(i, amount_paise, t)

    def close_interval(self, start: datetime) -> None:
        super().close_interval(start)
        end = epoch(start) + INTERVAL_S
        for i in np.nonzero(self.mirrors.negative_since[: self.n_consumers] == end)[0].tolist():
            self.zero_log[i].append(float(end))
        day = ist_day(utc_from_epoch(end))
        if ist_day(start) != day:
            self.midnights.append((day, self.balance[: self.n_consumers].copy(), self._credited.copy()))
            self._credited[:] = 0


@dataclass(slots=True)
class Inbox:
    """What the consumers' phones, mailboxes and pages really received."""

    received: list[tuple[str, str, str, str, float]] = field(default_factory=list)
    """(account no, alert key, kind, channel, moment) per message that arrived."""

    def take(self, account_no: str, key: str, kind: str, channel: str, at: float) -> None:
        self.received.append((account_no, key, kind, channel, at))


Forecast = Callable[[int, Mapping[date, int], date], Decimal | None]
"""(balance paise, the account's charge per IST day before today, today) -> days of credit left."""


def judge(
    twin: WatchedTwin,
    payments: Sequence[Mapping[str, Any]],
    inbox: Inbox,
    expected: Sequence[tuple[str, str, str]],
    friendly: Callable[[datetime], bool],
    end: float,
    forecast: Forecast | None,
    reconnect_at_paise: int = 0,
) -> dict[str, Any]:
    """The scenario's JSON line. `expected`: (account no, alert key, channel) the consumers should
    have received (every fact the platform committed an alert for, on every channel it reaches).
    `reconnect_at_paise`: the policy's level a balance must be back to for supply to return."""
    account = [c.account_no for c in twin.consumers]
    pays_at: dict[int, list[float]] = defaultdict(list)
    for p in payments:
        pays_at[twin.index[p["meter_id"]]].append(float(p["at"]))
    warned: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for acc, key, kind, channel, at in inbox.received:
        if kind in WARNING_KINDS:
            warned[acc].append((at, channel, key))
    cuts = [(i, t) for i, t, closed in twin.relay_log if not closed and i < twin.n_consumers]
    protected = sum(1 for _, t in cuts if friendly(utc_from_epoch(int(t))))
    unwarned = 0
    for i, t in cuts:
        since = max([p for p in pays_at.get(i, []) if p <= t], default=float("-inf"))
        seen = sorted(w for w in warned.get(account[i], []) if since <= w[0] <= t)
        if (
            len({key for *_, key in seen}) < WARNINGS_NEEDED
            or len({ch for _, ch, _ in seen}) < CHANNELS_NEEDED
            or seen[-1][0] > t - LAST_WARNING_BEFORE_S
        ):
            unwarned += 1
    copies: dict[tuple[str, str], int] = defaultdict(int)
    for _acc, key, _kind, channel, _at in inbox.received:
        copies[(key, channel)] += 1
    lost = sum(1 for _acc, key, channel in set(expected) if (key, channel) not in copies)
    # Every payment taken is a fact the consumer hears of (payment_received), on SMS at least.
    paid: dict[str, int] = defaultdict(int)
    for p in payments:
        paid[account[twin.index[p["meter_id"]]]] += 1
    told: dict[str, set[str]] = defaultdict(set)
    for acc, key, kind, channel, _at in inbox.received:
        if kind == "payment_received" and channel == "sms":
            told[acc].add(key)
    lost = max(lost, sum(max(0, n - len(told[acc])) for acc, n in paid.items()))
    back, short = _power_back(twin, payments, end, reconnect_at_paise)
    return {
        "disconnects": len(cuts),
        "disconnects_in_protected_time": protected,
        "disconnects_without_warning": unwarned,
        "alerts": len({key for _acc, key, *_ in inbox.received}),
        "alerts_duplicated": sum(n - 1 for n in copies.values()),
        "alerts_lost": lost,
        "recharges": len(payments),
        "power_back_p95_s": _rank(back, 0.95),
        "power_back_max_s": max(back) if back else None,
        "days_left_error_at_3_days_pct": days_left_error(twin, forecast) if forecast is not None else None,
        "recharges_short_of_debt": short,
    }


def _power_back(
    twin: WatchedTwin, payments: Sequence[Mapping[str, Any]], end: float, reconnect_at_paise: int = 0
) -> tuple[list[float], int]:
    """Seconds from each payment that could bring supply back to the meter's relay closing (to
    the end of the run if it never did), and how many payments made while the meter was cut
    off could not.

    A payment made while the relay was open brings supply back only if it takes the meter's
    balance (as the meter itself held it at that moment) back to the policy's reconnect level;
    a smaller one rightly leaves the power off, and is not timed: the power-back clock starts
    at the payment that does clear the debt."""
    closes: dict[int, list[float]] = defaultdict(list)
    for i, t, closed in twin.relay_log:
        if closed:
            closes[i].append(t)
    found, short = [], 0
    for p in payments:
        if not p["relay_open"]:
            continue
        if int(p["balance_paise"]) + int(p["paise"]) < reconnect_at_paise:
            short += 1
            continue
        at, i = float(p["at"]), twin.index[p["meter_id"]]
        after = [t for t in closes.get(i, []) if t >= at]
        found.append(round((min(after) if after else end) - at, 1))
    return found, short


def _rank(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def days_left_error(twin: WatchedTwin, forecast: Forecast, history_days: int = 28, min_days: int = 3) -> float | None:
    """The mean absolute error, in percent of the real time left, of the days-left forecasts
    made at IST midnights when the credit really had 2.5 to 3.5 days left (a missing forecast
    counts as 100 %), as the forecast's own backtest measures it. The real time left is from
    that midnight to the end of the interval in which the balance went below zero, with no
    credit in between; a forecast is made only with at least `min_days` days of charges behind
    it (the run's first days have none)."""
    days = twin.midnights
    if len(days) < 2:
        return None
    balances = np.stack([b for _, b, _ in days])  # day x consumer
    credited = np.stack([c[: twin.n_consumers] for _, _, c in days])
    charges = balances[:-1] - balances[1:] + credited[1:]  # what each day cost
    samples: list[Sample] = []
    for d in range(min_days, len(days)):
        today, midnight = days[d][0], float(epoch(ist_midnight(days[d][0])))
        for i in np.nonzero(balances[d] > 0)[0].tolist():
            actual = _days_to_zero(twin, i, midnight, credited[d + 1 :, i])
            if actual is None or not NEAR_DAYS[0] <= actual < NEAR_DAYS[1]:
                continue
            history = {days[k][0]: int(charges[k, i]) for k in range(max(0, d - history_days), d)}
            samples.append(Sample(forecast(int(balances[d, i]), history, today), actual))
    error = error_at(samples)
    return None if error is None else float(error)


def _days_to_zero(twin: WatchedTwin, i: int, midnight: float, credits_after: Any) -> Decimal | None:
    """Days from `midnight` until meter i's balance went below zero, if it did before any credit
    came (`credits_after`: the credit received on each day from that midnight)."""
    went = [t for t in twin.zero_log.get(i, []) if t > midnight]
    if not went:
        return None
    whole = int((went[0] - midnight) // 86_400)
    if credits_after[: whole + 1].any():
        return None
    return Decimal(str(round((went[0] - midnight) / 86_400, 4)))


def friendly_times(policy: Any) -> Callable[[datetime], bool]:
    """The policy's protected times (no disconnection), as a predicate on a moment."""
    rule: Callable[[datetime], bool] = policy.friendly
    return rule


class Handset:
    """One channel's provider in a scenario run: hands each message to the consumer it is
    addressed to, recording it in the `Inbox` at the simulated moment (the ground truth of
    what arrived). `account_of` finds the consumer from the address; `kind_of` the alert's
    kind from its registered template."""

    def __init__(
        self,
        inbox: Inbox,
        channel: str,
        account_of: Mapping[str, str] | None,
        kind_of: Mapping[str, str],
        now: Callable[[], float],
    ) -> None:
        self.inbox, self.channel, self.account_of, self.kind_of, self.now = inbox, channel, account_of, kind_of, now

    def send(self, message: Any) -> str:
        to = str(message.to)
        account = self.account_of.get(to, to) if self.account_of is not None else to
        kind = self.kind_of.get(str(message.template_id), "")
        self.inbox.take(account, f"alert-{message.alert_id}", kind, self.channel, self.now())
        return str(message.message_id)
