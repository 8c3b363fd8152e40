"""The dual-SIM modem's timers, as a real module's configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemTimers:
    """How fast a meter notices a lost network, moves SIM, and goes back to its preferred one."""

    detect_s: int = 20
    """A SIM whose network is gone is given up after this long (typical modules: ~20 s)."""
    register_s: int = 8
    """Registration and data context on the other network."""
    return_after_s: int = 3600
    """Back to the preferred SIM once its network has been healthy this long."""

    @property
    def failover_bound_s(self) -> int:
        """The promise: on the other SIM within this long of losing the network (30 s)."""
        return self.detect_s + self.register_s + 2


DEFAULT_TIMERS = ModemTimers()
