"""Use cases of the network area: the energy balance worked out as readings settle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bijli.kernel.time import ist_day
from bijli.kernel.unit import Transactions
from bijli.network.model import Thresholds, judge, thresholds
from bijli.network.ports import DayRecord, EnergyUnit

BALANCE_EVERY = timedelta(minutes=5)
"""A day's balance is worked out again at most this often while its readings still come in."""
LOOKBACK_DAYS = 7
"""How far back late readings still change a day's balance."""


@dataclass(frozen=True, slots=True)
class BalanceRound:
    days: int
    transformers: int
    flagged: int


def balance_due(
    store: Transactions[EnergyUnit],
    now: datetime,
    *,
    every: timedelta = BALANCE_EVERY,
    th: Thresholds | None = None,
) -> BalanceRound:
    """Work out (again) the balance of every IST day whose readings changed since it was last
    worked out, at most once per `every`: each transformer's intervals, losses, their split
    and whether they are flagged. One unit of work per day."""
    th = th or thresholds()
    with store.transaction() as uow:
        due = uow.energy.days_due(ist_day(now) - timedelta(days=LOOKBACK_DAYS), now, every)
    transformers = flagged = 0
    for day in due:
        with store.transaction() as uow:
            judged = judge(uow.energy.transformer_days(day), th)
            uow.energy.save(
                [
                    DayRecord(
                        day=j.day,
                        balance=j.balance,
                        unexplained_w=j.unexplained_w,
                        night_w=j.night_w,
                        excess_w=j.excess_w,
                        flagged=j.flagged,
                    )
                    for j in judged
                ],
                now,
            )
        transformers += len(judged)
        flagged += sum(j.flagged for j in judged)
    return BalanceRound(days=len(due), transformers=transformers, flagged=flagged)
