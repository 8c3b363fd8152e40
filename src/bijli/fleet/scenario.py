"""Scenario files: what happens to a simulated city, and when (TOML).

```toml
name = "Jio down in Civil Lines"
start = 2026-11-02          # first IST day
days = 1
meters = 2000
transformer_meters = true

[[events]]
kind = "network"   # network | flapping | broker | condition | hooking | power | recharge | hotspot | clock | payments
operator = "Jio"
area = "Civil Lines"        # leave out: everywhere
at = "10:00"                # IST on the first day; "day 2 10:00"; or an ISO date-time
for = "2h"
```

A scenario becomes a list of actions in time order, each applied to a `FleetTwin`, and a
ground truth: who was tampered with or stole, and when, for measuring detection later.

A `power` event takes the supply off a feeder or a transformer (`bijli.fleet.power`); a
`[network]` table makes the network lossy (`bijli.fleet.grid`, `bijli.fleet.offline`); every
kind, with an example, is in docs/twin.md.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bijli.fleet.city import consumer_meter_id
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import IST, epoch
from bijli.meter.sensors import CONDITIONS

if TYPE_CHECKING:
    from bijli.fleet.grid import GridOptions
    from bijli.fleet.habits import Habit


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with the reason."""


@dataclass(frozen=True, slots=True)
class Action:
    """One change to the world at one moment."""

    at: float
    what: str
    apply: Callable[[FleetTwin, ScenarioHooks], None]


@dataclass(frozen=True, slots=True)
class Paid:
    """What the utility's side made of an online payment."""

    pushed: bool
    """True: the platform sends the credit to the meter itself (a command); False: the scenario
    hands the credit to the meter's mirror at once."""
    digits: str | None = None
    """The payment's token, for typing at the meter's hotspot."""


@dataclass(slots=True)
class ScenarioHooks:
    """What actions may need beyond the twin: the utility's side of recharges and tokens."""

    recharge: Callable[[str, int, str, float], Paid | None] | None = None
    """(meter id, paise, payment reference, at): an online payment reaching the platform."""
    issue_token: Callable[[str, int, float], str] | None = None
    """(meter id, paise, at) -> the 20 digits a consumer bought."""
    token_results: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    """Every online payment made, with what the meter showed at that moment (ground truth)."""
    later: list[Action] = field(default_factory=list)
    """Actions an action started (a token typed some minutes after paying); the run takes them."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    start: date
    days: float
    meters: int
    seed: int
    transformer_meters: bool
    actions: tuple[Action, ...]
    truth: tuple[dict[str, Any], ...]
    modem: dict[str, int]
    operators: tuple[str, str]
    named_meters: tuple[str, ...] = ()
    opening_paise: tuple[int, int] | None = None
    """Opening balances drawn from this span instead of the city's own (low balances)."""
    habits: tuple[Habit, ...] = ()
    prepaid_since_days: int = 0
    """The consumers went over to prepaid this many days before the start (0: when commissioned,
    at the start, so a newly converted consumer's grace period covers them)."""
    network: GridOptions | None = None
    """How lossy the city's network is (`[network]`; None: a flat 3 %, exact meters)."""

    @property
    def begin(self) -> datetime:
        return datetime.combine(self.start, time(0), IST)

    @property
    def intervals(self) -> int:
        return round(self.days * 96)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_DAY_TIME = re.compile(r"^\s*(?:day\s+(\d+)\s+)?(\d{1,2}):(\d{2})\s*$")


def duration(text: str) -> timedelta:
    """'90s', '30m', '2h', '1.5d'."""
    match = _DURATION.match(text)
    if not match:
        raise ScenarioError(f"not a duration: {text!r} (write e.g. 30m, 2h, 1d)")
    value, unit = float(match.group(1)), match.group(2)
    return timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def moment(text: str, first_day: date) -> datetime:
    """'10:00' (IST, first day), 'day 2 06:30', or an ISO date-time with its zone."""
    match = _DAY_TIME.match(text)
    if match:
        day = first_day + timedelta(days=int(match.group(1) or 1) - 1)
        return datetime.combine(day, time(int(match.group(2)), int(match.group(3))), IST)
    try:
        found = datetime.fromisoformat(text)
    except ValueError as e:
        raise ScenarioError(f"not a time: {text!r} (write 10:00, 'day 2 10:00' or ISO)") from e
    if found.tzinfo is None:
        raise ScenarioError(f"{text!r} needs a time zone, e.g. +05:30")
    return found


