"""How far charges may lower a balance before the supply service needs to decide again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bijli.prepaid.policy import uppcl
from bijli.supply.model import AccountFacts, SupplyState, decide, headroom

POLICY = uppcl()
NOW = datetime(2026, 11, 4, 6, 0, tzinfo=UTC)  # a Wednesday, 11:30 IST


def facts(balance: int, recharge: int | None) -> AccountFacts:
    return AccountFacts(
        account_no="ACC-1",
        meter_id="KNCL0000001",
        balance_paise=balance,
        opened_at=NOW - timedelta(days=400),
        last_recharge_paise=recharge,
        last_recharge_ref=None if recharge is None else "payment:p1",
        last_recharge_at=None if recharge is None else NOW - timedelta(days=2),
        relay=1,
    )


@pytest.mark.parametrize(
    ("balance", "recharge", "alerted", "room"),
    [
        (50_000, 10_000, None, 47_000),  # down to 30 % of ₹100: ₹30
        (2_500, 10_000, 30, 1_500),  # 30 % alerted: down to 10 %
        (800, 10_000, 10, 800),  # 10 % alerted: down to zero (the 0 % level)
        (0, 10_000, 0, 1),  # at zero, alerted: the first paisa below starts the spell
        (50_000, None, None, 50_000),  # an opening balance only: the 0 % level
        (-5, 10_000, 0, None),  # below zero: no charge changes what supply does
    ],
)
def test_the_headroom_reaches_the_next_level_not_yet_alerted(
    balance: int, recharge: int | None, alerted: int | None, room: int | None
) -> None:
    state = SupplyState(account_no="ACC-1", recharge_ref="payment:p1", level_alerted=alerted)
    assert headroom(balance, state, recharge, POLICY) == room


@given(
    balance=st.integers(min_value=0, max_value=500_000),
    recharge=st.one_of(st.none(), st.integers(min_value=100, max_value=200_000)),
    spent=st.integers(min_value=1, max_value=500_000),
)
def test_charges_within_the_headroom_leave_the_decision_as_it_was(
    balance: int, recharge: int | None, spent: int
) -> None:
    """Decided at a balance, then again after charges: nothing new to do while they stay
    within the headroom the first decision left; past it, something new."""
    first = decide(facts(balance, recharge), SupplyState(account_no="ACC-1"), POLICY, NOW)
    room = first.state.headroom_paise
    assert room is not None and room > 0
    later = NOW + timedelta(minutes=15)
    again = decide(facts(balance - spent, recharge), first.state, POLICY, later)
    if spent < room:
        assert (again.alerts, again.orders) == ((), ())
        assert again.state.level_alerted == first.state.level_alerted
        assert again.state.negative_since is None
    else:
        assert again.alerts != () or again.state.negative_since is not None
