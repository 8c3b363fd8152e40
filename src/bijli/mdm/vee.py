"""Validation, estimation and editing (VEE): rules on interval readings, as pure functions.

Each actual reading carries flags for what looks wrong with it (the reading is kept: a flag
asks an operator to look, it does not change a value). A missing interval is estimated and
flagged with how: linearly from the register on both sides when the gap is short, otherwise
from the meter's own profile of a reference day; when the real reading arrives it replaces the
estimate, and every estimate and replacement is written to the edit log.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from bijli.kernel.time import INTERVAL, INTERVAL_S
from bijli.protocol.frames import REGISTER_MODULUS

SPIKE_MARGIN = 1.2
"""A 15-minute import above the sanctioned load by more than this factor is a spike."""
CLOCK_LAG_S = 300
"""A meter that says it sent an interval before the interval ended has a slow clock."""
LINEAR_UP_TO = 8
"""Gaps of up to eight intervals (two hours) are estimated linearly; longer ones by profile."""


class Flag(enum.IntFlag):
    """Why a reading deserves a look, or how it was estimated."""

    SPIKE = 1
    """More energy than the sanctioned load can draw in 15 minutes."""
    REGISTER = 2
    """The register did not move by the interval's import since the previous interval."""
    ZERO_WITH_SUPPLY = 4
    """No use at all, with the relay closed and voltage present."""
    CLOCK = 8
    """The meter's clock was behind: it sent the interval before it had ended."""
    ESTIMATED_LINEAR = 16
    ESTIMATED_PROFILE = 32


FLAG_NAMES: dict[Flag, str] = {
    Flag.SPIKE: "spike",
    Flag.REGISTER: "register-mismatch",
    Flag.ZERO_WITH_SUPPLY: "zero-with-supply",
    Flag.CLOCK: "clock-behind",
    Flag.ESTIMATED_LINEAR: "estimated-linear",
    Flag.ESTIMATED_PROFILE: "estimated-profile",
}
"""Each flag's name where people and other systems read it (the API, the edit log)."""


def flag_names(flags: int) -> list[str]:
    """The names of the flags set in `flags`, in flag order."""
    return [name for flag, name in FLAG_NAMES.items() if flags & flag]


class Observed(msgspec.Struct, frozen=True, kw_only=True):
    """What validation needs to know of one actual reading."""

    import_wh: int
    import_wh_total: int
    voltage_dv: int
    interval_start: datetime
    sent_at: int
    """The meter's own clock when it sent the frame, epoch seconds."""


def validate(
    reading: Observed, previous_total: int | None, sanctioned_w: int | None, relay_closed: bool | None
) -> Flag:
    """The flags of one actual reading."""
    flags = Flag(0)
    if sanctioned_w and reading.import_wh * 4 > sanctioned_w * SPIKE_MARGIN:
        flags |= Flag.SPIKE
    if (
        previous_total is not None
        and (reading.import_wh_total - previous_total) % REGISTER_MODULUS != reading.import_wh
    ):
        flags |= Flag.REGISTER
    if reading.import_wh == 0 and reading.voltage_dv > 0 and relay_closed:
        flags |= Flag.ZERO_WITH_SUPPLY
    if reading.sent_at + CLOCK_LAG_S < reading.interval_start.timestamp() + INTERVAL_S:
        flags |= Flag.CLOCK
    return flags


@dataclass(frozen=True, slots=True)
class Anchor:
    """An actual reading next to a gap: its interval, and the register where it touches the
    gap (at the end of the reading before the gap; at the start of the reading after it)."""

    interval_start: datetime
    import_wh_total: int


@dataclass(frozen=True, slots=True)
class Estimate:
    interval_start: datetime
    import_wh: int
    import_wh_total: int
    flags: Flag


def estimate_gap(
    missing: Sequence[datetime],
    before: Anchor | None,
    after: Anchor | None,
    reference: Mapping[int, int],
) -> list[Estimate]:
    """Estimates for a run of consecutive missing intervals (oldest first).

    With actual readings on both sides and a gap of up to two hours, the register's rise
    across the gap is spread evenly (whole Wh, the remainder on the first intervals), so the
    estimates meet the next real register exactly. Otherwise each interval takes the energy of
    the same time of day on the reference day (`reference`: seconds after IST midnight -> Wh),
    or nothing if that is unknown too.
    """
    if not missing:
        return []
    total = before.import_wh_total if before else None
    if before and after and len(missing) <= LINEAR_UP_TO and after.interval_start == missing[-1] + INTERVAL:
        rise = (after.import_wh_total - before.import_wh_total) % REGISTER_MODULUS
        share, extra = divmod(rise, len(missing))
        out = []
        for n, start in enumerate(missing):
            wh = share + (1 if n < extra else 0)
            total = (total + wh) % REGISTER_MODULUS if total is not None else None
            out.append(Estimate(start, wh, total if total is not None else 0, Flag.ESTIMATED_LINEAR))
        return out
    out = []
    for start in missing:
        wh = reference.get(_slot(start), 0)
        total = (total + wh) % REGISTER_MODULUS if total is not None else None
        out.append(Estimate(start, wh, total if total is not None else 0, Flag.ESTIMATED_PROFILE))
    return out


def _slot(start: datetime) -> int:
    """Seconds after IST midnight of an interval start (IST is UTC+05:30, no DST)."""
    return int((start.timestamp() + 19_800) % 86_400)


slot_of = _slot


def gaps(present: Sequence[datetime], first: datetime, last: datetime) -> list[list[datetime]]:
    """Runs of consecutive missing intervals between `first` and `last` (inclusive)."""
    have = set(present)
    runs: list[list[datetime]] = []
    run: list[datetime] = []
    t = first
    while t <= last:
        if t in have:
            if run:
                runs.append(run)
                run = []
        else:
            run.append(t)
        t += INTERVAL
    if run:
        runs.append(run)
    return runs
