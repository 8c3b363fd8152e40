"""How a twin meter takes a command from the head-end, and what each action does to it.

A command whose seal does not open is ignored (there is no one to answer); one with a downlink
counter the meter has already seen is refused as replayed. The head-end sends a command again
(a new counter, the same id) when it heard no answer: the meter keeps the ids of the last
`REMEMBERED` it carried out and answers those again without acting twice, so a credit never
counts twice. What each action does is a row of `ACTIONS`; an action the meter does not know,
or args it cannot act on, it refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bijli.fleet.outbox import READINGS_PER_FRAME
from bijli.protocol import keys, tokens
from bijli.protocol.events import EventCode
from bijli.protocol.frames import CUTOFF_PERMIT, KEY_CHANGE, REPLAYED_COMMAND, AckFrame, CommandFrame, ReadingFrame

if TYPE_CHECKING:
    from bijli.fleet.twin import FleetTwin

Args = Mapping[str, int]
REMEMBERED: Final = 256
"""How many carried-out command ids a meter remembers."""


@dataclass(frozen=True, slots=True)
class MeterAction:
    """What a meter does for one action."""

    can: Callable[[Args], bool]
    """Whether the args are enough to act on."""
    do: Callable[[FleetTwin, int, Args, float], str]
    """Meter i acts at the moment given; the detail of its ``done``."""
    refuse: Callable[[FleetTwin, int, Args, float], str | None] | None = None
    """Why meter i will not act now (its ``refused`` detail), or None: it acts."""


def take_command(twin: FleetTwin, i: int, command: CommandFrame, at: float) -> None:
    """Meter `i` takes an authenticated command at `at`: it acts at most once per id, and answers."""
    if command.fc <= twin.last_command_fc[i]:
        _answer(twin, i, command, "refused", REPLAYED_COMMAND, at)
        return
    twin.last_command_fc[i] = command.fc
    done = twin.carried_out.setdefault(i, {})
    if command.command_id in done:
        _answer(twin, i, command, "done", "already done", at)
        return
    action = ACTIONS.get(command.action)
    if action is None or not action.can(command.args):
        _answer(twin, i, command, "refused", f"cannot {command.action} with {sorted(command.args)}", at)
        return
    why_not = action.refuse(twin, i, command.args, at) if action.refuse is not None else None
    if why_not is not None:
        _answer(twin, i, command, "refused", why_not, at)
        return
    detail = action.do(twin, i, command.args, at)
    done[command.command_id] = None
    if len(done) > REMEMBERED:
        del done[next(iter(done))]
    _answer(twin, i, command, "done", detail, at)


def _answer(twin: FleetTwin, i: int, command: CommandFrame, status: str, detail: str, at: float) -> None:
    """The ack, if the meter can send it now (a meter that cannot talk acts, but says nothing)."""
    if twin.online[i]:
        twin.send(i, at, "ack", AckFrame, command_id=command.command_id, status=status, detail=detail)


def _relay_connect(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    twin.set_relay(i, True, at)
    return ""


def _relay_disconnect(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    twin.set_relay(i, False, at, for_credit=bool(args.get("for_credit")))
    return ""


def _no_disconnect(twin: FleetTwin, i: int, args: Args, at: float) -> str | None:
    """A disconnect that arrives after its `until`, or one for credit when the meter's own
    balance is not below zero, is refused (the meter keeps supply on)."""
    if "until" in args and at + twin.clock_offset[i] > args["until"]:
        return "too late: the disconnect was valid until " + str(args["until"])
    if args.get("for_credit") and twin.mirrors.balance[i] >= 0:
        return "balance not below zero: no cut for credit"
    return None


def _cutoff_permit(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    twin.mirrors.permit_after[i] = max(int(args["after"]), 1)
    return f"may cut itself from {int(args['after'])}"


def _time_sync(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    twin.clock_offset[i] = args["t"] - at
    twin.log_event(i, EventCode.CLOCK_SET, at)
    return ""


def _credit(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    if "token_id" not in args:
        twin.credit(i, args["amount_paise"], at)
        return ""
    # A credit that delivers a recharge token is taken once per token id, like the token typed
    # at the hotspot (whichever comes first; the other is USED), and reported the same way.
    token_id = args["token_id"]
    used = twin.used_tokens.setdefault(i, tokens.UsedTokens())
    if used.contains(token_id) or used.is_old(token_id):
        return f"token {token_id} already taken"
    used.add(token_id)
    twin.credit(i, args["amount_paise"], at)
    twin.report_redemption(i, token_id, args["amount_paise"], at)
    return f"token {token_id} taken"


def _read_profile(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    found = twin.profiles.read(i, args["from"], args["to"])
    for chunk in range(0, len(found), READINGS_PER_FRAME):
        twin.send(i, at, "reading", ReadingFrame, intervals=found[chunk : chunk + READINGS_PER_FRAME])
    return f"{len(found)} intervals"


def _read_now(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    twin.send_status(i, at)
    return ""


def _tariff(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    effective = twin.mirrors.load(i, args)
    twin.log_event(i, EventCode.TARIFF_PROGRAMMED, at)
    return f"rates from {effective.isoformat()}"


def _hotspot_settings(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    twin.hotspot_window[i] = args["window_s"]
    return ""


def _key_change(twin: FleetTwin, i: int, args: Args, at: float) -> str:
    new = keys.open_key_change(twin.keys.frame[i], args)
    assert new is not None  # `can` checked the args
    twin.keys.rekey(i, new)  # it seals with the new key from now on, what it has not sent yet too
    twin.outbox.rekey(i, new.frame_key, new.version)
    return f"key version {new.version}"


def _key_change_args(args: Args) -> bool:
    return keys.open_key_change(bytes(32), args) is not None  # the shape only: any key unwraps


def _always(args: Args) -> bool:
    return True


ACTIONS: Final[Mapping[str, MeterAction]] = {
    "relay_connect": MeterAction(_always, _relay_connect),
    "relay_disconnect": MeterAction(
        lambda args: args.get("for_credit", 0) in (0, 1), _relay_disconnect, _no_disconnect
    ),
    CUTOFF_PERMIT: MeterAction(lambda args: args.get("after", 0) > 0, _cutoff_permit),
    "time_sync": MeterAction(lambda args: "t" in args, _time_sync),
    "credit": MeterAction(lambda args: args.get("amount_paise", 0) > 0, _credit),
    "read_profile": MeterAction(lambda args: "from" in args and "to" in args, _read_profile),
    "read_now": MeterAction(_always, _read_now),
    "tariff": MeterAction(lambda args: {"from", "duty", "fixed", "r1"} <= set(args), _tariff),
    "hotspot_settings": MeterAction(lambda args: 60 <= args.get("window_s", 0) <= 3600, _hotspot_settings),
    KEY_CHANGE: MeterAction(_key_change_args, _key_change),
}
"""The actions a meter carries out, by name (the head-end's `bijli.headend.actions` is the
other side: what an operator may ask, and what confirms it)."""
