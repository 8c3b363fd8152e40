"""When to warn, disconnect and reconnect a prepaid consumer: one account's facts -> a decision. Pure.

`decide` applies the policy (`bijli.prepaid.policy.PrepaidPolicy`, from the policy file):

- a low-balance warning at each level of the last recharge (30 %, 10 %, 0 %), the lowest level
  reached, once per level and recharge;
- the disconnect notice when the balance goes below zero (emergency credit starts), with the
  earliest time a cut may follow; a reminder notice a day later while the warnings that
  reached the consumer are fewer than the rule asks;
- the cut only when every rule allows it: the balance below zero, emergency credit over, the
  newly converted consumer's grace period over, at least `min_warnings` warnings sent on at
  least `min_channels` channels since the last recharge, the last of them (sent or raised) at
  least `warning_lead` ago, and not in protected time. The disconnect command expires before
  the next protected time starts, and tells the meter not to act after it (`until`);
- before that, once the warnings are complete, a `cutoff_permit` for a meter that may be
  offline when its time comes (it cuts itself only with one, and not before `after`);
- the reconnect as soon as the balance is back to `reconnect_at_paise` for a consumer supply cut,
  keyed `supply:reconnect:<payment_id>` by the payment that brought it back; a disconnect
  still queued then (its meter was not reachable yet) is called off instead of being sent.

Every decision says when the account needs looking at again (`next_check_at`), or None: only a
fact that changes its balance or relay makes it due again. It also says how far the running
charges may lower the balance before a decision could come out differently (`headroom_paise`,
`headroom`): the next alert level not yet reached, or the step below zero. Charges that stay
within it need no decision; a ledger post, a relay command settling or a charge taken back
always wakes the account.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from bijli.kernel.time import IST, epoch
from bijli.prepaid.policy import PrepaidPolicy

REQUESTED_BY: Final = "supply"
EXPIRY_MARGIN: Final = timedelta(minutes=5)
"""A disconnect command expires this long before protected time starts."""
MIN_WINDOW: Final = timedelta(minutes=15)
"""Less time than this before protected time: wait for the next working morning."""
MAX_NOTICES: Final = 5
"""Disconnect notices per negative spell at most (the first and its reminders)."""
RECONNECT_EXPIRES_IN: Final = timedelta(days=7)
PERMIT_EXPIRES_IN: Final = timedelta(days=7)


class WarningKind(StrEnum):
    """The alert kinds supply raises as warnings, named as the alerts area names them."""

    LOW_BALANCE = "low_balance"
    DISCONNECT_NOTICE = "disconnect_notice"


class Notice(StrEnum):
    """Alerts supply raises when a relay command it asked for is confirmed."""

    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"


class Outcome(StrEnum):
    """What became of a command supply asked for, as far as supply cares."""

    QUEUED = "queued"
    """Not sent yet: it can still be called off."""
    OPEN = "open"
    CONFIRMED = "confirmed"
    ENDED = "ended"
    """Failed or expired: it did not happen."""


@dataclass(frozen=True, slots=True)
class Warned:
    """A warning that reached the consumer on one channel."""

    alert_id: int
    channel: str
    sent_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplyState:
    """What supply remembers of one account between decisions (the `supply_state` row)."""

    account_no: str
    negative_since: datetime | None = None
    recharge_ref: str | None = None
    """The recharge the low-balance levels refer to."""
    level_alerted: int | None = None
    """The lowest level (%) alerted since that recharge."""
    notices: int = 0
    last_warned_at: datetime | None = None
    """When supply last raised a warning (its deliveries may still be on their way)."""
    permit_sent: bool = False
    cut: bool = False
    """Supply's disconnect was confirmed, or the meter cut itself with supply's permit."""
    cut_command_id: str | None = None
    reconnect_command_id: str | None = None
    attempts: int = 0
    """Supply commands that ended without effect in this spell (each retry takes a new key)."""
    next_check_at: datetime | None = None
    headroom_paise: int | None = 0
    """How many paise of new running charges leave the decision as it is (`headroom`): charges
    beyond it make the account due. None: no charge does (the balance is below zero already,
    where only time, payments and relay commands change what supply does)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFacts:
    """What supply knows of one account now."""

    account_no: str
    meter_id: str | None
    balance_paise: int
    opened_at: datetime
    last_recharge_paise: int | None = None
    last_recharge_ref: str | None = None
    """The ledger reference of the last recharge (``payment:<payment_id>`` for a payment)."""
    last_recharge_at: datetime | None = None
    relay: int | None = None
    """The meter's relay as the head-end shows it (`RelayState`), None when unknown."""
    warnings: Sequence[Warned] = ()
    """Warnings sent since the last recharge (or the opening)."""
    cut_outcome: Outcome | None = None
    reconnect_outcome: Outcome | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alerting:
    """An alert supply raises."""

    kind: str
    fact_key: str
    facts: Mapping[str, int | str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """A command supply asks for (`CommandRequest` once the meter is known)."""

    action: str
    args: Mapping[str, int]
    reason: str
    idempotency_key: str
    expires_at: datetime
    slot: str
    """Which open command of the state it fills: ``cut``, ``reconnect`` or ``permit``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOff:
    """A command supply asked for and no longer wants: ended before it is sent, if it is still
    queued (one that went out meanwhile takes its course)."""

    command_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    alerts: tuple[Alerting, ...]
    orders: tuple[Order, ...]
    state: SupplyState
    call_off: tuple[CallOff, ...] = ()


def payment_of(reference: str | None) -> str | None:
    """The payment (or recharge reference) a recharge ledger reference names."""
    if reference is None:
        return None
    return reference.split(":", 1)[1] if ":" in reference else reference


def rupees(paise: int) -> str:
    """₹ with Indian grouping, for the reason on a command."""
    sign, paise = ("-" if paise < 0 else ""), abs(paise)
    whole, frac = divmod(paise, 100)
    digits = str(whole)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        digits = ",".join([head, *groups, tail]) if head else ",".join([*groups, tail])
    return f"{sign}₹{digits}.{frac:02d}"


def shown(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%d %b %Y, %H:%M")


@dataclass(frozen=True, slots=True)
class WarningCount:
    alerts: int
    channels: int
    last_sent: datetime | None

    def complete(self, policy: PrepaidPolicy) -> bool:
        return self.alerts >= policy.min_warnings and self.channels >= policy.min_channels


def count_warnings(warnings: Sequence[Warned]) -> WarningCount:
    """How many warnings reached the consumer, on how many channels, the last when."""
    return WarningCount(
        alerts=len({w.alert_id for w in warnings}),
        channels=len({w.channel for w in warnings}),
        last_sent=max((w.sent_at for w in warnings), default=None),
    )


def level_reached(balance_paise: int, last_recharge_paise: int | None, levels: Sequence[int]) -> int | None:
    """The lowest alert level (% of the last recharge) the balance is at or below; None: above all.

    Without a recharge (only an opening balance) just the 0 % level applies."""
    reached = [
        level
        for level in levels
        if (balance_paise <= 0 if level == 0 else bool(last_recharge_paise))
        and balance_paise * 100 <= level * (last_recharge_paise or 0)
    ]
    return min(reached) if reached else None


def cut_allowed_from(facts: AccountFacts, state: SupplyState, policy: PrepaidPolicy) -> datetime | None:
    """The earliest moment the rules leave for a cut, protected time aside; None while the
    warnings are not complete (or the balance is not below zero)."""
    if state.negative_since is None or facts.balance_paise >= 0:
        return None
    count = count_warnings(facts.warnings)
    if not count.complete(policy) or count.last_sent is None:
        return None
    after = [
        state.negative_since + policy.emergency_credit,
        facts.opened_at + policy.grace,
        count.last_sent + policy.warning_lead,
    ]
    if state.last_warned_at is not None:
        after.append(state.last_warned_at + policy.warning_lead)
    return max(after)


def headroom(
    balance_paise: int, state: SupplyState, last_recharge_paise: int | None, policy: PrepaidPolicy
) -> int | None:
    """How far charges alone may lower the balance before `decide` could do anything new: down
    to the highest alert level not yet alerted since the recharge, or to below zero, whichever
    comes first (a lower balance changes nothing else it does while the balance stays at or
    above zero). None below zero: there, lower still, it decides the same (only time, payments
    and relay commands move it on)."""
    if balance_paise < 0:
        return None
    marks = [-1]  # the first paisa below zero starts the spell
    for level in policy.alert_shares:
        if state.level_alerted is not None and level >= state.level_alerted:
            continue
        if level == 0:
            marks.append(0)
        elif last_recharge_paise:
            marks.append(level * last_recharge_paise // 100)  # level_reached: balance * 100 <= level * recharge
    return balance_paise - max(m for m in marks if m < balance_paise)


def decide(facts: AccountFacts, state: SupplyState, policy: PrepaidPolicy, now: datetime) -> Decision:
    """What supply does for one account at `now`, with the headroom the new state leaves."""
    decision = _decide(facts, state, policy, now)
    room = headroom(facts.balance_paise, decision.state, facts.last_recharge_paise, policy)
    return dataclasses.replace(decision, state=dataclasses.replace(decision.state, headroom_paise=room))


def _decide(facts: AccountFacts, state: SupplyState, policy: PrepaidPolicy, now: datetime) -> Decision:
    alerts: list[Alerting] = []
    orders: list[Order] = []
    s = _settle_commands(facts, state, alerts)

    if facts.last_recharge_ref != s.recharge_ref:
        s = dataclasses.replace(s, recharge_ref=facts.last_recharge_ref, level_alerted=None)
    level = level_reached(facts.balance_paise, facts.last_recharge_paise, policy.alert_shares)
    if level is not None and (s.level_alerted is None or level < s.level_alerted):
        alerts.append(_low_balance(facts, level))
        s = dataclasses.replace(s, level_alerted=level, last_warned_at=now)

    if facts.balance_paise >= policy.reconnect_at_paise:
        call_off: list[CallOff] = []
        s = _back_in_credit(facts, s, now, orders, call_off)
        return Decision(alerts=tuple(alerts), orders=tuple(orders), state=s, call_off=tuple(call_off))
    if facts.balance_paise >= 0:  # between zero and the reconnect level: nothing to do yet
        return Decision(alerts=tuple(alerts), orders=tuple(orders), state=dataclasses.replace(s, next_check_at=None))
    s = _in_debt(facts, s, policy, now, alerts, orders)
    return Decision(alerts=tuple(alerts), orders=tuple(orders), state=s)


def _settle_commands(facts: AccountFacts, s: SupplyState, alerts: list[Alerting]) -> SupplyState:
    """Take in what became of supply's open commands."""
    if s.cut_command_id is not None and facts.cut_outcome not in (None, Outcome.QUEUED, Outcome.OPEN):
        if facts.cut_outcome == Outcome.CONFIRMED:
            alerts.append(
                Alerting(
                    kind=Notice.DISCONNECTED,
                    fact_key=f"disconnected:{s.cut_command_id}",
                    facts={"balance_paise": facts.balance_paise},
                )
            )
            s = dataclasses.replace(s, cut=True, cut_command_id=None)
        else:
            s = dataclasses.replace(s, cut_command_id=None, attempts=s.attempts + 1)
    if s.reconnect_command_id is not None and facts.reconnect_outcome not in (None, Outcome.QUEUED, Outcome.OPEN):
        if facts.reconnect_outcome == Outcome.CONFIRMED:
            alerts.append(
                Alerting(
                    kind=Notice.RECONNECTED,
                    fact_key=f"reconnected:{s.reconnect_command_id}",
                    facts={"balance_paise": facts.balance_paise},
                )
            )
            s = dataclasses.replace(s, cut=False, reconnect_command_id=None)
        else:
            s = dataclasses.replace(s, reconnect_command_id=None, attempts=s.attempts + 1)
    return s


def _low_balance(facts: AccountFacts, level: int) -> Alerting:
    episode = facts.last_recharge_ref or f"opening:{facts.account_no}"
    return Alerting(
        kind=WarningKind.LOW_BALANCE,
        fact_key=f"low_balance:{level}:{episode}",
        facts={"level_pct": level, "balance_paise": facts.balance_paise},
    )


def _back_in_credit(
    facts: AccountFacts, s: SupplyState, now: datetime, orders: list[Order], call_off: list[CallOff]
) -> SupplyState:
    """The balance is back: the spell ends; a consumer supply cut is reconnected, a disconnect
    not sent yet is called off."""
    if s.cut_command_id is not None and facts.cut_outcome == Outcome.QUEUED:
        payment = payment_of(facts.last_recharge_ref)
        after = f" after payment {payment}" if payment else ""
        reason = f"called off: prepaid balance back to {rupees(facts.balance_paise)}{after} before it was sent"
        call_off.append(CallOff(command_id=s.cut_command_id, reason=reason))
        s = dataclasses.replace(s, cut_command_id=None)
    cut_by_supply = s.cut or (s.permit_sent and facts.relay == 0)
    if s.negative_since is not None or s.permit_sent:
        s = dataclasses.replace(s, negative_since=None, notices=0, permit_sent=False)
    if cut_by_supply and s.reconnect_command_id is None and s.cut_command_id is None:
        payment = payment_of(facts.last_recharge_ref) or f"{facts.account_no}:{epoch(now)}"
        key = f"supply:reconnect:{payment}" + (f":{s.attempts + 1}" if s.attempts else "")
        orders.append(
            Order(
                action="relay_connect",
                args={},
                reason=f"prepaid balance back to {rupees(facts.balance_paise)} after payment {payment}",
                idempotency_key=key,
                expires_at=now + RECONNECT_EXPIRES_IN,
                slot="reconnect",
            )
        )
    if not cut_by_supply and s.cut_command_id is None:
        s = dataclasses.replace(s, cut=False, attempts=0)
    # A disconnect still open when credit came: it settles (and the reconnect follows) first.
    return dataclasses.replace(s, next_check_at=None)


def _in_debt(
    facts: AccountFacts,
    s: SupplyState,
    policy: PrepaidPolicy,
    now: datetime,
    alerts: list[Alerting],
    orders: list[Order],
) -> SupplyState:
    if s.negative_since is None:
        s = dataclasses.replace(s, negative_since=now, attempts=0)
    negative_since = s.negative_since
    assert negative_since is not None
    spell = epoch(negative_since)
    if s.cut or s.cut_command_id is not None or (s.permit_sent and facts.relay == 0):
        return dataclasses.replace(s, next_check_at=None)  # off already, or about to be
    earliest = max(negative_since + policy.emergency_credit, facts.opened_at + policy.grace)

    count = count_warnings(facts.warnings)
    due_notice = s.notices == 0 or (
        not count.complete(policy)
        and s.notices < MAX_NOTICES
        and (s.last_warned_at is None or now >= s.last_warned_at + policy.warning_lead)
    )
    if due_notice:
        cut_after = policy.protected_until(max(earliest, now + policy.warning_lead))
        alerts.append(
            Alerting(
                kind=WarningKind.DISCONNECT_NOTICE,
                fact_key=f"disconnect_notice:{facts.account_no}:{spell}:{s.notices + 1}",
                facts={"balance_paise": facts.balance_paise, "cut_after": epoch(cut_after)},
            )
        )
        s = dataclasses.replace(s, notices=s.notices + 1, last_warned_at=now)

    allowed = cut_allowed_from(facts, s, policy)
    if allowed is None:
        # Wait for the deliveries and a day, then count again.
        assert s.last_warned_at is not None
        wake = max(s.last_warned_at + policy.warning_lead, now + timedelta(minutes=1))
        return dataclasses.replace(s, next_check_at=wake if s.notices < MAX_NOTICES else wake + timedelta(days=1))

    if policy.offline_cut_needs_permit and not s.permit_sent:
        orders.append(
            Order(
                action="cutoff_permit",
                args={"after": epoch(policy.protected_until(allowed))},
                reason=(
                    f"prepaid balance {rupees(facts.balance_paise)} below zero since {shown(negative_since)}; "
                    f"warned {count.alerts} times on {count.channels} channels"
                ),
                idempotency_key=f"supply:permit:{facts.account_no}:{spell}",
                expires_at=now + PERMIT_EXPIRES_IN,
                slot="permit",
            )
        )
        s = dataclasses.replace(s, permit_sent=True)

    cut_at = policy.protected_until(max(now, allowed))
    ends = policy.protection_starts(cut_at) - EXPIRY_MARGIN
    if cut_at > now or ends - now < MIN_WINDOW:
        wake = cut_at if cut_at > now else policy.protected_until(policy.protection_starts(now))
        return dataclasses.replace(s, next_check_at=wake)
    key = f"supply:disconnect:{facts.account_no}:{spell}" + (f":{s.attempts + 1}" if s.attempts else "")
    orders.append(
        Order(
            action="relay_disconnect",
            args={"for_credit": 1, "until": epoch(ends)},
            reason=(
                f"prepaid balance {rupees(facts.balance_paise)} below zero since {shown(negative_since)}; "
                f"emergency credit over; warned {count.alerts} times on {count.channels} channels, "
                f"the last {shown(count.last_sent or now)}"
            ),
            idempotency_key=key,
            expires_at=ends,
            slot="cut",
        )
    )
    return dataclasses.replace(s, next_check_at=None)
