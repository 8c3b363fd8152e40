"""The fleet's dual-SIM modems as arrays: the networks, the active SIM, the timers, time on each.

A meter whose active SIM loses its network is offline at once and registers on the other SIM
after the module's timers (`ModemTimers`); it goes back to its preferred SIM (slot 0) once that
network has been healthy for a while. Only the modems' state and timers live here: what a
meter sends when it comes online is the twin's business.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from bijli.meter.modem import ModemTimers

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
NEVER: Final = 2**62
"""A moment that never comes (epoch seconds)."""


class Modems:
    """Every meter's modem: two SIM slots, each with an operator, and which one is in use."""

    def __init__(
        self,
        areas: npt.NDArray[np.str_],
        operators: tuple[str, str],
        timers: ModemTimers,
        rng: np.random.Generator,
        start: float,
    ) -> None:
        n = self.n = len(areas)
        self.areas = areas
        self.operators = operators
        self.timers = timers
        # SIM 1 is preferred; about half the fleet, at random, has each operator first.
        first = rng.integers(0, 2, size=n)
        self.sim_operator = np.stack([first, 1 - first])  # [sim slot, meter] -> operator index
        self.net_up = np.ones((2, n), dtype=np.bool_)
        self.net_up_since = np.full((2, n), start)
        self.active_sim = np.zeros(n, dtype=np.int64)  # 0 or 1 (slot index)
        self.connected = np.ones(n, dtype=np.bool_)
        self.reconnect_at = np.full(n, float(NEVER))
        self.reconnect_sim = np.zeros(n, dtype=np.int64)
        self.lost_at = np.full(n, float(NEVER))
        self.sim_seconds = np.zeros((2, n))
        self.failovers = np.zeros(n, dtype=np.int64)
        self.switched_at = np.zeros(n, dtype=np.int64)
        self.rssi = np.stack([rng.integers(-95, -60, size=n), rng.integers(-100, -65, size=n)]).astype(np.int64)
        self._outages: set[tuple[str, str | None]] = set()

    def accrue(self, span: float, on: Bools) -> None:
        """`span` seconds pass; the meters `on` the network count them on their active SIM."""
        for slot in (0, 1):
            self.sim_seconds[slot] += span * (on & (self.active_sim == slot))

    def return_due(self) -> Floats:
        """When each meter would go back to its preferred SIM (NEVER where it would not)."""
        waiting = self.connected & (self.active_sim == 1) & self.net_up[0]
        at: Floats = np.where(waiting, self.net_up_since[0] + self.timers.return_after_s, float(NEVER))
        return at

    def first_due(self, t: float, returns: Floats) -> float:
        """The first reconnection due by `t` or return to the preferred SIM (`returns`), if sooner."""
        due = self.reconnect_at <= t
        next_return = float(returns.min()) if returns.size else NEVER
        return min(float(self.reconnect_at[due].min()) if due.any() else NEVER, next_return)

    def connect(self, t: float) -> Ints:
        """The meters whose registration is due by `t` connect; which they are."""
        idx = np.nonzero(self.reconnect_at <= t)[0]
        if idx.size == 0:
            return idx
        switched = idx[self.reconnect_sim[idx] != self.active_sim[idx]]
        self.failovers[switched] += 1
        self.switched_at[switched] = int(t)
        self.active_sim[idx] = self.reconnect_sim[idx]
        self.connected[idx] = True
        self.reconnect_at[idx] = NEVER
        self.lost_at[idx] = NEVER
        return idx

    def return_to_preferred(self, mask: Bools, t: float) -> Ints:
        """The `mask` meters go back to their preferred SIM; which they are."""
        idx = np.nonzero(mask)[0]
        if idx.size == 0:
            return idx
        self.active_sim[idx] = 0
        self.failovers[idx] += 1
        self.switched_at[idx] = int(t)
        return idx

    def network(self, operator: str, area: str | None, up: bool, t: float) -> None:
        """An operator's network goes down (or comes back) in an area (None: everywhere) at `t`."""
        if up:
            self._outages.discard((operator, area))
        else:
            self._outages.add((operator, area))
        before = self.net_up.copy()
        self._recompute_networks()
        went_down = before & ~self.net_up
        came_up = ~before & self.net_up
        self.net_up_since[came_up] = t
        # The active SIM lost its network: offline now, the other SIM after the timers.
        lost = self.connected & went_down[self.active_sim, np.arange(self.n)]
        self.connected[lost] = False
        self.lost_at[lost] = t
        self._schedule(lost, t + self.timers.detect_s)
        # A network came back while the meter had none: register on it.
        stranded = ~self.connected & (self.reconnect_at >= NEVER) & (came_up[0] | came_up[1])
        self._schedule(stranded, t)
        # The preferred network came back while the meter was about to register on the other.
        prefer = ~self.connected & (self.reconnect_at < NEVER) & (self.reconnect_sim == 1) & came_up[0]
        self.reconnect_sim[prefer] = 0
        self.reconnect_at[prefer] = t + self.timers.register_s
        # Pending failover whose target network has just gone: look again.
        retarget = ~self.connected & (self.reconnect_at < NEVER) & ~self.net_up[self.reconnect_sim, np.arange(self.n)]
        self.reconnect_at[retarget] = NEVER
        self._schedule(retarget, t)

    def _recompute_networks(self) -> None:
        up = np.ones((2, self.n), dtype=np.bool_)
        for operator, area in self._outages:
            op = self.operators.index(operator)
            where = np.ones(self.n, dtype=np.bool_) if area is None else self.areas == area
            for slot in (0, 1):
                up[slot] &= ~(where & (self.sim_operator[slot] == op))
        self.net_up = up

    def _schedule(self, mask: Bools, earliest: float) -> None:
        """Plan a connection for `mask` meters on the best SIM whose network is up."""
        idx = np.nonzero(mask)[0]
        if idx.size == 0:
            return
        pref_up, other_up = self.net_up[0, idx], self.net_up[1, idx]
        target = np.where(pref_up, 0, 1)
        possible = pref_up | other_up
        when = np.where(possible, earliest + self.timers.register_s, float(NEVER))
        self.reconnect_at[idx] = np.minimum(self.reconnect_at[idx], when)
        self.reconnect_sim[idx] = np.where(possible, target, self.reconnect_sim[idx])
