"""An independent reckoning of what each account should have been charged.

Written from the tariff's published figures, not from bijli's tariff code: a month's energy
charge is its whole consumption priced slab by slab and rounded once, duty is 5% of that, and
the fixed charge is Rs 110 per kW per month spread evenly over the month's days.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

IST = timezone(timedelta(hours=5, minutes=30))
# UPERC tariff order FY 2019-20, LMV-1(b) domestic urban, metered.
SLABS = ((150_000, Decimal("5.50")), (300_000, Decimal("6.00")), (500_000, Decimal("6.50")), (None, Decimal("7.00")))
FIXED_PER_KW_MONTH = Decimal(110)
DUTY = Decimal("0.05")


CHARGE_KINDS = ("day_charge", "day_correction", "running", "energy_charge", "fixed_charge", "electricity_duty")


def paise(rupees: Decimal) -> int:
    return int((rupees * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def energy_cost(wh: int) -> Decimal:
    cost, floor = Decimal(0), 0
    for top, rate in SLABS:
        upto = wh if top is None else min(wh, top)
        if upto > floor:
            cost += rate * Decimal(upto - floor) / 1000
        if top is None or wh <= top:
            break
        floor = top
    return cost


def fixed_through(kw: Decimal, day: int, days: int) -> Decimal:
    return FIXED_PER_KW_MONTH * kw * day / days


def expected_charges(engine: sa.Engine) -> dict[str, int]:
    """Paise each account should have been charged for the readings the store holds."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.account_no, a.sanctioned_load_w, r.interval_start, r.import_wh "
                "FROM readings r JOIN accounts a ON a.meter_id = r.meter_id"
            )
        ).all()
    month_wh: dict[tuple[str, str], int] = defaultdict(int)
    days: dict[tuple[str, str], set[int]] = defaultdict(set)
    load: dict[str, int] = {}
    for account, load_w, start, wh in rows:
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        local = start.astimezone(IST)
        key = (account, f"{local.year}-{local.month:02d}")
        month_wh[key] += wh
        days[key].add(local.day)
        load[account] = load_w
    owed: dict[str, int] = defaultdict(int)
    for (account, month), wh in month_wh.items():
        cost = energy_cost(wh)
        owed[account] += paise(cost) + paise(cost * DUTY)
        year, mon = map(int, month.split("-"))
        n = calendar.monthrange(year, mon)[1]
        kw = Decimal(load[account]) / 1000
        first, last = min(days[(account, month)]), max(days[(account, month)])
        fixed_hi, fixed_lo = fixed_through(kw, last, n), fixed_through(kw, first - 1, n)
        owed[account] += paise(fixed_hi) - paise(fixed_lo)
        owed[account] += paise(fixed_hi * DUTY) - paise(fixed_lo * DUTY)
    return dict(owed)


def ledger_by_kind(engine: sa.Engine) -> dict[str, dict[str, int]]:
    """Per account, the sum of ledger entries by kind, and (as "running") the charges of days
    not on the ledger yet."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for account, kind, total in conn.execute(
            sa.text("SELECT account_no, kind, SUM(amount_paise) FROM ledger GROUP BY account_no, kind")
        ):
            out[account][kind] = int(total)
        for account, running in conn.execute(
            sa.text("SELECT account_no, SUM(posted_paise - charge_paise) FROM day_charges GROUP BY account_no")
        ):
            out[account]["running"] = int(running)
    return dict(out)


def check_accounts(engine: sa.Engine) -> int:
    """Assert every account's charges and balance to the paisa; returns how many were checked."""
    owed = expected_charges(engine)
    ledger = ledger_by_kind(engine)
    assert set(owed) <= set(ledger)
    for account, kinds in ledger.items():
        charged = -sum(v for k, v in kinds.items() if k in CHARGE_KINDS)
        assert charged == owed.get(account, 0), f"{account}: charged {charged} paise, owed {owed.get(account, 0)}"
        balance = sum(kinds.values())
        assert balance == kinds.get("opening", 0) + kinds.get("recharge", 0) - charged
    return len(ledger)
