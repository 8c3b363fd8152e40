"""A case's workflow as a transition table, and the rules that open cases from events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bijli.access.model import CASE_STEP_PERMISSION, ROLE_PERMISSIONS, Role
from bijli.vigilance.cases import (
    STEPS,
    TRANSITIONS,
    Case,
    InvalidOpening,
    Severity,
    Status,
    Step,
    StepRefused,
    StepRequest,
    SubjectLevel,
    case_id_for,
    take_step,
)
from bijli.vigilance.ports import MeterPlace, StoredEvent
from bijli.vigilance.rules import InvalidRules, openings, parse_rules, shipped_rules
from tests.support.cases import hooking

AT = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
PLACE = MeterPlace(meter_id="KNCL0000001", area="Civil Lines", feeder="F1", transformer="T1", account_no="A1")


def a_case(status: Status, assignee: str | None = None) -> Case:
    return Case(
        case_id="C-000000000001",
        key="k",
        kind="magnet",
        severity=Severity.HIGH,
        status=status,
        subject_level=SubjectLevel.METER,
        subject_id=PLACE.meter_id,
        area=PLACE.area,
        account_no="A1",
        opened_at=AT,
        updated_at=AT,
        assignee=assignee,
        reason_code="magnet",
        reason_en="",
        reason_hi="",
        evidence={},
    )


def step(s: Step, assignee: str | None = None, reason: str = "seen on site") -> StepRequest:
    return StepRequest(step=s, actor="op", reason=reason, assignee=assignee)


def test_a_case_goes_from_new_to_closed_through_every_step() -> None:
    case = a_case(Status.NEW)
    for s, assignee, expected in (
        (Step.ASSIGN, "fe-ravi", Status.ASSIGNED),
        (Step.INSPECT, None, Status.INSPECTED),
        (Step.CONFIRM, None, Status.CONFIRMED_THEFT),
        (Step.CLOSE, None, Status.CLOSED),
        (Step.REOPEN, None, Status.NEW),
    ):
        moved = take_step(case, step(s, assignee))
        assert moved.to_status is expected
        case = replace(case, status=moved.to_status, assignee=moved.assignee)
    assert case.assignee is None  # reopened: to be assigned again


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("s", STEPS)
def test_a_step_is_taken_only_from_the_statuses_the_table_names(status: Status, s: Step) -> None:
    allowed, to = TRANSITIONS[s]
    request = step(s, "fe-ravi" if s is Step.ASSIGN else None)
    if status in allowed:
        assert take_step(a_case(status), request).to_status is to
    else:
        with pytest.raises(StepRefused, match=status.value):
            take_step(a_case(status), request)


def test_a_step_needs_a_reason_and_assign_needs_an_assignee() -> None:
    with pytest.raises(StepRefused, match="reason"):
        take_step(a_case(Status.ASSIGNED), step(Step.INSPECT, reason="  "))
    with pytest.raises(StepRefused, match="assignee"):
        take_step(a_case(Status.NEW), step(Step.ASSIGN))
    with pytest.raises(StepRefused, match="no assignee"):
        take_step(a_case(Status.ASSIGNED), step(Step.INSPECT, "someone"))


def test_every_step_needs_a_permission_and_field_engineers_inspect_while_operators_decide() -> None:
    assert set(CASE_STEP_PERMISSION) == {s.value for s in STEPS}
    may = {r: {s for s, p in CASE_STEP_PERMISSION.items() if p in ROLE_PERMISSIONS[r]} for r in Role}
    assert may[Role.FIELD_ENGINEER] == {"inspect"}
    assert may[Role.OPERATOR] == {"assign", "confirm", "false_alarm", "close", "reopen"}
    assert may[Role.CONSUMER] == may[Role.AUDITOR] == set()


def test_a_case_id_is_derived_from_its_key() -> None:
    assert case_id_for("magnet:M1:1") == case_id_for("magnet:M1:1") != case_id_for("magnet:M1:2")
    assert len(case_id_for("x")) == 14


def test_an_opening_without_a_key_is_refused() -> None:
    o = hooking("T1", "Civil Lines", AT, key="")
    with pytest.raises(InvalidOpening):
        o.check()


def ev(i: int, code: int, minutes: float, meter: str = PLACE.meter_id) -> StoredEvent:
    at = AT + timedelta(minutes=minutes)
    return StoredEvent(event_id=i, meter_id=meter, code=code, occurred_at=at, received_at=at)


def test_every_tamper_code_the_meters_send_opens_a_case_and_power_failure_none() -> None:
    rules = shipped_rules()
    for code in (201, 251, 207, 203, 51, 65, 69, 209):
        found = openings(rules, [ev(1, code, 0)], [ev(1, code, 0)], {PLACE.meter_id: PLACE}, AT)
        assert len(found) == 1, code
        assert found[0].notify_consumer or found[0].kind == "neutral_disturbance"
    assert openings(rules, [ev(1, 101, 0)], [ev(1, 101, 0)], {PLACE.meter_id: PLACE}, AT) == []


def test_repeats_while_an_incident_is_open_are_one_case_and_a_new_one_after_restoration_another() -> None:
    rules = shipped_rules()
    history = [ev(1, 201, 0), ev(2, 201, 5), ev(3, 202, 9), ev(4, 201, 30)]
    keys = [
        openings(rules, [e], history, {PLACE.meter_id: PLACE}, AT)[0].key for e in (history[0], history[1], history[3])
    ]
    assert keys[0] == keys[1] != keys[2]


def test_an_unknown_meter_opens_nothing() -> None:
    assert openings(shipped_rules(), [ev(1, 201, 0, "X")], [ev(1, 201, 0, "X")], {}, AT) == []


PATTERN = """
[[rule]]
name = "repeated_magnet"
codes = [201]
at_least = 3
within_hours = 24
case_kind = "repeated_tamper"
severity = "high"
notify = ["field_staff"]
reason_en = "a magnet three times in a day"
reason_hi = "एक दिन में तीन बार चुंबक"
"""


def test_a_pattern_rule_opens_its_case_at_the_nth_incident_within_its_window() -> None:
    rules = parse_rules(PATTERN)
    history = [ev(1, 201, 0), ev(2, 202, 1), ev(3, 201, 60), ev(4, 202, 61), ev(5, 201, 120)]
    places = {PLACE.meter_id: PLACE}
    assert openings(rules, history[:3], history[:3], places, AT) == []
    found = openings(rules, [history[4]], history, places, AT)
    assert [o.kind for o in found] == ["repeated_tamper"]
    assert not found[0].notify_consumer
    assert len(found[0].evidence["events"]) == 5
    spread = [ev(1, 201, 0), ev(2, 202, 1), ev(3, 201, 60 * 20), ev(4, 202, 60 * 20 + 1), ev(5, 201, 60 * 30)]
    assert openings(rules, [spread[4]], spread, places, AT) == []


@pytest.mark.parametrize(
    "text",
    [
        '[[rule]]\nname="x"\ncodes=[202]\ncase_kind="k"\nseverity="high"\nreason_en=""\nreason_hi=""',
        '[[rule]]\nname="x"\ncodes=[201]\ncase_kind="k"\nseverity="dire"\nreason_en=""\nreason_hi=""',
        '[[rule]]\nname="x"\ncodes=[201]\ncase_kind="k"\nseverity="low"\nnotify=["police"]\nreason_en=""\nreason_hi=""',
        '[[rule]]\nname="x"\ncodes=[201]\ncase_kind="k"\nseverity="low"\nat_least=2\nreason_en=""\nreason_hi=""',
        '[[rule]]\nname="x"\ncodes=[201]\nseverity="low"\nreason_en=""\nreason_hi=""',
    ],
)
def test_a_rules_file_that_does_not_say_what_a_rule_needs_is_refused(text: str) -> None:
    with pytest.raises(InvalidRules):
        parse_rules(text)
