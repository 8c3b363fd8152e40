"""The scenario's prepaid ground truth: relay operations and inboxes judged against the policy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bijli.fleet.city import build_city, consumer_meter_id
from bijli.fleet.habits import PaymentHabits
from bijli.fleet.scenario import ScenarioError, ScenarioHooks, parse
from bijli.fleet.truth import Inbox, WatchedTwin, judge
from bijli.fleet.twin import TwinOptions
from bijli.kernel.time import INTERVAL, epoch, ist_midnight
from bijli.prepaid.tariff import builtin_tariffs
from tests.support.keys import SITE

MONDAY = ist_midnight(date(2026, 11, 2))
T0 = float(epoch(MONDAY))
H = 3600.0
POLICY = TwinOptions().policy


def twin(meters: int = 4) -> WatchedTwin:
    return WatchedTwin(build_city(meters, 7), [], SITE, builtin_tariffs()["UP-LMV1-DU"], start=MONDAY, first_counter=0)


def warn(inbox: Inbox, account: str, at: float, channels: tuple[str, ...] = ("sms", "web")) -> None:
    for ch in channels:
        inbox.take(account, f"alert-{at}", "low_balance", ch, at)


def verdict(tw: WatchedTwin, inbox: Inbox, payments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return judge(tw, payments or [], inbox, [], POLICY.friendly, tw.now, None)


def test_a_cut_after_three_warnings_on_two_channels_a_day_before_is_clean() -> None:
    tw, inbox = twin(), Inbox()
    account = tw.consumers[0].account_no
    for hours in (0, 30, 50):
        warn(inbox, account, T0 + hours * H, ("sms", "web") if hours else ("sms",))
    tw.set_relay(0, False, T0 + 3 * 24 * H + 10 * H)  # Thursday 10:00 IST, 24 h after the last
    v = verdict(tw, inbox)
    assert (v["disconnects"], v["disconnects_without_warning"], v["disconnects_in_protected_time"]) == (1, 0, 0)


@pytest.mark.parametrize(
    ("warnings", "cut_hour"),
    [
        ([0, 30], 82),  # two warnings only
        ([0, 30, 70], 82),  # the last less than 24 h before
    ],
)
def test_a_cut_short_of_the_warnings_counts(warnings: list[int], cut_hour: int) -> None:
    tw, inbox = twin(), Inbox()
    for hours in warnings:
        warn(inbox, tw.consumers[0].account_no, T0 + hours * H)
    tw.set_relay(0, False, T0 + cut_hour * H)
    assert verdict(tw, inbox)["disconnects_without_warning"] == 1


def test_warnings_on_one_channel_only_do_not_count() -> None:
    tw, inbox = twin(), Inbox()
    for hours in (0, 10, 20):
        warn(inbox, tw.consumers[0].account_no, T0 + hours * H, ("sms",))
    tw.set_relay(0, False, T0 + 82 * H)
    assert verdict(tw, inbox)["disconnects_without_warning"] == 1


def test_warnings_before_a_payment_do_not_cover_a_later_cut() -> None:
    tw, inbox = twin(), Inbox()
    for hours in (0, 10, 20):
        warn(inbox, tw.consumers[0].account_no, T0 + hours * H)
    paid = {"meter_id": tw.meter_ids[0], "at": T0 + 40 * H, "relay_open": False, "paise": 100}
    tw.set_relay(0, False, T0 + 82 * H)
    assert verdict(tw, inbox, [paid])["disconnects_without_warning"] == 1


@pytest.mark.parametrize("hour", [18, 23, 7])
def test_a_cut_in_friendly_hours_is_in_protected_time(hour: int) -> None:
    tw = twin()
    tw.set_relay(1, False, T0 + 24 * H + hour * H)
    assert verdict(tw, Inbox())["disconnects_in_protected_time"] == 1


def test_a_cut_on_a_sunday_or_the_second_saturday_is_in_protected_time() -> None:
    tw = twin()
    tw.set_relay(0, False, float(epoch(ist_midnight(date(2026, 11, 8)))) + 11 * H)  # Sunday
    tw.set_relay(1, False, float(epoch(ist_midnight(date(2026, 11, 14)))) + 11 * H)  # second Saturday
    tw.set_relay(2, False, float(epoch(ist_midnight(date(2026, 11, 7)))) + 11 * H)  # first Saturday
    assert verdict(tw, Inbox())["disconnects_in_protected_time"] == 2


def test_power_back_runs_from_the_payment_to_the_relay_closing() -> None:
    tw = twin()
    tw.set_relay(0, False, T0 + 10 * H)
    tw.set_relay(1, False, T0 + 10 * H)
    tw.set_relay(0, True, T0 + 12 * H + 240)
    payments = [
        {"meter_id": tw.meter_ids[0], "at": T0 + 12 * H, "relay_open": True, "paise": 50_000, "balance_paise": -9_000},
        {"meter_id": tw.meter_ids[1], "at": T0 + 13 * H, "relay_open": True, "paise": 50_000, "balance_paise": -9_000},
        {"meter_id": tw.meter_ids[2], "at": T0 + 13 * H, "relay_open": False, "paise": 50_000, "balance_paise": 100},
    ]
    tw.advance(T0 + 14 * H)
    v = verdict(tw, Inbox(), payments)
    assert v["recharges"] == 3
    assert v["power_back_max_s"] == 3600.0  # never back: counted to the end of the run
    assert v["power_back_p95_s"] == 3600.0
    assert v["recharges_short_of_debt"] == 0


def test_a_payment_too_small_to_clear_the_debt_is_not_timed_the_one_that_clears_it_is() -> None:
    # Cut off owing Rs 301.50; Rs 300 leaves the balance below zero and the power rightly off;
    # a day later Rs 500 clears it and the relay closes 240 s after that payment.
    tw = twin()
    tw.set_relay(0, False, T0 + 10 * H)
    short = {"meter_id": tw.meter_ids[0], "at": T0 + 12 * H, "relay_open": True, "paise": 30_000}
    clears = {"meter_id": tw.meter_ids[0], "at": T0 + 40 * H, "relay_open": True, "paise": 50_000}
    tw.set_relay(0, True, T0 + 40 * H + 240)
    tw.advance(T0 + 48 * H)
    v = verdict(tw, Inbox(), [{**short, "balance_paise": -30_150}, {**clears, "balance_paise": -30_150 + 30_000}])
    assert (v["power_back_p95_s"], v["power_back_max_s"]) == (240.0, 240.0)
    assert v["recharges_short_of_debt"] == 1
    assert v["recharges"] == 2


def test_a_payment_that_brings_the_balance_exactly_to_the_reconnect_level_is_timed() -> None:
    tw = twin()
    tw.set_relay(0, False, T0 + 10 * H)
    paid = {"meter_id": tw.meter_ids[0], "at": T0 + 12 * H, "relay_open": True, "paise": 30_000}
    tw.advance(T0 + 14 * H)
    v = verdict(tw, Inbox(), [{**paid, "balance_paise": -30_000}])
    assert (v["power_back_max_s"], v["recharges_short_of_debt"]) == (7200.0, 0)  # never back: a slow one


def test_a_message_received_twice_is_duplicated_and_one_never_received_is_lost() -> None:
    tw, inbox = twin(), Inbox()
    account = tw.consumers[0].account_no
    inbox.take(account, "alert-1", "payment_received", "sms", T0)
    inbox.take(account, "alert-1", "payment_received", "sms", T0 + 60)
    expected = [(account, "alert-1", "sms"), (account, "alert-1", "web"), (account, "alert-2", "sms")]
    v = judge(tw, [], inbox, expected, POLICY.friendly, tw.now, None)
    assert (v["alerts"], v["alerts_duplicated"], v["alerts_lost"]) == (1, 1, 2)


def test_a_payment_the_consumer_never_heard_of_is_lost() -> None:
    tw = twin()
    paid = {"meter_id": tw.meter_ids[0], "at": T0, "relay_open": False, "paise": 100}
    assert verdict(tw, Inbox(), [paid])["alerts_lost"] == 1


def test_days_left_error_compares_forecasts_with_when_the_balance_really_went_below_zero() -> None:
    tw = twin(2)
    tw.mirrors.balance[:2] = [60_000, 70_000]
    first, _, nothing = tw.midnights[0]
    tw.midnights[0] = (first, tw.balance[:2].copy(), nothing)
    for n in range(10 * 96):
        tw.close_interval(MONDAY + n * INTERVAL)
    said: list[tuple[int, int]] = []

    def mean_pace(balance: int, history: Mapping[date, int], today: date) -> Decimal | None:
        said.append((balance, len(history)))
        return Decimal(balance) / (Decimal(sum(history.values())) / len(history))

    error = judge(tw, [], Inbox(), [], POLICY.friendly, tw.now, mean_pace)["days_left_error_at_3_days_pct"]
    assert tw.zero_log and said and all(n >= 3 for _, n in said)
    assert error is not None and 0 <= error < 20  # the household's load varies a little from day to day

    def never(balance: int, history: Mapping[date, int], today: date) -> Decimal | None:
        return None

    assert judge(tw, [], Inbox(), [], POLICY.friendly, tw.now, never)["days_left_error_at_3_days_pct"] == 100.0


def test_meters_and_days_given_on_the_command_line_win_over_the_file() -> None:
    doc = {"start": date(2026, 11, 2), "days": 30, "meters": 24000}
    s = parse(doc, meters=300, days=2.5)
    assert (s.meters, s.intervals) == (300, 240)


def test_a_share_of_the_meters_is_chosen_by_the_seed_from_the_city_that_runs() -> None:
    event = {"kind": "condition", "condition": "comm_module_removed", "share": 0.1, "at": "10:00", "for": "1d"}
    doc = {"start": date(2026, 11, 2), "events": [event]}
    small, again = parse(doc, meters=50), parse(doc, meters=50)
    chosen = {f["meter_id"] for f in small.truth}
    assert len(chosen) == 5 and chosen == {f["meter_id"] for f in again.truth}
    assert chosen <= {consumer_meter_id(i) for i in range(50)}
    assert {c.meter_id for c in build_city(50)} >= chosen


@pytest.mark.parametrize(
    "event",
    [
        {"kind": "payments", "amounts": []},
        {"kind": "payments", "prompt": 0.8, "after_cut": 0.5},
        {"kind": "payments", "delay": ["2h", "1h"]},
        {"kind": "payments", "amounts": ["5.123"]},
        {"kind": "condition", "condition": "magnet", "share": 1.5, "at": "10:00", "for": "1h"},
    ],
)
def test_bad_habits_and_shares_are_refused_with_the_reason(event: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError):
        parse({"start": date(2026, 11, 2), "events": [event]})


def test_opening_balances_must_be_whole_rupees_low_to_high() -> None:
    with pytest.raises(ScenarioError):
        parse({"start": date(2026, 11, 2), "opening_balance": ["900", "60"]})
    assert parse({"start": date(2026, 11, 2), "opening_balance": ["60", "900"]}).opening_paise == (6_000, 90_000)


@pytest.mark.parametrize("days", [-1, 1.5, "90"])
def test_how_long_the_consumers_have_been_on_prepaid_is_a_whole_number_of_days(days: object) -> None:
    with pytest.raises(ScenarioError):
        parse({"start": date(2026, 11, 2), "prepaid_since_days": days})
    assert parse({"start": date(2026, 11, 2), "prepaid_since_days": 90}).prepaid_since_days == 90


def test_prompt_payers_pay_when_low_and_those_cut_off_pay_after_the_delay() -> None:
    tw = twin(40)
    habits = PaymentHabits(
        begin=None,
        span=None,
        amounts=(50_000,),
        prompt=0.5,
        below=3_000,
        after_cut=0.5,
        delay=(600.0, 600.0),
        typed_after=None,
        seed=1,
    )
    running = habits.start(tw, ScenarioHooks())
    tw.mirrors.balance[:40] = 1_000  # everyone low
    for i in range(40):
        if running.kind[i] == 2:
            tw.set_relay(i, False, T0)
    due = running.due(T0, T0 + 900)
    assert len(due) == 40
    again = running.due(T0 + 900, T0 + 1800)
    assert again == []  # nobody pays twice while the credit is on its way
    hooks = ScenarioHooks()
    for action in due:
        action.apply(tw, hooks)
    assert sum(p["relay_open"] for p in hooks.payments) == int((running.kind == 2).sum())
    assert all(tw.balance[:40] == 51_000)


def test_a_consumer_paying_what_was_owed_at_sight_is_short_after_the_next_days_fixed_charge() -> None:
    # Cut off owing Rs 299.90, seen at 17:00; Rs 300 paid eight hours later, after midnight's
    # fixed charge: still below zero, so the power stays off and that payment is not timed.
    tw = twin()
    tw.advance(T0 + 17 * H)
    tw.mirrors.balance[0] = -29_990
    tw.set_relay(0, False, T0 + 17 * H, for_credit=True)
    habits = PaymentHabits(
        begin=None,
        span=None,
        amounts=(30_000,),
        prompt=0.0,
        below=3_000,
        after_cut=1.0,
        delay=(8 * H, 8 * H),
        typed_after=None,
        seed=1,
    )
    hooks = ScenarioHooks()
    (pay,) = [a for a in habits.start(tw, hooks).due(T0 + 17 * H, T0 + 17 * H + 900) if tw.meter_ids[0] in a.what]
    for n in range(17 * 4, 25 * 4):  # the intervals up to 01:00, midnight's among them
        tw.close_interval(MONDAY + n * INTERVAL)
    pay.apply(tw, hooks)
    (paid,) = hooks.payments
    assert paid["relay_open"] and paid["paise"] == 30_000
    assert paid["balance_paise"] + paid["paise"] < 0
    assert not tw.relay[0]
    v = verdict(tw, Inbox(), hooks.payments)
    assert (v["recharges_short_of_debt"], v["power_back_max_s"]) == (1, None)
