"""Commands to meters, as rules: lifecycle, actions, confirmation, retries, rate limits.

A command moves ``queued -> sent -> acknowledged -> confirmed``, or ends ``failed`` or
``expired``. `TRANSITIONS` says which moves exist; `ACTIONS` (in `bijli.headend.actions`,
and importable from here) says, per action, which `args` an operator gives and what in the
meter's own data confirms that it was carried out. Pure: the SQL that applies these rules
lives in `bijli.adapters.db.commands`, the loop that runs them in `bijli.headend.dispatcher`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from bijli.headend.actions import (
    ACTIONS,
    MAX_CREDIT_PAISE,
    MAX_PROFILE_SPAN_S,
    MAX_SLABS,
    SCALE,
    ActionSpec,
    Arg,
    Confirmation,
    check_args,
    tariff_args,
)
from bijli.kernel.time import epoch
from bijli.protocol.frames import PROTOCOL_VERSION, REPLAYED_COMMAND, CommandFrame
from bijli.protocol.relay import RelayState
from bijli.protocol.reporting import ONLINE_WITHIN

__all__ = [
    "ACTIONS",
    "DEFAULT_POLICY",
    "MAX_CREDIT_PAISE",
    "MAX_PROFILE_SPAN_S",
    "MAX_SLABS",
    "OPEN",
    "REPLAYED",
    "SCALE",
    "TRANSITIONS",
    "ActionSpec",
    "Arg",
    "Candidate",
    "Confirmation",
    "DispatchPolicy",
    "Evidence",
    "IllegalTransition",
    "InFlight",
    "Place",
    "Status",
    "Step",
    "answer",
    "backoff",
    "can_move",
    "check_args",
    "check_move",
    "command_frame",
    "decommissioned_step",
    "expiry_step",
    "frame_args",
    "give_up_step",
    "observed",
    "out_of_attempts",
    "resend_due",
    "settled",
    "tariff_args",
    "within_rate_limits",
]


class Status(StrEnum):
    """Where a command is in its life."""

    QUEUED = "queued"
    """Accepted and stored; waits for its meter to be online."""
    SENT = "sent"
    """Published to the meter (possibly several times: `attempts`)."""
    ACKNOWLEDGED = "acknowledged"
    """The meter answered ``done``."""
    CONFIRMED = "confirmed"
    """The effect shows in the meter's own data (events, status, readings)."""
    FAILED = "failed"
    """The meter refused it, never answered, or its effect never showed; or the meter was
    decommissioned before it settled."""
    EXPIRED = "expired"
    """Its time ran out before the meter answered."""


TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    Status.QUEUED: frozenset({Status.SENT, Status.EXPIRED, Status.FAILED}),
    Status.SENT: frozenset({Status.SENT, Status.ACKNOWLEDGED, Status.CONFIRMED, Status.FAILED, Status.EXPIRED}),
    Status.ACKNOWLEDGED: frozenset({Status.CONFIRMED, Status.FAILED}),
    Status.CONFIRMED: frozenset(),
    # A command that was sent can still reach the meter after the head-end gave up on it (the
    # broker keeps it for the meter's session): the meter's late answer is the truth, and wins.
    Status.FAILED: frozenset({Status.ACKNOWLEDGED, Status.CONFIRMED}),
    Status.EXPIRED: frozenset({Status.ACKNOWLEDGED, Status.CONFIRMED}),
}
"""Which status may follow which. SENT -> SENT is a resend; SENT -> CONFIRMED is an effect
seen although the ack was lost (a meter that cannot talk when it acts never sends the ack);
QUEUED -> FAILED is a command whose meter was decommissioned before it could be sent."""

OPEN: Final = frozenset({Status.QUEUED, Status.SENT, Status.ACKNOWLEDGED})
"""Statuses the dispatcher still works on (ACKNOWLEDGED only where confirmation is awaited)."""


def can_move(current: Status, to: Status) -> bool:
    return to in TRANSITIONS[current]


class IllegalTransition(ValueError):
    """A move the lifecycle does not have."""


def check_move(current: Status, to: Status) -> None:
    if not can_move(current, to):
        raise IllegalTransition(f"a command cannot go from {current} to {to}")


