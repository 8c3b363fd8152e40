"""When a prepaid consumer may be disconnected: friendly hours, Sundays, second Saturdays, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bijli.kernel.time import IST
from bijli.prepaid.policy import PrepaidPolicy, parse_holidays, uppcl

MONDAY = date(2026, 3, 2)
PLAIN = PrepaidPolicy()
"""The rules without a holiday calendar."""


def ist(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=IST)


@pytest.mark.parametrize(
    ("hour", "minute", "second", "friendly"),
    [
        (17, 59, 59, False),
        (18, 0, 0, True),
        (23, 59, 59, True),
        (0, 0, 0, True),
        (7, 59, 59, True),
        (8, 0, 0, False),
        (12, 0, 0, False),
    ],
    ids=["17:59:59", "18:00", "23:59:59", "midnight", "07:59:59", "08:00", "noon"],
)
def test_no_disconnection_from_18_00_until_08_00_ist(hour: int, minute: int, second: int, friendly: bool) -> None:
    assert PLAIN.friendly(ist(MONDAY, hour, minute, second)) is friendly


def test_friendly_hours_are_read_in_ist_whatever_the_moments_zone() -> None:
    assert PLAIN.friendly(datetime(2026, 3, 2, 12, 30, tzinfo=UTC))  # 18:00 IST
    assert not PLAIN.friendly(datetime(2026, 3, 2, 12, 29, 59, tzinfo=UTC))  # 17:59:59 IST
    assert PLAIN.friendly(datetime(2026, 3, 2, 2, 29, 59, tzinfo=UTC))  # 07:59:59 IST
    assert not PLAIN.friendly(datetime(2026, 3, 2, 2, 30, tzinfo=UTC))  # 08:00 IST


def test_sunday_is_friendly_all_day() -> None:
    sunday = date(2026, 3, 8)

    assert all(PLAIN.friendly(ist(sunday, hour)) for hour in range(24))
    assert not PLAIN.friendly(ist(sunday + timedelta(days=1), 8))


@pytest.mark.parametrize(
    ("saturday", "friendly"),
    [
        (date(2026, 3, 7), False),  # first Saturday
        (date(2026, 3, 14), True),  # second Saturday, the latest a second Saturday can be
        (date(2026, 3, 21), False),  # third
        (date(2026, 3, 28), False),  # fourth
        (date(2026, 8, 1), False),  # a month that starts on a Saturday: first
        (date(2026, 8, 8), True),  # ... and its second, the earliest a second Saturday can be
        (date(2026, 8, 15), False),  # ... and its third
    ],
)
def test_only_the_second_saturday_of_the_month_is_friendly(saturday: date, friendly: bool) -> None:
    assert saturday.weekday() == 5
    assert PLAIN.friendly(ist(saturday, 11)) is friendly


def test_a_holiday_is_friendly_all_day_only_where_the_policy_lists_it() -> None:
    holi = date(2026, 3, 4)
    policy = PrepaidPolicy(holidays=frozenset({holi}))

    assert all(policy.friendly(ist(holi, hour)) for hour in range(24))
    assert not PLAIN.friendly(ist(holi, 11))
    assert not policy.friendly(ist(holi + timedelta(days=1), 8))


NEGATIVE_SINCE = ist(MONDAY, 10)


def test_emergency_credit_lasts_exactly_three_days() -> None:
    three_days = NEGATIVE_SINCE + timedelta(days=3)  # Thursday 10:00 IST

    assert not PLAIN.may_disconnect(three_days - timedelta(seconds=1), -1, NEGATIVE_SINCE)
    assert PLAIN.may_disconnect(three_days, -1, NEGATIVE_SINCE)


def test_after_emergency_credit_friendly_hours_still_protect() -> None:
    evening = NEGATIVE_SINCE + timedelta(days=3, hours=8)  # Thursday 18:00 IST

    assert not PLAIN.may_disconnect(evening, -1, NEGATIVE_SINCE)
    assert PLAIN.may_disconnect(ist(date(2026, 3, 6), 8), -1, NEGATIVE_SINCE)


@pytest.mark.parametrize(
    ("balance", "negative_since"),
    [(0, NEGATIVE_SINCE), (5_000, NEGATIVE_SINCE), (-1, None)],
    ids=["zero", "positive", "never-negative"],
)
def test_a_balance_that_is_not_negative_is_never_cut(balance: int, negative_since: datetime | None) -> None:
    assert not PLAIN.may_disconnect(NEGATIVE_SINCE + timedelta(days=30), balance, negative_since)


def test_a_longer_emergency_credit_is_configuration() -> None:
    policy = PrepaidPolicy(emergency_credit=timedelta(days=5))

    assert not policy.may_disconnect(NEGATIVE_SINCE + timedelta(days=4), -1, NEGATIVE_SINCE)
    assert policy.may_disconnect(NEGATIVE_SINCE + timedelta(days=5), -1, NEGATIVE_SINCE)  # the first Saturday


def test_the_shipped_policy_file_holds_uppcls_rules() -> None:
    policy = uppcl()

    assert (policy.friendly_from_hour, policy.friendly_until_hour) == (18, 8)
    assert policy.alert_shares == (30, 10, 0)
    assert policy.emergency_credit == timedelta(days=3)
    assert (policy.min_warnings, policy.min_channels, policy.warning_lead) == (3, 2, timedelta(hours=24))
    assert policy.grace > timedelta(0)
    assert policy.reconnect_at_paise == 0
    assert policy.offline_cut_needs_permit


def test_the_up_holiday_calendar_covers_2026_and_2027_with_names_in_both_languages() -> None:
    policy = uppcl()
    years = {day.year for day in policy.holidays}

    assert years == {2026, 2027}
    assert all(sum(d.year == y for d in policy.holidays) >= 15 for y in years)
    diwali = policy.holiday(date(2026, 11, 8))
    assert diwali is not None and (diwali.en, diwali.hi) == ("Deepawali", "दीपावली")
    assert {date(2026, 1, 26), date(2026, 8, 15), date(2026, 10, 2), date(2027, 1, 26)} <= policy.holidays
    # A holiday is protected all day; the working day after it is not.
    assert all(policy.friendly(ist(date(2026, 10, 20), hour)) for hour in range(24))
    assert not policy.friendly(ist(date(2026, 10, 21), 11))


def test_protection_ends_at_the_first_morning_that_is_not_protected() -> None:
    policy = uppcl()
    saturday_evening = ist(date(2026, 11, 7), 19)  # Diwali is Sunday 8 Nov, Govardhan Puja Tuesday 10 Nov

    assert policy.protected_until(saturday_evening) == ist(date(2026, 11, 9), 8)
    assert policy.protected_until(ist(date(2026, 11, 9), 17, 59)) == ist(date(2026, 11, 9), 17, 59)
    assert policy.protected_until(ist(date(2026, 11, 9), 18)) == ist(date(2026, 11, 12), 8)
    # Second Saturday (12 Dec 2026) and Sunday: Friday evening waits for Monday 08:00.
    assert policy.protected_until(ist(date(2026, 12, 11), 18)) == ist(date(2026, 12, 14), 8)


def test_protection_starts_at_the_evening_of_a_working_day() -> None:
    policy = uppcl()

    assert policy.protection_starts(ist(MONDAY, 9)) == ist(MONDAY, 18)
    assert policy.protection_starts(ist(MONDAY, 19)) == ist(MONDAY, 19)


def test_a_holiday_calendar_with_a_date_listed_twice_is_refused() -> None:
    twice = '[[holiday]]\ndate = 2026-01-26\nen = "a"\nhi = "b"\n[[holiday]]\ndate = 2026-01-26\nen = "a"\nhi = "b"\n'
    with pytest.raises(ValueError, match="listed twice"):
        parse_holidays(twice)
