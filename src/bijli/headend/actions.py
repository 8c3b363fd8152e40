"""What a command may ask of a meter: each action's arguments and what confirms it, as a table.

`ACTIONS` holds, per action, the `args` an operator gives (whole numbers in a range) and the
evidence in the meter's own data that it was carried out; `check_args` applies the table to
an operator's request. Pure, like the lifecycle in `bijli.headend.commands` that uses it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any, Final

from bijli.kernel.time import INTERVAL_S, IST, epoch, ist_midnight, utc_from_epoch
from bijli.prepaid.tariff import TariffVersion
from bijli.protocol.events import EventCode
from bijli.protocol.frames import COMMAND_ACTIONS, CUTOFF_PERMIT, KEY_CHANGE
from bijli.protocol.keys import KEY_CHANGE_PARTS, MAX_VERSION, WORD_BYTES
from bijli.protocol.relay import RelayState
from bijli.protocol.tokens import MAX_TOKEN_ID


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
    """Counted against the per-transformer and per-area limits (mass reconnects and disconnects)."""
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
            args=(
                Arg(
                    "for_credit",
                    0,
                    1,
                    "1: a cut for credit, which the meter refuses while its own balance is not below zero, "
                    "and undoes by itself once credit (pushed or typed) brings it back to zero or more",
                    optional=True,
                ),
                Arg("until", 0, 2**33, "epoch seconds after which the meter does not act on it", optional=True),
            ),
            confirmation=Confirmation(
                events=frozenset({EventCode.LOAD_SWITCH_DISCONNECTED}), relay=RelayState.DISCONNECTED
            ),
            rate_limited=True,
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
            name=CUTOFF_PERMIT,
            args=(Arg("after", 0, 2**33, "epoch seconds from which the meter may cut itself while offline"),),
            confirmation=Confirmation(on_ack=True),
            summary="let the meter cut itself for credit while it cannot hear the server, not before `after`",
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
            args=(
                Arg("amount_paise", 1, MAX_CREDIT_PAISE, "paise to add to the meter's credit mirror"),
                Arg(
                    "token_id",
                    0,
                    MAX_TOKEN_ID,
                    "the recharge token this credit delivers: the meter takes it once, pushed or typed",
                    optional=True,
                ),
            ),
            confirmation=Confirmation(on_ack=True),
            summary="add credit to the meter's mirror (once per token id, when one is given)",
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
            name=KEY_CHANGE,
            args=(Arg("version", 1, MAX_VERSION, "the key version the meter moves to"),),
            confirmation=Confirmation(on_ack=True),
            set_at_send=tuple(f"{part}{n + 1}" for part, size in KEY_CHANGE_PARTS for n in range(size // WORD_BYTES)),
            summary="take new keys (wrapped under the present frame key) and seal with them from now on",
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
    if action == KEY_CHANGE:
        return "a key change is not asked meter by meter: `bijli keys rotate` moves the whole fleet"
    until = args.get("until") if action == "relay_disconnect" else None
    if isinstance(until, int) and not isinstance(until, bool) and until <= epoch(now):
        return "until must be in the future: the meter would never act on it"
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
