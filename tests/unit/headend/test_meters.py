"""A meter's lifecycle as rules: which status changes exist, what an audit entry needs, and
when a meter was in service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bijli.kernel.time import INTERVAL
from bijli.mdm.meters import (
    TRANSITIONS,
    MeterStatus,
    RefusedChange,
    StatusChange,
    check_audit,
    check_change,
    in_service_throughout,
    out_of_service,
)

METER = "KNCL0000001"
T0 = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
IN, OUT = MeterStatus.COMMISSIONED, MeterStatus.DECOMMISSIONED


def change(at: datetime, from_status: str, to_status: str) -> StatusChange:
    return StatusChange(
        meter_id=METER, at=at, from_status=from_status, to_status=to_status, changed_by="op", reason="test"
    )


def test_a_commissioned_meter_can_be_decommissioned_and_back() -> None:
    assert check_change(METER, "commissioned", "decommissioned") == OUT
    assert check_change(METER, "decommissioned", "commissioned") == IN


def test_every_status_has_a_way_out() -> None:
    assert set(TRANSITIONS) == set(MeterStatus)
    assert all(TRANSITIONS[s] for s in MeterStatus)


@pytest.mark.parametrize(
    ("current", "to", "message"),
    [
        ("decommissioned", "decommissioned", "meter KNCL0000001 is already decommissioned"),
        ("commissioned", "commissioned", "meter KNCL0000001 is already commissioned"),
        ("commissioned", "retired", "'retired' is not a meter status; one of commissioned, decommissioned"),
        ("installed", "commissioned", "meter KNCL0000001 is 'installed', a status bijli does not change"),
        ("installed", "decommissioned", "meter KNCL0000001 is 'installed', a status bijli does not change"),
    ],
)
def test_a_change_the_lifecycle_does_not_have_is_refused_with_the_reason(current: str, to: str, message: str) -> None:
    with pytest.raises(RefusedChange) as refused:
        check_change(METER, current, to)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    ("by", "reason", "message"),
    [
        ("", "meter removed", "must be named"),
        ("   ", "meter removed", "must be named"),
        ("x" * 65, "meter removed", "1 to 64 characters"),
        ("operator.verma", "", "needs a reason"),
        ("operator.verma", " \t", "needs a reason"),
        ("operator.verma", "y" * 257, "1 to 256 characters"),
    ],
)
def test_a_change_without_who_or_why_is_refused(by: str, reason: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_audit(by, reason)


def test_who_and_why_within_the_audits_limits_are_taken() -> None:
    check_audit("x" * 64, "y" * 256)


def test_a_meter_that_never_changed_is_in_service_as_long_as_it_is_now() -> None:
    assert in_service_throughout([], "commissioned", T0, T0 + INTERVAL)
    assert not in_service_throughout([], "decommissioned", T0, T0 + INTERVAL)


def test_service_follows_the_history_of_changes() -> None:
    out_at, back_at = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    changes = [change(out_at, IN, OUT), change(back_at, OUT, IN)]

    def served(start: datetime, end: datetime) -> bool:
        return in_service_throughout(changes, "commissioned", start, end)

    assert served(T0, out_at)  # up to the moment it was taken out
    assert not served(T0, out_at + timedelta(seconds=1))
    assert not served(out_at, back_at)
    assert served(back_at, back_at + INTERVAL)  # from the moment it was put back
    assert not served(back_at - timedelta(seconds=1), back_at + INTERVAL)
    assert not served(T0, T0 + timedelta(days=1))  # a day with a break in it


def test_intervals_out_of_service_are_those_not_served_whole() -> None:
    out_at = T0 + 2 * INTERVAL + timedelta(minutes=5)  # during the third interval
    back_at = T0 + 5 * INTERVAL  # on the sixth interval's start
    changes = [change(out_at, IN, OUT), change(back_at, OUT, IN)]

    idle = out_of_service(changes, "commissioned", T0, T0 + 7 * INTERVAL)

    assert idle == [T0 + n * INTERVAL for n in (2, 3, 4)]