# ---------------------------------------------------------------------------- attempts


def frame_args(action: str, args: Mapping[str, int], now: datetime) -> dict[str, int]:
    """The args as they go out in this attempt (time_sync carries the clock at sending)."""
    sent = dict(args)
    if "t" in ACTIONS[action].set_at_send:
        sent["t"] = epoch(now)
    return sent


def command_frame(
    *, command_id: str, meter_id: str, action: str, args: Mapping[str, int], counter: int, now: datetime
) -> CommandFrame:
    """The downlink frame of one attempt, with the meter's next downlink counter."""
    return CommandFrame(
        v=PROTOCOL_VERSION,
        m=meter_id,
        fc=counter,
        ts=epoch(now),
        command_id=command_id,
        action=action,
        args=frame_args(action, args, now),
    )


def settled(action: str, status: Status) -> bool:
    """Whether a command has reached its final status (nothing more will happen to it)."""
    if status in (Status.CONFIRMED, Status.FAILED, Status.EXPIRED):
        return True
    return status == Status.ACKNOWLEDGED and ACTIONS[action].confirmation.ack_is_final


# ---------------------------------------------------------------------------- the dispatcher's rules


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchPolicy:
    """How commands are sent, retried, expired and rate-limited."""

    tick_s: float = 1.0
    online_within: timedelta = ONLINE_WITHIN
    """A meter heard from this recently is online (meters report every 15 minutes)."""
    ack_timeout: timedelta = timedelta(seconds=60)
    """Wait this long for an answer before sending again; doubled after every attempt."""
    max_backoff: timedelta = timedelta(minutes=15)
    max_attempts: int = 5
    ack_grace: timedelta = timedelta(seconds=10)
    """An effect seen before any ack waits this long for the ack, so the audit shows both."""
    event_clock_tolerance: timedelta = timedelta(minutes=5)
    """An event counts if the meter's clock dates it at most this long before the first send."""
    rate_window: timedelta = timedelta(minutes=1)
    relay_connects_per_transformer: int = 10
    relay_connects_per_area: int = 200
    relay_disconnects_per_transformer: int = 10
    relay_disconnects_per_area: int = 200
    batch: int = 500
    default_expiry: timedelta = timedelta(hours=24)
    max_expiry: timedelta = timedelta(days=7)
    min_expiry: timedelta = timedelta(minutes=1)

    def budget(self, action: str) -> tuple[int, int]:
        """A rate-limited action's sends per transformer and per area in each window."""
        if action == "relay_disconnect":
            return self.relay_disconnects_per_transformer, self.relay_disconnects_per_area
        return self.relay_connects_per_transformer, self.relay_connects_per_area


DEFAULT_POLICY: Final = DispatchPolicy()


def backoff(attempts: int, policy: DispatchPolicy) -> timedelta:
    """How long to wait for an answer after the `attempts`-th send."""
    wait = policy.ack_timeout * (1 << max(attempts - 1, 0))
    return min(wait, max(policy.max_backoff, policy.ack_timeout))


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlight:
    """A sent, unanswered command, and what the head-end last heard from its meter."""

    attempts: int
    last_sent_at: datetime
    last_seen: datetime | None


def resend_due(c: InFlight, now: datetime, policy: DispatchPolicy) -> bool:
    """Whether to send again (or, with no attempts left, to give up).

    The wait doubles after every attempt, and an attempt counts only once the meter has been
    heard from since the previous one: a meter that went quiet may never have had it, so the
    command waits for the meter (until it expires) instead of using up its attempts.
    """
    if now < c.last_sent_at + backoff(c.attempts, policy):
        return False
    return c.last_seen is not None and c.last_seen > c.last_sent_at and c.last_seen >= now - policy.online_within


