"""Commands as rules: the lifecycle, each action's arguments and confirmation, retries, limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest

from bijli.headend.commands import (
    ACTIONS,
    DEFAULT_POLICY,
    OPEN,
    REPLAYED,
    TRANSITIONS,
    Candidate,
    DispatchPolicy,
    Evidence,
    IllegalTransition,
    InFlight,
    Status,
    Step,
    answer,
    backoff,
    check_args,
    check_move,
    command_frame,
    decommissioned_step,
    expiry_step,
    observed,
    resend_due,
    settled,
    tariff_args,
    within_rate_limits,
)
from bijli.kernel.time import epoch, ist_midnight
from bijli.meter.credit import MirrorTariff
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol.frames import COMMAND_ACTIONS

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
LMV1 = builtin_tariffs()["UP-LMV1-DU"]
MIDNIGHT = epoch(ist_midnight(date(2026, 12, 1)))
TARIFF = {"from": MIDNIGHT, "duty": 500, "fixed": 1_100_000, "r1": 55_000, "r2": 60_000, "s1": 100_000}
S = Status


# ---------------------------------------------------------------------- lifecycle


def test_every_protocol_action_has_rules() -> None:
    assert sorted(ACTIONS) == sorted(COMMAND_ACTIONS)


def test_the_lifecycle_goes_queued_sent_acknowledged_confirmed() -> None:
    path = [S.QUEUED, S.SENT, S.ACKNOWLEDGED, S.CONFIRMED]
    for here, there in pairwise(path):
        check_move(here, there)
    assert TRANSITIONS[S.CONFIRMED] == frozenset()


@pytest.mark.parametrize(
    ("here", "there"),
    [(S.QUEUED, S.ACKNOWLEDGED), (S.QUEUED, S.CONFIRMED), (S.CONFIRMED, S.FAILED), (S.ACKNOWLEDGED, S.SENT)],
)
def test_a_command_cannot_skip_being_sent_or_leave_confirmed(here: Status, there: Status) -> None:
    with pytest.raises(IllegalTransition):
        check_move(here, there)


def test_a_late_answer_can_still_revive_a_failed_or_expired_command() -> None:
    for given_up in (S.FAILED, S.EXPIRED):
        check_move(given_up, S.ACKNOWLEDGED)
        check_move(given_up, S.CONFIRMED)
        with pytest.raises(IllegalTransition):
            check_move(given_up, S.SENT)


def test_an_effect_seen_without_an_ack_confirms_a_sent_command() -> None:
    check_move(S.SENT, S.CONFIRMED)


def test_decommissioning_its_meter_fails_a_command_wherever_it_is_still_open() -> None:
    step = decommissioned_step("meter burnt, replaced by KNCL0009999")
    assert step == Step(S.FAILED, "meter decommissioned: meter burnt, replaced by KNCL0009999")
    for here in OPEN:
        check_move(here, step.status)


@pytest.mark.parametrize(
    ("action", "status", "final"),
    [
        ("relay_disconnect", S.ACKNOWLEDGED, False),
        ("read_profile", S.ACKNOWLEDGED, False),
        ("read_now", S.ACKNOWLEDGED, True),
        ("hotspot_settings", S.ACKNOWLEDGED, True),
        ("relay_connect", S.SENT, False),
        ("credit", S.CONFIRMED, True),
        ("time_sync", S.EXPIRED, True),
    ],
)
def test_acknowledged_is_final_only_where_nothing_could_confirm_more(action: str, status: Status, final: bool) -> None:
    assert settled(action, status) is final


def test_open_statuses_are_the_ones_the_dispatcher_works_on() -> None:
    assert {S.QUEUED, S.SENT, S.ACKNOWLEDGED} == OPEN


# ---------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("relay_disconnect", {}),
        ("relay_connect", {}),
        ("time_sync", {}),
        ("read_now", {}),
        ("credit", {"amount_paise": 50_000}),
        ("hotspot_settings", {"window_s": 600}),
        ("read_profile", {"from": epoch(NOW) - 86_400, "to": epoch(NOW)}),
        ("tariff", tariff_args(LMV1.on(date(2026, 11, 2)))),
        ("tariff", {"from": MIDNIGHT, "duty": 500, "fixed": 1_100_000, "r1": 55_000}),
    ],
)
def test_good_arguments_pass(action: str, args: dict[str, int]) -> None:
    assert check_args(action, args, NOW) is None


@pytest.mark.parametrize(
    ("action", "args", "message"),
    [
        ("self_destruct", {}, "unknown action 'self_destruct'"),
        ("relay_connect", {"delay_s": 5}, "relay_connect takes no 'delay_s' (expected: no args)"),
        ("relay_disconnect", {"for_credit": 2}, "for_credit must be between 0 and 1"),
        ("time_sync", {"t": 1}, "the head-end sets it when it sends"),
        ("credit", {}, "credit needs 'amount_paise'"),
        ("credit", {"amount_paise": 0}, "amount_paise must be between 1 and"),
        ("credit", {"amount_paise": True}, "amount_paise must be a whole number"),
        ("hotspot_settings", {"window_s": 30}, "window_s must be between 60 and 3600"),
        ("read_profile", {"from": 900}, "read_profile needs 'to'"),
        ("read_profile", {"from": 1000, "to": 1800}, "on 15-minute boundaries"),
        ("read_profile", {"from": 1800, "to": 900}, "to must be later than from"),
        ("read_profile", {"from": 0, "to": 32 * 86_400}, "at most 31 days"),
        ("read_profile", {"from": epoch(NOW), "to": epoch(NOW) + 900}, "must not be in the future"),
        ("tariff", {"from": MIDNIGHT, "duty": 500, "fixed": 1}, "tariff needs 'r1'"),
        ("tariff", {**TARIFF, "from": MIDNIGHT + 3600}, "midnight in IST"),
        ("tariff", {**TARIFF, "r4": 60_000}, "without a gap"),
        ("tariff", {**TARIFF, "s2": 300_000}, "every slab but the last needs its end"),
        ("tariff", {**TARIFF, "r3": 60_000, "r2": 58_000, "s2": 90_000}, "slab ends must rise"),
        ("tariff", {**TARIFF, "s6": 1}, "tariff takes no 's6'"),
        ("tariff", {**TARIFF, "duty": 10_001}, "duty must be between 0 and 10000"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(action: str, args: dict[str, int], message: str) -> None:
    problem = check_args(action, args, NOW)
    assert problem is not None and message in problem


def test_time_sync_carries_the_clock_at_the_moment_of_each_send() -> None:
    first = command_frame(command_id="c1", meter_id="KNCL0000001", action="time_sync", args={}, counter=1, now=NOW)
    later = NOW + timedelta(hours=3)
    again = command_frame(command_id="c1", meter_id="KNCL0000001", action="time_sync", args={}, counter=2, now=later)
    assert (first.args, again.args) == ({"t": epoch(NOW)}, {"t": epoch(later)})
    assert (first.fc, again.fc, again.command_id) == (1, 2, "c1")


# ---------------------------------------------------------------------- retries


def test_the_wait_for_an_answer_doubles_up_to_a_ceiling() -> None:
    waits = [backoff(n, DEFAULT_POLICY).total_seconds() for n in range(1, 8)]
    assert waits == [60, 120, 240, 480, 900, 900, 900]


def in_flight(attempts: int, sent_ago_s: float, seen_ago_s: float | None) -> InFlight:
    seen = None if seen_ago_s is None else NOW - timedelta(seconds=seen_ago_s)
    return InFlight(attempts=attempts, last_sent_at=NOW - timedelta(seconds=sent_ago_s), last_seen=seen)


def test_an_unanswered_command_is_sent_again_after_the_timeout_if_the_meter_talked_since() -> None:
    assert not resend_due(in_flight(1, 59, 10), NOW, DEFAULT_POLICY)
    assert resend_due(in_flight(1, 61, 10), NOW, DEFAULT_POLICY)
    assert not resend_due(in_flight(2, 100, 10), NOW, DEFAULT_POLICY)  # second wait is 120 s
    assert resend_due(in_flight(2, 121, 10), NOW, DEFAULT_POLICY)


def test_a_meter_silent_since_the_last_send_is_not_sent_to_again() -> None:
    assert not resend_due(in_flight(1, 600, 700), NOW, DEFAULT_POLICY)
    assert not resend_due(in_flight(1, 600, None), NOW, DEFAULT_POLICY)


# ---------------------------------------------------------------------- rate limits


def candidates(action: str, n: int, transformer: str, area: str, first: int = 0) -> list[Candidate]:
    return [
        Candidate(
            command_id=f"c{first + k}", meter_id=f"M{first + k}", action=action, transformer=transformer, area=area
        )
        for k in range(n)
    ]


def test_mass_reconnects_are_limited_per_transformer() -> None:
    policy = DispatchPolicy(relay_connects_per_transformer=10, relay_connects_per_area=200)
    batch = candidates("relay_connect", 15, "DT1", "Civil Lines") + candidates(
        "relay_connect", 3, "DT2", "Civil Lines", 15
    )
    send, hold = within_rate_limits(batch, {("relay_connect", "DT1"): 4}, {}, policy)
    assert [c.command_id for c in send] == [f"c{k}" for k in range(6)] + ["c15", "c16", "c17"]
    assert len(hold) == 9


def test_mass_reconnects_are_limited_per_area() -> None:
    policy = DispatchPolicy(relay_connects_per_transformer=10, relay_connects_per_area=12)
    batch = candidates("relay_connect", 10, "DT1", "Mall Road") + candidates(
        "relay_connect", 10, "DT2", "Mall Road", 10
    )
    send, hold = within_rate_limits(batch, {}, {}, policy)
    assert len(send) == 12 and len(hold) == 8


def test_reads_are_not_rate_limited() -> None:
    policy = DispatchPolicy(relay_connects_per_transformer=1, relay_connects_per_area=1)
    batch = candidates("read_now", 5, "DT1", "Mall Road", 50)
    send, hold = within_rate_limits(batch, {("read_now", "DT1"): 99}, {("read_now", "Mall Road"): 99}, policy)
    assert (len(send), hold) == (5, [])


def test_mass_disconnects_are_limited_like_reconnects_on_a_budget_of_their_own() -> None:
    policy = DispatchPolicy(relay_disconnects_per_transformer=10, relay_disconnects_per_area=12)
    batch = (
        candidates("relay_disconnect", 15, "DT1", "Mall Road")
        + candidates("relay_disconnect", 5, "DT2", "Mall Road", 15)
        + candidates("relay_connect", 3, "DT1", "Mall Road", 20)
    )
    send, hold = within_rate_limits(batch, {("relay_disconnect", "DT1"): 2}, {}, policy)
    sent = [c.command_id for c in send]
    # DT1 has 8 disconnects left in the window; the area 12 in all; reconnects are not held back.
    assert sent == [f"c{k}" for k in range(8)] + ["c15", "c16", "c17", "c18", "c20", "c21", "c22"]
    assert len(hold) == 7 + 1


# ---------------------------------------------------------------------- answers


def test_done_acknowledges_a_sent_command() -> None:
    assert answer("relay_disconnect", S.SENT, 1, "done", "") == [Step(S.ACKNOWLEDGED, "meter answered done")]


def test_done_confirms_a_credit_at_once() -> None:
    steps = answer("credit", S.SENT, 1, "done", "")
    assert [s.status for s in steps] == [S.ACKNOWLEDGED, S.CONFIRMED]


def test_a_refusal_fails_the_command_and_keeps_the_meters_reason() -> None:
    (step,) = answer("hotspot_settings", S.SENT, 1, "refused", "cannot hotspot_settings with ['window_s']")
    assert step == Step(S.FAILED, "refused by the meter: cannot hotspot_settings with ['window_s']")


def test_a_late_older_attempt_refused_as_replayed_does_not_fail_the_command() -> None:
    (step,) = answer("credit", S.SENT, 2, "refused", REPLAYED)
    assert step.status == S.SENT


def test_answers_that_change_nothing() -> None:
    assert answer("relay_connect", S.QUEUED, 0, "done", "") == []  # never sent
    assert answer("relay_connect", S.CONFIRMED, 1, "done", "already done") == []  # a resend answered again
    assert answer("relay_connect", S.ACKNOWLEDGED, 2, "refused", REPLAYED) == []  # an old attempt, late


def test_a_late_done_after_expiry_is_recorded_as_late() -> None:
    (step,) = answer("relay_disconnect", S.EXPIRED, 3, "done", "")
    assert step == Step(S.ACKNOWLEDGED, "late: meter answered done")


# ---------------------------------------------------------------------- effects


def test_a_disconnect_is_confirmed_by_event_301_even_before_its_ack() -> None:
    assert observed("relay_disconnect", Evidence(acknowledged=False, events=frozenset({301}))) is not None
    assert observed("relay_disconnect", Evidence(acknowledged=True, events=frozenset({302}))) is None


def test_a_reported_relay_state_confirms_only_an_acknowledged_relay_command() -> None:
    assert observed("relay_connect", Evidence(acknowledged=True, relay=1)) == "meter reports its relay closed"
    assert observed("relay_connect", Evidence(acknowledged=False, relay=1)) is None
    assert observed("relay_disconnect", Evidence(acknowledged=True, relay=1)) is None


def test_time_sync_is_confirmed_by_the_clock_set_event() -> None:
    assert observed("time_sync", Evidence(acknowledged=True, events=frozenset({151}))) is not None
    assert observed("time_sync", Evidence(acknowledged=True)) is None


def test_a_profile_read_is_confirmed_when_no_interval_of_the_range_is_missing() -> None:
    assert observed("read_profile", Evidence(acknowledged=True, missing_intervals=0)) is not None
    assert observed("read_profile", Evidence(acknowledged=True, missing_intervals=3)) is None


def test_expiry_expires_open_commands_and_fails_unconfirmed_acknowledged_ones() -> None:
    assert expiry_step("relay_disconnect", S.QUEUED, 0).status == S.EXPIRED
    assert expiry_step("relay_disconnect", S.SENT, 2).status == S.EXPIRED
    assert expiry_step("relay_disconnect", S.ACKNOWLEDGED, 1).status == S.FAILED


def test_a_tariff_push_carries_the_published_rates_exactly() -> None:
    version = LMV1.on(date(2026, 11, 2))
    args = tariff_args(version)
    assert args["from"] == epoch(ist_midnight(version.effective_from))
    assert args["duty"] == 500  # 5%
    month_wh = np.array([0, 99_000, 100_000, 180_000, 350_000, 1_000_000], dtype=np.int64)
    wh = np.array([250, 2_000, 1, 777, 10_000, 3], dtype=np.int64)
    loaded, published = MirrorTariff.pushed(args), MirrorTariff(version)
    assert (loaded.interval_charge(month_wh, wh) == published.interval_charge(month_wh, wh)).all()
    loads = np.array([1_000, 2_000, 5_000], dtype=np.int64)
    assert (loaded.fixed_charge(loads, date(2026, 11, 2)) == published.fixed_charge(loads, date(2026, 11, 2))).all()
