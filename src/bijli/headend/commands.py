"""Commands to meters, as rules: lifecycle, actions, confirmation, retries, rate limits.

A command moves ``queued -> sent -> acknowledged -> confirmed``, or ends ``failed`` or
``expired``. `TRANSITIONS` says which moves exist; `ACTIONS` says, per action, which `args`
an operator gives and what in the meter's own data confirms that it was carried out. Pure:
the SQL that applies these rules lives in `bijli.adapters.db.commands`, the loop that runs
them in `bijli.headend.dispatcher`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from bijli.kernel.time import INTERVAL_S, IST, epoch, ist_midnight, utc_from_epoch
from bijli.prepaid.tariff import TariffVersion
from bijli.protocol.events import EventCode
from bijli.protocol.frames import COMMAND_ACTIONS, PROTOCOL_VERSION, AckFrame, CommandFrame
from bijli.protocol.relay import RelayState
from bijli.protocol.reporting import ONLINE_WITHIN


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


# ---------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument an operator gives, an integer in [low, high]."""

    name: str
    low: int
    high: int
    meaning: str
    optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirmation:
    """What in the meter's data shows the command was carried out.

    With none of these set, the meter's ``done`` is as far as it goes: ``acknowledged`` is the
    final status (nothing the meter reports afterwards could tell this command's effect apart).
    """

    events: frozenset[EventCode] = frozenset()
    """An event with one of these codes, logged after the command was first sent."""
    relay: RelayState | None = None
    """Or, once acknowledged, the relay state the meter reports."""
    profile: bool = False
    """Every interval of the requested range stored with a real (not estimated) reading."""
    on_ack: bool = False
    """The meter's ``done`` itself is the confirmation."""

    @property
    def needs_evidence(self) -> bool:
        return bool(self.events) or self.relay is not None or self.profile

    @property
    def ack_is_final(self) -> bool:
        return not self.needs_evidence and not self.on_ack


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSpec:
    """One thing a command may ask of a meter."""

    name: str
    args: tuple[Arg, ...]
    confirmation: Confirmation
    rate_limited: bool = False
    """Counted against the per-transformer and per-area limits (mass reconnects)."""
    set_at_send: tuple[str, ...] = ()
    """Arguments the dispatcher fills in each time it sends (never given by the operator)."""
    summary: str = ""


MAX_PROFILE_SPAN_S: Final = 31 * 86_400
MAX_SLABS: Final = 6
"""Slabs a tariff command carries: with `from`, `duty` and `fixed`, within a frame's 16 args."""
SCALE: Final = 10_000
"""Tariff figures travel in 1/10,000 rupee (and duty in 1/10,000), exact for published rates."""
MAX_CREDIT_PAISE: Final = 10**8
"""₹10 lakh: far above any one recharge; a larger amount is a typing error."""

ACTIONS: Final[Mapping[str, ActionSpec]] = {
    a.name: a
    for a in (
        ActionSpec(
            name="relay_disconnect",
            args=(),
            confirmation=Confirmation(
                events=frozenset({EventCode.LOAD_SWITCH_DISCONNECTED}), relay=RelayState.DISCONNECTED
            ),
            summary="open the relay (load switch)",
        ),
        ActionSpec(
            name="relay_connect",
            args=(),
            confirmation=Confirmation(events=frozenset({EventCode.LOAD_SWITCH_CONNECTED}), relay=RelayState.CONNECTED),
            rate_limited=True,
            summary="close the relay",
        ),
        ActionSpec(
            name="time_sync",
            args=(),
            confirmation=Confirmation(events=frozenset({EventCode.CLOCK_SET})),
            set_at_send=("t",),
            summary="set the meter's clock to the head-end's clock at the moment of sending",
        ),
        ActionSpec(
            name="read_profile",
            args=(
                Arg("from", 0, 2**33, "first interval start, epoch seconds, on a 15-minute boundary"),
                Arg("to", 0, 2**33, "end of the range (excluded), epoch seconds, on a 15-minute boundary"),
            ),
            confirmation=Confirmation(profile=True),
            summary="send the stored intervals starting in [from, to)",
        ),
        ActionSpec(
            name="read_now",
            args=(),
            confirmation=Confirmation(),
            summary="send a status frame now",
        ),
        ActionSpec(
            name="credit",
            args=(Arg("amount_paise", 1, MAX_CREDIT_PAISE, "paise to add to the meter's credit mirror"),),
            confirmation=Confirmation(on_ack=True),
            summary="add credit to the meter's mirror",
        ),
        ActionSpec(
            name="tariff",
            args=(
                Arg("from", 0, 2**33, "the IST midnight the rates take effect, epoch seconds"),
                Arg("duty", 0, SCALE, "electricity duty on energy and fixed charges, 1/10,000 (500 = 5%)"),
                Arg("fixed", 0, 10**10, "fixed charge per kW of sanctioned load per month, 1/10,000 rupee"),
                *(
                    Arg(f"r{k}", 0, 10**8, f"energy rate of slab {k}, 1/10,000 rupee per kWh", optional=k > 1)
                    for k in range(1, MAX_SLABS + 1)
                ),
                *(
                    Arg(f"s{k}", 1, 10**9, f"month-to-date Wh where slab {k} ends (the last slab has none)", True)
                    for k in range(1, MAX_SLABS)
                ),
            ),
            confirmation=Confirmation(events=frozenset({EventCode.TARIFF_PROGRAMMED})),
            summary="load a tariff version into the meter's credit mirror (before it takes effect)",
        ),
        ActionSpec(
            name="hotspot_settings",
            args=(Arg("window_s", 60, 3600, "seconds the hotspot stays open after a button press"),),
            confirmation=Confirmation(),
            summary="set how long the hotspot stays open",
        ),
    )
}