def out_of_attempts(attempts: int, policy: DispatchPolicy) -> bool:
    return attempts >= policy.max_attempts


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A command that could go out now, and where its meter sits in the network."""

    command_id: str
    meter_id: str
    action: str
    transformer: str
    area: str


Place = tuple[str, str]
"""(action, transformer or area): rate-limited actions each have their own budget per place."""


def within_rate_limits(
    candidates: Sequence[Candidate],
    recent_by_transformer: Mapping[Place, int],
    recent_by_area: Mapping[Place, int],
    policy: DispatchPolicy,
) -> tuple[list[Candidate], list[Candidate]]:
    """(to send, to hold) in order: each rate-limited action stays within its budget per
    transformer and per area for the window, counting what was sent in the window already.
    Reconnects and disconnects have budgets of their own: a mass disconnection never holds
    back a reconnect."""
    per_dt: Counter[Place] = Counter(recent_by_transformer)
    per_area: Counter[Place] = Counter(recent_by_area)
    send, hold = [], []
    for c in candidates:
        if not ACTIONS[c.action].rate_limited:
            send.append(c)
            continue
        dt_budget, area_budget = policy.budget(c.action)
        dt, area = (c.action, c.transformer), (c.action, c.area)
        if per_dt[dt] >= dt_budget or per_area[area] >= area_budget:
            hold.append(c)
            continue
        per_dt[dt] += 1
        per_area[area] += 1
        send.append(c)
    return send, hold


# ---------------------------------------------------------------------------- answers and effects

REPLAYED: Final = REPLAYED_COMMAND
"""The detail of a meter's refusal of a downlink counter it has already seen (protocol 5.10)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One entry of a command's audit trail: the status after it, and why."""

    status: Status
    detail: str


def answer(action: str, current: Status, attempts: int, ack_status: str, detail: str) -> list[Step]:
    """What a meter's ack does to a command: the steps to record (none: nothing changes)."""
    if attempts == 0:
        return []  # never sent: not an answer to anything the head-end said
    said = f"meter answered {ack_status}" + (f": {detail}" if detail else "")
    if ack_status == "done":
        if current not in (Status.SENT, Status.FAILED, Status.EXPIRED):
            return []  # already answered
        steps = [Step(Status.ACKNOWLEDGED, said if current == Status.SENT else f"late: {said}")]
        if ACTIONS[action].confirmation.on_ack:
            steps.append(Step(Status.CONFIRMED, "the meter's 'done' confirms a credit (see docs/commands.md)"))
        return steps
    if current != Status.SENT:
        return []  # a refusal after 'done' answers an older attempt, and changes nothing
    if detail == REPLAYED:
        # An earlier attempt reached the meter after a later one; the later one decides.
        return [Step(Status.SENT, f"{said} (an older attempt arrived late); waiting for the latest")]
    return [Step(Status.FAILED, f"refused by the meter: {detail or ack_status}")]


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """What the meter's data shows since a command was first sent."""

    acknowledged: bool
    events: frozenset[int] = frozenset()
    relay: int | None = None
    missing_intervals: int | None = None


def observed(action: str, evidence: Evidence) -> str | None:
    """How the command's effect shows in the evidence (for the audit), or None if it does not."""
    rule = ACTIONS[action].confirmation
    seen = sorted(rule.events & evidence.events)
    if seen:
        return f"event {seen[0]} reported by the meter"
    if rule.relay is not None and evidence.acknowledged and evidence.relay == rule.relay:
        return f"meter reports its relay {'closed' if rule.relay == RelayState.CONNECTED else 'open'}"
    if rule.profile and evidence.missing_intervals == 0:
        return "every interval of the range is stored"
    return None


def expiry_step(action: str, current: Status, attempts: int) -> Step:
    """What running out of time means for a command still open."""
    if current == Status.QUEUED:
        return Step(Status.EXPIRED, "expired before it could be sent: the meter was not online")
    if current == Status.SENT:
        return Step(Status.EXPIRED, f"expired without an answer from the meter after {attempts} attempt(s)")
    what = ACTIONS[action].summary or action
    return Step(Status.FAILED, f"acknowledged, but the effect ({what}) did not show in the meter's data before expiry")


def decommissioned_step(reason: str) -> Step:
    """What taking its meter out of service means for a command not settled yet."""
    return Step(Status.FAILED, f"meter decommissioned: {reason}")


def give_up_step(attempts: int, last_detail: str) -> Step:
    detail = f"no answer from the meter after {attempts} attempts"
    return Step(Status.FAILED, detail + (f" (last: {last_detail})" if last_detail else ""))
