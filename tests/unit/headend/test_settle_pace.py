"""When a head-end settles what it stored: bursts first, settlement right after."""

from __future__ import annotations

from bijli.headend.service import SettlePace

PACE = SettlePace(quiet_s=0.25, within_s=30.0, share_under_load=0.1)


def test_a_quiet_uplink_settles_at_once() -> None:
    assert PACE.may_settle(now=100.0, idle_s=0.3, waiting_since=99.9, not_before=200.0)


def test_under_a_flood_settlement_waits_until_work_has_waited_its_time() -> None:
    assert not PACE.may_settle(now=100.0, idle_s=0.01, waiting_since=80.0, not_before=0.0)
    assert PACE.may_settle(now=100.0, idle_s=0.01, waiting_since=70.0, not_before=0.0)


def test_under_a_flood_settlement_takes_a_tenth_of_the_time() -> None:
    rest = PACE.rest_after(took_s=0.2)
    assert rest == 0.2 * 9
    assert not PACE.may_settle(now=100.0, idle_s=0.01, waiting_since=0.0, not_before=100.0 + rest)
    assert PACE.may_settle(now=100.0 + rest, idle_s=0.01, waiting_since=0.0, not_before=100.0 + rest)
