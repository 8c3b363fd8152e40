"""The role table and the lockout rules, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bijli.access.model import (
    ACTION_PERMISSION,
    ATTEMPT_WINDOW,
    ROLE_PERMISSIONS,
    Attempt,
    Identity,
    Kind,
    Permission,
    Role,
    locked_until,
    normal_mobile,
    roles_with,
)

T0 = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
READING = {
    Permission.READ_OWN,
    Permission.READ_FLEET,
    Permission.READ_REPORTS,
    Permission.READ_ACCOUNTS,
    Permission.READ_AUDIT,
    Permission.RECONCILIATION,  # reads the reconciliation items; resolving them is not a route
    Permission.VIEW_CASES,  # reads the cases; working them is work_cases and inspect_cases
}


def test_the_auditor_reads_everything_and_changes_nothing() -> None:
    assert ROLE_PERMISSIONS[Role.AUDITOR] <= READING
    assert Permission.READ_AUDIT in ROLE_PERMISSIONS[Role.AUDITOR]


def test_a_consumer_reads_only_their_own() -> None:
    assert ROLE_PERMISSIONS[Role.CONSUMER] == {Permission.READ_OWN}
    me = Identity(kind=Kind.CONSUMER, name="+919800000001", role=Role.CONSUMER, meter_ids=frozenset({"KNCL0000001"}))
    assert me.may_see("KNCL0000001") and not me.may_see("KNCL0000002")


def test_every_action_has_its_own_permission_and_only_admins_hold_them_all() -> None:
    assert set(ACTION_PERMISSION) >= {"relay_disconnect", "relay_connect", "credit", "tariff"}
    assert len({ACTION_PERMISSION[a] for a in ("relay_disconnect", "relay_connect", "credit", "tariff")}) == 4
    assert roles_with(Permission.DECOMMISSION) == [Role.FIELD_ENGINEER, Role.ADMIN]
    assert roles_with(Permission.CREDIT) == [Role.BILLING, Role.ADMIN]
    assert [r for r in Role if ROLE_PERMISSIONS[r] == set(Permission)] == [Role.ADMIN]


def failures(n: int, start: datetime = T0) -> list[Attempt]:
    return [Attempt(at=start + timedelta(seconds=i), ok=False) for i in range(n)]


def test_five_failures_in_the_window_lock_until_the_fifth_last_leaves_it() -> None:
    assert locked_until(failures(4), T0 + timedelta(minutes=1)) is None
    assert locked_until(failures(5), T0 + timedelta(minutes=1)) == T0 + ATTEMPT_WINDOW
    assert locked_until(failures(5), T0 + ATTEMPT_WINDOW + timedelta(seconds=1)) is None


def test_a_success_clears_the_failures_before_it() -> None:
    attempts = [*failures(4), Attempt(at=T0 + timedelta(seconds=10), ok=True), *failures(4, T0 + timedelta(seconds=20))]
    assert locked_until(attempts, T0 + timedelta(minutes=1)) is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("9800000001", "+919800000001"),
        ("98000 00001", "+919800000001"),
        ("+91 98000 00001", "+919800000001"),
        ("09800000001", "+919800000001"),
        ("919800000001", "+919800000001"),
        ("5800000001", None),
        ("98000", None),
        ("98000000O1", None),
        ("", None),
    ],
)
def test_mobile_numbers_as_people_type_them(typed: str, stored: str | None) -> None:
    assert normal_mobile(typed) == stored
