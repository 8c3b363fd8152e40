"""No cut without warning, on every path: timelines of one consumer, checked at every step.

A timeline runs supply's decisions (`bijli.supply.model.decide`) every 15 minutes against a
world that plays the other side: charges that eat the balance, payments, alert deliveries that
arrive late or fail on a channel, a meter that drops offline, takes commands only while online,
and cuts itself while offline only with a permit (as the twin does). Every time the relay
opens, the ground truth is checked against the rule: at least three warnings delivered on at
least two channels, the last at least 24 hours before; the balance below zero, emergency
credit over, the grace period over, and not in protected time (18:00-08:00 IST, Sundays,
second Saturdays, UP public holidays).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bijli.kernel.time import IST, epoch
from bijli.prepaid.policy import PrepaidPolicy, uppcl
from bijli.supply.model import AccountFacts, Outcome, SupplyState, Warned, WarningKind, decide

TICK = timedelta(minutes=15)
WARNING_KINDS = {WarningKind.LOW_BALANCE.value, WarningKind.DISCONNECT_NOTICE.value}


@dataclass
class Command:
    action: str
    args: dict[str, int]
    key: str
    expires_at: datetime
    outcome: Outcome = Outcome.QUEUED
    """Queued until it reaches the meter (at once when the meter is online)."""


@dataclass
class Cut:
    at: datetime
    how: str


@dataclass
class World:
    """One consumer, their meter and the alert channels, on a simulated clock."""

    policy: PrepaidPolicy
    start: datetime
    opened_at: datetime
    balance: int
    hourly_paise: int
    online: list[tuple[datetime, datetime]]
    """When the meter can hear the server (outside: offline)."""
    payments: dict[datetime, int]
    has_email: bool
    sms_fails: float
    rng: random.Random
    state: SupplyState = field(default_factory=lambda: SupplyState(account_no="ACC-1"))
    relay_closed: bool = True
    cut_for_credit: bool = False
    permit_after: int | None = None
    recharge: tuple[int, str, datetime] | None = None
    alerts: dict[str, tuple[int, str, datetime]] = field(default_factory=dict)
    deliveries: list[tuple[int, str, datetime, bool]] = field(default_factory=list)
    """(alert id, channel, when it is due, whether it will be sent)."""
    commands: dict[str, Command] = field(default_factory=dict)
    cuts: list[Cut] = field(default_factory=list)
    negative_since: datetime | None = None
    """The ground truth: when the balance last went below zero."""

    def is_online(self, t: datetime) -> bool:
        return any(a <= t < b for a, b in self.online)

    def sent_warnings(self, until: datetime, since: datetime) -> list[Warned]:
        kinds = {aid: kind for aid, kind, _ in self.alerts.values()}
        return [
            Warned(alert_id=aid, channel=channel, sent_at=due)
            for aid, channel, due, ok in self.deliveries
            if ok and due <= until and due >= since and kinds[aid] in WARNING_KINDS
        ]

    # ------------------------------------------------------------------ the world moves

    def step(self, t: datetime) -> None:
        if self.relay_closed:
            self.balance -= self.hourly_paise // 4
        if t in self.payments:
            self.balance += self.payments[t]
            self.recharge = (self.payments[t], f"payment:pay-{epoch(t)}", t)
            if self.balance >= 0 and self.is_online(t):
                self.permit_after = None  # the credit reaches the meter: the permit is void
                if self.cut_for_credit:
                    self.relay_closed, self.cut_for_credit = True, False
        if self.balance < 0 and self.negative_since is None:
            self.negative_since = t
        elif self.balance >= 0:
            self.negative_since = None
        for command in self.commands.values():
            self._deliver(command, t)
        self._offline_policy(t)

    def _deliver(self, c: Command, t: datetime) -> None:
        if c.outcome != Outcome.QUEUED:
            return
        if t >= c.expires_at:
            c.outcome = Outcome.ENDED
            return
        if not self.is_online(t):
            return
        if c.action == "relay_disconnect":
            if c.args.get("for_credit") and self.balance >= 0:
                c.outcome = Outcome.ENDED  # the meter refuses: its balance is not below zero
                return
            if epoch(t) <= c.args["until"] and self.relay_closed:
                self.relay_closed, self.cut_for_credit = False, bool(c.args.get("for_credit"))
                self.cuts.append(Cut(t, "server"))
        elif c.action == "relay_connect":
            self.relay_closed, self.cut_for_credit = True, False
        elif c.action == "cutoff_permit":
            self.permit_after = c.args["after"]
        c.outcome = Outcome.CONFIRMED

    def _offline_policy(self, t: datetime) -> None:
        """The meter's own rule while it cannot hear the server (the twin's)."""
        if self.is_online(t) or not self.relay_closed or self.negative_since is None:
            return
        if self.permit_after is None or epoch(t) < self.permit_after:
            return
        if t - self.negative_since < self.policy.emergency_credit or self.policy.friendly(t):
            return
        self.relay_closed, self.cut_for_credit = False, True
        self.cuts.append(Cut(t, "meter"))

    # ------------------------------------------------------------------ supply decides

    def decide(self, t: datetime) -> None:
        amount, ref, at = self.recharge if self.recharge else (None, None, None)
        since = at or self.opened_at
        s = self.state
        facts = AccountFacts(
            account_no=s.account_no,
            meter_id="M-1",
            balance_paise=self.balance,
            opened_at=self.opened_at,
            last_recharge_paise=amount,
            last_recharge_ref=ref,
            last_recharge_at=at,
            relay=1 if self.relay_closed else 0,
            warnings=self.sent_warnings(t, since),
            cut_outcome=self.commands[s.cut_command_id].outcome if s.cut_command_id else None,
            reconnect_outcome=self.commands[s.reconnect_command_id].outcome if s.reconnect_command_id else None,
        )
        decision = decide(facts, s, self.policy, t)
        for a in decision.alerts:
            if a.fact_key in self.alerts:
                continue
            aid = len(self.alerts) + 1
            self.alerts[a.fact_key] = (aid, a.kind, t)
            delay = timedelta(minutes=self.rng.randrange(0, 240))
            self.deliveries.append((aid, "web", t + timedelta(seconds=5), True))
            self.deliveries.append((aid, "sms", t + delay, self.rng.random() >= self.sms_fails))
            if self.has_email:
                self.deliveries.append((aid, "email", t + delay * 2, True))
        state = decision.state
        for off in decision.call_off:  # ended if it has not reached the meter yet
            called = self.commands[off.command_id]
            if called.outcome == Outcome.QUEUED:
                called.outcome = Outcome.ENDED
            else:
                state = dataclasses.replace(state, cut_command_id=off.command_id)
        for order in decision.orders:
            command = self.commands.setdefault(
                order.idempotency_key, Command(order.action, dict(order.args), order.idempotency_key, order.expires_at)
            )
            assert command.action == order.action
            if order.slot == "cut":
                state = dataclasses.replace(state, cut_command_id=order.idempotency_key)
            elif order.slot == "reconnect":
                state = dataclasses.replace(state, reconnect_command_id=order.idempotency_key)
        self.state = state

    def run(self, days: int) -> None:
        t = self.start
        while t < self.start + timedelta(days=days):
            self.step(t)
            cuts = len(self.cuts)
            self.decide(t)
            self.step_commands(t)
            for cut in self.cuts[cuts:]:
                self.check(cut)
            t += TICK

    def step_commands(self, t: datetime) -> None:
        """Commands supply just asked for reach an online meter at once."""
        before = len(self.cuts)
        for command in self.commands.values():
            self._deliver(command, t)
        for cut in self.cuts[before:]:
            self.check(cut)

    def check(self, cut: Cut) -> None:
        """The rule, from the ground truth, at the moment the relay opened."""
        t, p = cut.at, self.policy
        assert self.balance < 0, cut
        assert self.negative_since is not None and t - self.negative_since >= p.emergency_credit, cut
        assert t - self.opened_at >= p.grace, cut
        assert not p.friendly(t), (cut, t.astimezone(IST))
        since = self.recharge[2] if self.recharge else self.opened_at
        sent = [w for w in self.sent_warnings(t, since)]
        assert len({w.alert_id for w in sent}) >= p.min_warnings, (cut, sent)
        assert len({w.channel for w in sent}) >= p.min_channels, (cut, sent)
        assert max(w.sent_at for w in sent) <= t - p.warning_lead, (cut, sent)
        raised = [at for _, kind, at in self.alerts.values() if kind in WARNING_KINDS]
        assert max(raised) <= t - p.warning_lead, (cut, raised)


def ist(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), IST)


def world(
    start: datetime,
    *,
    balance: int = 20_000,
    hourly: int = 1_500,
    opened_days_before: int = 365,
    online: list[tuple[datetime, datetime]] | None = None,
    payments: dict[datetime, int] | None = None,
    has_email: bool = False,
    sms_fails: float = 0.0,
    seed: int = 1,
    policy: PrepaidPolicy | None = None,
) -> World:
    return World(
        policy=policy or uppcl(),
        start=start,
        opened_at=start - timedelta(days=opened_days_before),
        balance=balance,
        hourly_paise=hourly,
        online=online if online is not None else [(start, start + timedelta(days=365))],
        payments=payments or {},
        has_email=has_email,
        sms_fails=sms_fails,
        rng=random.Random(seed),
    )


# ---------------------------------------------------------------------------- the paths, one by one


def test_an_online_meter_is_cut_only_after_three_warnings_on_two_channels_and_emergency_credit() -> None:
    w = world(ist(date(2026, 3, 9), 9), payments={ist(date(2026, 3, 9), 9): 30_000})
    w.run(days=10)

    (cut,) = w.cuts
    assert cut.how == "server"
    assert w.negative_since is not None and cut.at >= w.negative_since + timedelta(days=3)
    kinds = sorted(kind for _, kind, _ in w.alerts.values())
    assert kinds.count("low_balance") == 3 and "disconnect_notice" in kinds and "disconnected" in kinds


def test_emergency_credit_ending_in_friendly_hours_waits_for_the_morning() -> None:
    # Negative on a Monday evening: emergency credit ends Thursday evening; the cut is Friday 08:00.
    w = world(ist(date(2026, 3, 9), 18, 15), balance=0, hourly=1_000)
    w.run(days=6)

    (cut,) = w.cuts
    assert cut.at == ist(date(2026, 3, 13), 8)


@pytest.mark.parametrize(
    ("negative_on", "cut_on"),
    [
        (date(2026, 11, 4), date(2026, 11, 9)),  # credit ends Saturday 7 Nov (first): but Diwali Sunday
        (date(2026, 12, 9), date(2026, 12, 14)),  # ends Saturday 12 Dec, the second Saturday: Monday
        (date(2026, 10, 17), date(2026, 10, 21)),  # ends Tuesday 20 Oct, Dussehra: Wednesday
        (date(2026, 12, 3), date(2026, 12, 7)),  # ends Sunday 6 Dec: Monday
    ],
    ids=["first-saturday-then-diwali-sunday", "second-saturday", "holiday", "sunday"],
)
def test_no_cut_on_sundays_second_saturdays_or_holidays(negative_on: date, cut_on: date) -> None:
    w = world(ist(negative_on, 10), balance=0, hourly=1_000)
    w.run(days=9)

    assert w.cuts
    assert w.cuts[0].at.astimezone(IST).date() in {cut_on, date(2026, 11, 7)}
    assert all(not w.policy.friendly(c.at) for c in w.cuts)


def test_a_newly_converted_consumer_is_not_cut_in_the_grace_period() -> None:
    start = ist(date(2026, 3, 9), 10)
    w = world(start, balance=0, opened_days_before=0)
    w.run(days=w.policy.grace.days + 3)

    assert w.cuts and w.cuts[0].at >= start + w.policy.grace


def test_an_offline_meter_cuts_itself_only_with_the_permit_sent_after_the_warnings() -> None:
    start = ist(date(2026, 3, 9), 10)
    # Online for the first two days (the permit needs three warnings and a day; it is not sent
    # yet), then offline for good: the meter never cuts itself.
    w = world(start, balance=0, online=[(start, start + timedelta(days=1))])
    w.run(days=8)
    assert w.cuts == []
    # Online long enough to take the permit, then offline: it cuts itself, by the rule.
    w = world(start, balance=0, online=[(start, start + timedelta(days=2, hours=12))])
    w.run(days=8)
    assert [c.how for c in w.cuts] == ["meter"]


def test_a_payment_reconnects_with_the_payments_key() -> None:
    start = ist(date(2026, 3, 9), 10)
    paid = start + timedelta(days=6)
    w = world(start, balance=0, payments={paid: 500_000})
    w.run(days=7)

    assert len(w.cuts) == 1 and w.relay_closed
    assert f"supply:reconnect:pay-{epoch(paid)}" in w.commands
    assert w.commands[f"supply:reconnect:pay-{epoch(paid)}"].outcome == Outcome.CONFIRMED


def test_warnings_that_never_arrive_on_a_second_channel_mean_no_cut() -> None:
    policy = dataclasses.replace(uppcl(), min_channels=3)  # web and SMS only: never three channels
    w = world(ist(date(2026, 3, 9), 10), balance=0, policy=policy)
    w.run(days=10)

    assert w.cuts == []


# ---------------------------------------------------------------------------- any timeline


@st.composite
def timelines(draw: st.DrawFn) -> tuple[World, int]:
    first = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
    start = ist(first, draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    days = draw(st.integers(4, 14))
    ticks = days * 96
    cuts = sorted(draw(st.lists(st.integers(0, ticks), max_size=6)))
    bounds = [0, *cuts, ticks]
    online = [(start + bounds[i] * TICK, start + bounds[i + 1] * TICK) for i in range(0, len(bounds) - 1, 2)]
    payments = {
        start + k * TICK: draw(st.integers(1, 800)) * 100
        for k in draw(st.lists(st.integers(0, ticks), max_size=4, unique=True))
    }
    w = world(
        start,
        balance=draw(st.integers(-5_000, 15_000)),
        hourly=draw(st.integers(300, 4_000)),
        opened_days_before=draw(st.one_of(st.just(400), st.integers(0, 40))),
        online=online,
        payments=payments,
        has_email=draw(st.booleans()),
        sms_fails=draw(st.sampled_from([0.0, 0.3, 1.0])),
        seed=draw(st.integers(0, 2**16)),
    )
    return w, days


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_no_timeline_cuts_without_warning_or_in_protected_time(case: tuple[World, int]) -> None:
    w, days = case
    w.run(days)  # `check` asserts the rule at every cut
    event(f"cuts: {sorted({c.how for c in w.cuts})}")

    end = w.start + timedelta(days=days) - TICK
    if w.balance >= 0 and w.is_online(end) and w.is_online(end - TICK):
        assert w.relay_closed, "a consumer back in credit with an online meter has power"
