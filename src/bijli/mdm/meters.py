"""A registered meter's lifecycle, as rules: in service (commissioned) or out of it (decommissioned).

A meter is commissioned when it is registered. An operator may take it out of service
(decommission) and put it back (recommission); every change is kept with who made it, when
and why. Out of service, the meter's frames are quarantined (``not-commissioned``), it takes
no commands and the reports leave it out. Pure: the use case that applies these rules is
`bijli.accounts.handlers.change_status`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from bijli.kernel.time import INTERVAL


class MeterStatus(StrEnum):
    """Where a registered meter is in its life."""

    COMMISSIONED = "commissioned"
    """In service: its frames are stored, it takes commands, the reports count it."""
    DECOMMISSIONED = "decommissioned"
    """Out of service: its frames are quarantined, it takes no commands, the reports leave it out."""


TRANSITIONS: Final[Mapping[MeterStatus, frozenset[MeterStatus]]] = {
    MeterStatus.COMMISSIONED: frozenset({MeterStatus.DECOMMISSIONED}),
    MeterStatus.DECOMMISSIONED: frozenset({MeterStatus.COMMISSIONED}),
}
"""Which status may follow which."""
STATUSES: Final = frozenset(s.value for s in MeterStatus)

MAX_CHANGED_BY: Final = 64
MAX_REASON: Final = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    """One entry of a meter's status history: who moved it from what to what, when and why."""

    meter_id: str
    at: datetime
    from_status: str
    to_status: str
    changed_by: str
    reason: str


class UnknownMeter(LookupError):
    """No such meter is registered."""


class RefusedChange(ValueError):
    """A status change the lifecycle does not have."""


def check_change(meter_id: str, current: str, to: str) -> MeterStatus:
    """The status a meter that is `current` goes to when asked for `to`; RefusedChange, saying
    why, when it may not."""
    known = ", ".join(MeterStatus)
    if to not in STATUSES:
        raise RefusedChange(f"{to!r} is not a meter status; one of {known}")
    wanted = MeterStatus(to)
    if current == wanted:
        raise RefusedChange(f"meter {meter_id} is already {wanted}")
    if current not in STATUSES:
        raise RefusedChange(f"meter {meter_id} is {current!r}, a status bijli does not change (one of {known} is)")
    if wanted not in TRANSITIONS[MeterStatus(current)]:
        raise RefusedChange(f"meter {meter_id} cannot go from {current} to {wanted}")
    return wanted


def check_audit(changed_by: str, reason: str) -> None:
    """ValueError unless the change names who makes it and why, within what the audit keeps."""
    if not changed_by.strip() or len(changed_by) > MAX_CHANGED_BY:
        raise ValueError(f"who changes a meter's status must be named, in 1 to {MAX_CHANGED_BY} characters")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise ValueError(f"a status change needs a reason, in 1 to {MAX_REASON} characters")


def in_service_throughout(changes: Sequence[StatusChange], current: str, start: datetime, end: datetime) -> bool:
    """Whether a meter was commissioned for the whole of [start, end), from its status changes
    (oldest first; those up to `start` may be left out) and its status now.

    The status at `start` is what the first change after it changed from (the history is a
    chain: each change starts from the status the one before it left).
    """
    later = [c for c in changes if c.at > start]
    at_start = later[0].from_status if later else current
    return at_start == MeterStatus.COMMISSIONED and not (later and later[0].at < end)


def out_of_service(changes: Sequence[StatusChange], current: str, first: datetime, last: datetime) -> list[datetime]:
    """The 15-minute intervals starting in [first, last] that the meter was not in service for
    the whole of (changes oldest first, as for `in_service_throughout`)."""
    out = []
    at = first
    while at <= last:
        if not in_service_throughout(changes, current, at, at + INTERVAL):
            out.append(at)
        at += INTERVAL
    return out