def load(path: Path, *, meters: int | None = None, days: float | None = None) -> Scenario:
    """A scenario from its TOML file (`meters`, `days`: instead of what the file says)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: {e}") from e
    return parse(doc, name=path.stem, meters=meters, days=days)


def parse(
    doc: dict[str, Any], name: str = "scenario", *, meters: int | None = None, days: float | None = None
) -> Scenario:
    """A scenario from its parsed TOML (`meters`, `days`: instead of what it says)."""
    from bijli.fleet.habits import payment_habits

    start = doc.get("start")
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ScenarioError("start must be a date, e.g. start = 2026-11-02")
    operators = tuple(doc.get("operators", ("Jio", "Airtel")))
    if len(operators) != 2:
        raise ScenarioError("operators names the two SIMs' operators")
    size = int(doc.get("meters", 200)) if meters is None else meters
    length = float(doc.get("days", 1)) if days is None else days
    if size < 1 or length <= 0:
        raise ScenarioError("a scenario needs at least one meter and some time")
    seed = int(doc.get("seed", 7))
    actions: list[Action] = []
    truth: list[dict[str, Any]] = []
    habits: list[Habit] = []
    for n, event in enumerate(doc.get("events", []), start=1):
        kind = event.get("kind")
        try:
            if kind == "payments":
                habits.append(payment_habits(event, start, seed + n))
                continue
            builder = _BUILDERS.get(kind)
            if builder is None:
                known = ", ".join(sorted([*_BUILDERS, "payments"]))
                raise ScenarioError(f"event {n}: unknown kind {kind!r}; known: {known}")
            acts, facts = builder(_chosen(event, size, seed + n), start, operators)
        except KeyError as e:
            raise ScenarioError(f"event {n} ({kind}): missing {e.args[0]!r}") from e
        actions.extend(acts)
        truth.extend(facts)
    from bijli.fleet.offline import lossy_network

    network, acts, facts = lossy_network(doc.get("network"), size, length, start, seed)
    actions, truth = actions + acts, truth + facts
    actions.sort(key=lambda a: a.at)
    return Scenario(
        name=str(doc.get("name", name)),
        start=start,
        days=length,
        meters=size,
        seed=seed,
        transformer_meters=bool(doc.get("transformer_meters", True)),
        actions=tuple(actions),
        truth=tuple(truth),
        modem=_modem(doc.get("modem", {})),
        operators=(str(operators[0]), str(operators[1])),
        named_meters=tuple(
            str(m)
            for e in doc.get("events", [])
            for m in [*(e.get("meters", []) or []), *([e["meter"]] if "meter" in e else [])]
        ),
        opening_paise=_opening(doc.get("opening_balance")),
        prepaid_since_days=_days(doc.get("prepaid_since_days", 0)),
        habits=tuple(habits),
        network=network,
    )


def _days(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ScenarioError(f"prepaid_since_days {value!r}: a whole number of days, 0 or more")
    return value


def _opening(span: Any) -> tuple[int, int] | None:
    """`opening_balance = ["100", "600"]`: whole rupees, low to high."""
    if span is None:
        return None
    if not isinstance(span, list) or len(span) != 2:
        raise ScenarioError('opening_balance is two amounts in rupees, e.g. ["100", "600"]')
    low, high = (paise_of(a) for a in span)
    if low % 100 or high % 100 or not 0 <= low <= high:
        raise ScenarioError(f"opening_balance {span}: whole rupees, low to high")
    return low, high


def _chosen(event: dict[str, Any], meters: int, seed: int) -> dict[str, Any]:
    """An event that names `share` of the consumer meters, chosen by the seed, instead of `meters`."""
    if "share" in event and event.get("kind") == "hooking":
        from bijli.fleet.theft import chosen_transformers

        return chosen_transformers(event, meters, seed)
    if "share" not in event or event.get("kind") != "condition":
        return event
    share = float(event["share"])
    if not 0 < share <= 1:
        raise ScenarioError(f"share {share}: a fraction of the meters, above 0 and at most 1")
    count = max(1, round(meters * share))
    picked = np.random.default_rng([seed, 17]).choice(meters, size=count, replace=False)
    return {**event, "meters": [consumer_meter_id(int(i)) for i in sorted(picked.tolist())]}


Built = tuple[list[Action], list[dict[str, Any]]]


def _modem(table: dict[str, Any]) -> dict[str, int]:
    known = {"detect_s", "register_s", "return_after_s"}
    unknown = set(table) - known
    if unknown:
        raise ScenarioError(f"[modem] knows {', '.join(sorted(known))}, not {', '.join(sorted(unknown))}")
    return {k: int(v) for k, v in table.items()}


def check_against(scenario: Scenario, meter_ids: set[str], transformers: set[str]) -> None:
    """Refuse a scenario that names meters or transformers the city does not have."""
    for fact in scenario.truth:
        if "meter_id" in fact and fact["meter_id"] not in meter_ids:
            raise ScenarioError(f"the city has no meter {fact['meter_id']!r}")
        if fact.get("kind") == "hooking" and fact["transformer"] not in transformers:
            raise ScenarioError(f"no metered transformer {fact['transformer']!r} (transformer_meters on?)")
        if fact.get("kind") == "power_outage" and fact.get("transformer") not in (None, *transformers):
            raise ScenarioError(f"no metered transformer {fact['transformer']!r} (transformer_meters on?)")
        if fact.get("kind") == "power_outage" and fact.get("feeder") not in (None, *_feeders(transformers)):
            raise ScenarioError(f"the city has no feeder {fact['feeder']!r} with a metered transformer")
    for name in scenario.named_meters:
        if name not in meter_ids:
            raise ScenarioError(f"the city has no meter {name!r}")


def _feeders(transformers: set[str]) -> set[str]:
    """The feeders of transformers named `<area>-F<nn>-DT<nn>`."""
    return {t.rsplit("-", 1)[0] for t in transformers}


def span(event: dict[str, Any], first_day: date) -> tuple[datetime, datetime]:
    begin = moment(str(event["at"]), first_day)
    return begin, begin + duration(str(event["for"]))


def _network(event: dict[str, Any], first_day: date, operators: tuple[str, ...]) -> Built:
    operator, area = str(event["operator"]), event.get("area")
    if operator not in operators:
        raise ScenarioError(f"operator {operator!r} is not one of {operators}")
    begin, end = span(event, first_day)
    where = area or "everywhere"
    return [
        Action(
            epoch(begin),
            f"{operator} down in {where}",
            lambda tw, _h: tw.network(operator, area, False, epoch(begin) * 1.0),
        ),
        Action(
            epoch(end), f"{operator} back in {where}", lambda tw, _h: tw.network(operator, area, True, epoch(end) * 1.0)
        ),
    ], [
        {"kind": "network_down", "operator": operator, "area": area, "start": begin.isoformat(), "end": end.isoformat()}
    ]


def _flapping(event: dict[str, Any], first_day: date, operators: tuple[str, ...]) -> Built:
    operator, area = str(event["operator"]), event.get("area")
    if operator not in operators:
        raise ScenarioError(f"operator {operator!r} is not one of {operators}")
    begin, end = span(event, first_day)
    every = duration(str(event.get("every", "10m")))
    actions: list[Action] = []
    t, down = begin, True
    while t < end:
        at = float(epoch(t))
        actions.append(Action(at, f"{operator} {'down' if down else 'up'}", _flip(operator, area, not down, at)))
        t, down = t + every, not down
    actions.append(Action(float(epoch(end)), f"{operator} steady", _flip(operator, area, True, float(epoch(end)))))
    return actions, [
        {"kind": "flapping", "operator": operator, "area": area, "start": begin.isoformat(), "end": end.isoformat()}
    ]


def _flip(operator: str, area: str | None, up: bool, at: float) -> Callable[[FleetTwin, ScenarioHooks], None]:
    return lambda tw, _h: tw.network(operator, area, up, at)


def _broker(event: dict[str, Any], first_day: date, _ops: tuple[str, ...]) -> Built:
    begin, end = span(event, first_day)
    return [
        Action(epoch(begin), "broker down", lambda tw, _h: tw.broker(False, float(epoch(begin)))),
        Action(epoch(end), "broker back", lambda tw, _h: tw.broker(True, float(epoch(end)))),
    ], [{"kind": "broker_down", "start": begin.isoformat(), "end": end.isoformat()}]


def _condition(event: dict[str, Any], first_day: date, _ops: tuple[str, ...]) -> Built:
    name = str(event["condition"])
    if name not in CONDITIONS:
        raise ScenarioError(f"unknown condition {name!r}; known: {', '.join(sorted(CONDITIONS))}")
    meters = [str(m) for m in event["meters"]]
    begin, end = span(event, first_day)
    spec = CONDITIONS[name]

    def on(tw: FleetTwin, _h: ScenarioHooks) -> None:
        tw.condition(name, [tw.index[m] for m in meters], True, float(epoch(begin)))

    def off(tw: FleetTwin, _h: ScenarioHooks) -> None:
        tw.condition(name, [tw.index[m] for m in meters], False, float(epoch(end)))

    facts = [
        {
            "kind": "tamper" if spec.is_theft else name,
            "condition": name,
            "meter_id": m,
            "theft": spec.is_theft,
            "start": begin.isoformat(),
            "end": end.isoformat(),
        }
        for m in meters
    ]
    return [Action(epoch(begin), f"{name} on {len(meters)}", on), Action(epoch(end), f"{name} off", off)], facts


def _hooking(event: dict[str, Any], first_day: date, operators: tuple[str, ...]) -> Built:
    from bijli.fleet.theft import hooking

    return hooking(event, first_day, operators)


def _power(event: dict[str, Any], first_day: date, operators: tuple[str, ...]) -> Built:
    from bijli.fleet.power import power_outage

    return power_outage(event, first_day, operators)


def _whole_rupees(event: dict[str, Any]) -> int:
    paise = _paise(event)
    if paise % 100:
        raise ScenarioError(f"a token is for whole rupees, not {event['amount']!r}")
    return paise


def _paise(event: dict[str, Any]) -> int:
    return paise_of(event["amount"])


def paise_of(amount: Any) -> int:
    """Rupees as written in a scenario ("499.50", 500) in paise."""
    rupees = str(amount)
    if not re.fullmatch(r"\d+(\.\d{1,2})?", rupees):
        raise ScenarioError(f'amount {rupees!r}: write rupees, e.g. "500" or "499.50"')
    whole, _, frac = rupees.partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0") or 0)


def _recharge(event: dict[str, Any], first_day: date, _ops: tuple[str, ...]) -> Built:
    meter, paise = str(event["meter"]), _paise(event)
    at = float(epoch(moment(str(event["at"]), first_day)))
    reference = str(event.get("reference", f"SCN-{meter}-{int(at)}"))
    typed = duration(str(event["typed_after"])).total_seconds() if "typed_after" in event else None
    return [recharge_action(meter, paise, reference, at, typed)], []


def recharge_action(meter: str, paise: int, reference: str, at: float, typed_after: float | None) -> Action:
    """An online payment at `at`. The platform pushes the credit when it can; otherwise it reaches
    the meter's mirror at once. `typed_after`: a consumer whose meter is offline when paying
    types the payment's token at the hotspot this long after."""

    def pay(tw: FleetTwin, hooks: ScenarioHooks) -> None:
        tw.advance(at)
        i = tw.index[meter]
        online = bool(tw.online[i])
        hooks.payments.append(
            {
                "meter_id": meter,
                "reference": reference,
                "at": at,
                "paise": paise,
                "relay_open": not bool(tw.relay[i]),
                "online": online,
                "balance_paise": int(tw.balance[i]),
            }
        )
        paid = hooks.recharge(meter, paise, reference, at) if hooks.recharge is not None else None
        if paid is None or not paid.pushed:
            tw.credit(i, paise, at)  # the credit reaches the meter with the payment
        elif typed_after is not None and not online and paid.digits is not None:
            hooks.later.append(_typed(meter, paid.digits, at + typed_after))

    return Action(at, f"recharge {meter}", pay)