def check_args(action: str, args: Mapping[str, Any], now: datetime) -> str | None:
    """Why `args` do not suit `action` (a sentence for the caller), or None when they do."""
    spec = ACTIONS.get(action)
    if spec is None:
        return f"unknown action {action!r}; one of {', '.join(COMMAND_ACTIONS)}"
    wanted = {a.name: a for a in spec.args}
    for name in sorted(args):
        if name in spec.set_at_send:
            return f"{action} takes no {name!r}: the head-end sets it when it sends the command"
        if name not in wanted:
            expected = ", ".join(wanted) or "no args"
            return f"{action} takes no {name!r} (expected: {expected})"
    for a in spec.args:
        if a.name not in args:
            if a.optional:
                continue
            return f"{action} needs {a.name!r}: {a.meaning}"
        value = args[a.name]
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{a.name} must be a whole number"
        if not a.low <= value <= a.high:
            return f"{a.name} must be between {a.low} and {a.high} ({a.meaning})"
    if action == "read_profile":
        start, end = args["from"], args["to"]
        if start % INTERVAL_S or end % INTERVAL_S:
            return "from and to must be on 15-minute boundaries (epoch seconds divisible by 900)"
        if end <= start:
            return "to must be later than from"
        if end - start > MAX_PROFILE_SPAN_S:
            return "a profile read may cover at most 31 days"
        if end > epoch(now):
            return "to must not be in the future: only intervals that have ended can be read"
    if action == "tariff":
        return _tariff_problem(args)
    return None


def _tariff_problem(args: Mapping[str, Any]) -> str | None:
    if utc_from_epoch(args["from"]).astimezone(IST).time() != time(0):
        return "from must be a midnight in IST (epoch seconds)"
    rates = [k for k in range(1, MAX_SLABS + 1) if f"r{k}" in args]
    if rates != list(range(1, len(rates) + 1)):
        return "slab rates must be r1, r2, ... without a gap"
    edges = [args[f"s{k}"] for k in range(1, MAX_SLABS) if f"s{k}" in args]
    if sorted(f"s{k}" for k in range(1, len(rates))) != sorted(n for n in args if n.startswith("s")):
        return "every slab but the last needs its end: s1 .. s(n-1) for n rates"
    if any(b <= a for a, b in itertools.pairwise(edges)):
        return "slab ends must rise: s1 < s2 < ..."
    return None


def tariff_args(version: TariffVersion) -> dict[str, int]:
    """A tariff version as the args of a `tariff` command (exact: four decimal places)."""

    def scaled(value: Decimal) -> int:
        exact = value * SCALE
        if exact != exact.to_integral_value():
            raise ValueError(f"{value} has more than four decimal places; a meter cannot hold it exactly")
        return int(exact)

    if len(version.slabs) > MAX_SLABS:
        raise ValueError(f"a meter holds at most {MAX_SLABS} slabs")
    args = {
        "from": epoch(ist_midnight(version.effective_from)),
        "duty": scaled(version.duty_rate),
        "fixed": scaled(version.fixed_per_kw_month),
    }
    for k, slab in enumerate(version.slabs, start=1):
        args[f"r{k}"] = scaled(slab.rate)
        if slab.up_to_wh is not None and k < len(version.slabs):
            args[f"s{k}"] = slab.up_to_wh
    return args


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
    batch: int = 500
    default_expiry: timedelta = timedelta(hours=24)
    max_expiry: timedelta = timedelta(days=7)
    min_expiry: timedelta = timedelta(minutes=1)


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


def within_rate_limits(
    candidates: Sequence[Candidate],
    recent_by_transformer: Mapping[str, int],
    recent_by_area: Mapping[str, int],
    policy: DispatchPolicy,
) -> tuple[list[Candidate], list[Candidate]]:
    """(to send, to hold) in order: rate-limited actions stay within each transformer's and
    area's budget for the window, counting what was sent in the window already."""
    per_dt: Counter[str] = Counter(recent_by_transformer)
    per_area: Counter[str] = Counter(recent_by_area)
    send, hold = [], []
    for c in candidates:
        if not ACTIONS[c.action].rate_limited:
            send.append(c)
            continue
        if (
            per_dt[c.transformer] >= policy.relay_connects_per_transformer
            or per_area[c.area] >= policy.relay_connects_per_area
        ):
            hold.append(c)
            continue
        per_dt[c.transformer] += 1
        per_area[c.area] += 1
        send.append(c)
    return send, hold


# ---------------------------------------------------------------------------- answers and effects

REPLAYED: Final = "replayed command"
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


# ---------------------------------------------------------------------------- acks off the uplink


def acks_from(frames: Iterable[object]) -> list[dict[str, Any]]:
    """Rows for `record_acks` from a batch's accepted frames (anything but acks is skipped)."""
    return [
        {
            "meter_id": f.m,
            "command_id": f.command_id,
            "status": f.status,
            "detail": f.detail,
            "at": utc_from_epoch(f.ts),
        }
        for f in frames
        if isinstance(f, AckFrame)
    ]
