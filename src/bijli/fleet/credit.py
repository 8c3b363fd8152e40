"""The fleet's credit mirrors: each consumer meter's balance, charged by its own copy of the tariff.

Every interval each consumer meter pays for what it recorded, by the published tariff in force
or by a version the head-end loaded into it (the `tariff` command), in integer paise to the
paisa of the server's charges (`bijli.meter.credit.MirrorTariff`). A balance may go negative;
the moment it first did starts the meter's emergency credit (`PrepaidPolicy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from bijli.kernel.time import INTERVAL_S, epoch, ist_day, month_key, utc_from_epoch
from bijli.meter.credit import MirrorTariff
from bijli.prepaid.policy import PrepaidPolicy
from bijli.prepaid.tariff import Tariff

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
NOT_NEGATIVE: Final = 2**62
"""`negative_since` of a balance that is not negative: a moment that never comes."""


class CreditMirrors:
    """Every meter's balance, month-to-date energy, and the tariff versions loaded into it."""

    def __init__(
        self, tariff: Tariff, opening_paise: Ints, is_consumer: Bools, sanctioned_w: Ints, start: datetime
    ) -> None:
        self.tariff = tariff
        self.balance = opening_paise
        self.negative_since = np.full(len(opening_paise), NOT_NEGATIVE, dtype=np.int64)
        self.permit_after = np.zeros(len(opening_paise), dtype=np.int64)
        """The `after` of the supply service's `cutoff_permit` each meter holds (0: none)."""
        self.month_wh = np.zeros(len(opening_paise), dtype=np.int64)
        self.loaded: dict[int, list[tuple[date, MirrorTariff]]] = {}
        """Tariff versions loaded into a meter by command, by the day each takes effect."""
        self._is_consumer = is_consumer
        self._sanctioned_w = sanctioned_w
        self._month = month_key(ist_day(start))
        self._charged_day: date | None = None

    def charge(self, start: datetime, wh: Ints) -> None:
        """Each consumer meter pays for the `wh` it recorded in the interval from `start`."""
        day = ist_day(start)
        version = MirrorTariff(self.tariff.on(day))
        if month_key(day) != self._month:
            self._month = month_key(day)
            self.month_wh[:] = 0
        consumer = self._is_consumer
        new_day = day != self._charged_day
        charge = version.interval_charge(self.month_wh, wh)
        if new_day:
            charge = charge + version.fixed_charge(self._sanctioned_w, day)
        for i, mirror in self._loaded_in_force(day):
            one = np.array([i])
            own = mirror.interval_charge(self.month_wh[one], wh[one])
            if new_day:
                own = own + mirror.fixed_charge(self._sanctioned_w[one], day)
            charge[i] = own[0]
        self.month_wh += wh
        self._charged_day = day
        self.balance -= np.where(consumer, charge, 0)
        went_negative = consumer & (self.balance < 0) & (self.negative_since >= NOT_NEGATIVE)
        self.negative_since[went_negative] = epoch(start) + INTERVAL_S

    def _loaded_in_force(self, day: date) -> list[tuple[int, MirrorTariff]]:
        """Meters whose own loaded tariff is in force on `day`, with it."""
        found = []
        for i, versions in self.loaded.items():
            current = [mirror for effective, mirror in versions if effective <= day]
            if current:
                found.append((i, current[-1]))
        return found

    def add(self, i: int, amount_paise: int) -> bool:
        """Credit reaches meter i's mirror; whether its balance is no longer negative."""
        self.balance[i] += amount_paise
        if self.balance[i] < 0:
            return False
        self.negative_since[i] = NOT_NEGATIVE
        self.permit_after[i] = 0  # a balance made whole voids the cutoff permit
        return True

    def load(self, i: int, args: Mapping[str, int]) -> date:
        """A `tariff` command's rates go into meter i's mirror (replacing any for the same day);
        the day they take effect."""
        effective = ist_day(utc_from_epoch(args["from"]))
        versions = [v for v in self.loaded.get(i, []) if v[0] != effective]
        self.loaded[i] = sorted([*versions, (effective, MirrorTariff.pushed(args))], key=lambda v: v[0])
        return effective

    def may_cut_itself(self, t: int, policy: PrepaidPolicy) -> Bools:
        """Consumer meters that may cut themselves at `t` when offline (protected time aside):
        beyond emergency credit and, where the policy asks for one, holding the server's
        cutoff permit whose `after` has come."""
        due = self.beyond_emergency_credit(t, policy)
        if policy.offline_cut_needs_permit:
            due = due & (self.permit_after > 0) & (self.permit_after <= t)
        return due

    def beyond_emergency_credit(self, t: int, policy: PrepaidPolicy) -> Bools:
        """Consumer meters whose balance has been negative longer than the policy's emergency credit."""
        due: Bools = (
            self._is_consumer
            & (self.balance < 0)
            & (t - self.negative_since >= int(policy.emergency_credit.total_seconds()))
        )
        return due