def _typed(meter: str, digits: str, at: float) -> Action:
    """The consumer presses the meter's button at `at` and types the token 60 s later."""

    def use(tw: FleetTwin, hooks: ScenarioHooks) -> None:
        tw.press_button(meter, at)
        if not tw.hotspot_open(meter, at + 60):
            hooks.token_results.append({"meter_id": meter, "status": "closed", "at": at + 60})
            return
        result = tw.redeem(meter, digits, at + 60)
        hooks.token_results.append({"meter_id": meter, "status": int(result.status), "at": at + 60})

    return Action(at, f"token typed at {meter}", use)


def _hotspot(event: dict[str, Any], first_day: date, _ops: tuple[str, ...]) -> Built:
    meter, paise = str(event["meter"]), _whole_rupees(event)
    at = float(epoch(moment(str(event["at"]), first_day)))

    def use(tw: FleetTwin, hooks: ScenarioHooks) -> None:
        if hooks.issue_token is None:
            raise ScenarioError("a hotspot event needs a token vendor")
        digits = hooks.issue_token(meter, paise, at - 600)  # bought online ten minutes earlier
        tw.press_button(meter, at)
        if not tw.hotspot_open(meter, at + 60):  # no supply: the hotspot does not come up
            hooks.token_results.append({"meter_id": meter, "status": "closed", "at": at + 60})
            return
        result = tw.redeem(meter, digits, at + 60)
        hooks.token_results.append({"meter_id": meter, "status": int(result.status), "at": at + 60})

    return [Action(at, f"hotspot recharge {meter}", use)], []


def _clock(event: dict[str, Any], first_day: date, _ops: tuple[str, ...]) -> Built:
    meters, offset = [str(m) for m in event["meters"]], float(event["offset_s"])
    at = float(epoch(moment(str(event["at"]), first_day)))

    def jump(tw: FleetTwin, _h: ScenarioHooks) -> None:
        tw.advance(at)
        for m in meters:
            tw.clock_offset[tw.index[m]] += offset

    return [Action(at, f"clock of {len(meters)} off by {offset} s", jump)], [
        {"kind": "clock", "meters": meters, "offset_s": offset, "at": at}
    ]


_BUILDERS: dict[str, Callable[[dict[str, Any], date, tuple[str, ...]], Built]] = {
    "network": _network,
    "flapping": _flapping,
    "broker": _broker,
    "condition": _condition,
    "hooking": _hooking,
    "power": _power,
    "recharge": _recharge,
    "hotspot": _hotspot,
    "clock": _clock,
}
