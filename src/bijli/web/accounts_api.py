"""API v1: an account's monthly statements, and its ledger with every charge traced to its intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field

from bijli.kernel.time import ist_day
from bijli.kernel.units import format_rupees
from bijli.prepaid import handlers as prepaid
from bijli.prepaid.model import EntryKind
from bijli.prepaid.statement import IntervalCharge as StatementInterval
from bijli.prepaid.statement import Posted, Statement, intervals_behind, month_window
from bijli.web.api import PREFIX, Kwh, Rupees, WindowEnd, WindowStart, _kwh, _window
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, MONTH_PATTERN, Limit, Offset, Paged, Problem, window

AccountId = Annotated[str, Path(description="The account number, e.g. KESCOCL0000001.", max_length=32)]
Month = Annotated[str, Path(pattern=MONTH_PATTERN, description="The IST month, YYYY-MM (2000 to 2100).")]
NO_ACCOUNT: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such account."}}


class Slab(BaseModel):
    tariff_version: str = Field(description="The label of the tariff version the energy was charged under.")
    from_kwh: Kwh = Field(description="Where the slab starts in the month's kWh.")
    up_to_kwh: Kwh | None = Field(description="Where it ends; null for the open-ended top slab.")
    rate: str = Field(pattern=r"^\d+\.\d{2,}$", examples=["5.50"], description="Rupees per kWh (a decimal string).")
    kwh: Kwh = Field(description="The month's energy in the slab.")
    amount: Rupees = Field(description="What it cost, without duty (cumulative rounding: the slabs add up exactly).")


class FittedMeter(BaseModel):
    meter_id: str
    installed_at: datetime
    removed_at: datetime | None = Field(description="Null while the meter is installed.")


class StatementEntry(BaseModel):
    kind: str = Field(examples=["recharge"], description="The ledger entry's kind.")
    day: date = Field(description="The IST day it is for.")
    reference: str = Field(description="The entry's reference in the ledger (e.g. the payment).")
    amount: Rupees = Field(description="What it added to the balance (negative: taken from it).")


class KindTotal(BaseModel):
    kind: str
    amount: Rupees = Field(description="What the month's entries of this kind added to the balance.")


class MonthlyStatement(BaseModel):
    """An account's month: opening, every payment and other entry, charges by slab, closing."""

    account_no: str
    consumer_name: str
    meter_id: str | None = Field(description="The meter now installed on the account; null when none is.")
    meters: list[FittedMeter] = Field(description="The meters installed on the account at some time in the month.")
    month: str = Field(examples=["2026-11"])
    first_day: date
    last_day: date
    tariff: str = Field(description="The tariff category's code.")
    tariff_versions: list[str] = Field(description="The labels of the tariff versions in force on the days charged.")
    sanctioned_load_w: int
    currency: Literal["INR"]
    opening_balance: Rupees = Field(description="The balance from every entry for a moment before the month.")
    recharges: Rupees
    arrears_recovered: Rupees = Field(description="Of the recharges, what went to arrears (positive).")
    adjustments: Rupees
    entries: list[StatementEntry] = Field(description="Every entry of the month that is not a charge, oldest first.")
    totals: list[KindTotal] = Field(description="Those entries by kind.")
    energy_kwh: Kwh
    slabs: list[Slab]
    energy_charge: Rupees = Field(description="The month's energy charge as the ledger holds it, without duty.")
    slab_difference: Rupees = Field(
        description="energy_charge less the slabs' sum: 0.00 when every interval of the month is charged; otherwise "
        "energy the register counted whose readings are missing or late."
    )
    fixed_charge: Rupees
    duty: Rupees = Field(description="Electricity duty on the energy and fixed charges.")
    charges: Rupees = Field(description="energy_charge + fixed_charge + duty.")
    closing_balance: Rupees = Field(
        description="opening_balance + every entry of the month (arrears aside) - charges: the prepaid balance at "
        "the month's end."
    )
    arrears_at_start: Rupees = Field(description="What the consumer owed from before onboarding, at the month's start.")
    arrears_at_end: Rupees = Field(
        description="arrears_at_start + arrears posted in the month - arrears_recovered: still owed at its end."
    )
    days_charged: int
    charge_entries: int = Field(description="How many ledger entries the charges add up.")
    ledger: str = Field(description="The path of the month's ledger, every line traced.")


class IntervalCharge(BaseModel):
    meter_id: str
    interval_start: datetime
    kwh: Kwh
    energy: Rupees = Field(description="The interval's energy charge, without duty.")
    duty: Rupees
    tariff_version: str


class LedgerLine(BaseModel):
    entry_id: int = Field(description="The entry's id in the ledger; 0 for a day not closed onto the ledger yet.")
    kind: str
    reference: str
    for_time: datetime = Field(description="The moment it is for: a charge's interval or day start, else when posted.")
    posted_at: datetime
    amount: Rupees = Field(description="Positive: a credit; negative: a charge (its duty included).")
    duty: Rupees | None = Field(
        description="Of `amount`, the electricity duty; null for an entry that is not a charge."
    )
    kwh: Kwh | None = Field(description="The energy the charge is for; null for other entries.")
    intervals: list[IntervalCharge] = Field(
        description="The 15-minute intervals behind a charge: a day's debit (day_charge) lists its day's "
        "intervals, derived from the readings the same way every time (the day's fixed charge and its duty "
        "make up the rest); a day_correction lists none (the day's debit shows the day as it is now)."
    )


class AccountLedger(Paged):
    account_no: str
    start: datetime
    end: datetime
    currency: Literal["INR"]
    balance_before: Rupees = Field(
        description="The prepaid balance from every entry for a moment before `start` (arrears are not part of it)."
    )
    balance_after: Rupees = Field(description="The balance from every entry for a moment before `end`.")
    arrears_before: Rupees = Field(description="Arrears owed (not part of the balance) before `start`.")
    arrears_after: Rupees = Field(description="Arrears owed before `end`.")
    items: list[LedgerLine] = Field(description="Entries for moments in [start, end), oldest first.")


def statement_out(s: Statement) -> MonthlyStatement:
    h = s.holder
    start, end = month_window(s.month)
    return MonthlyStatement(
        account_no=h.account_no,
        consumer_name=h.consumer_name,
        meter_id=h.meter_id,
        meters=[
            FittedMeter(
                meter_id=m.meter_id,
                installed_at=m.installed_at.astimezone(UTC),
                removed_at=None if m.removed_at is None else m.removed_at.astimezone(UTC),
            )
            for m in h.meters
        ],
        month=s.month,
        first_day=s.first_day,
        last_day=s.last_day,
        tariff=h.tariff.code,
        tariff_versions=list(s.tariff_labels),
        sanctioned_load_w=h.sanctioned_load_w,
        currency="INR",
        opening_balance=format_rupees(s.opening_paise),
        recharges=format_rupees(s.recharges_paise),
        arrears_recovered=format_rupees(-s.total("arrears_recovery")),
        adjustments=format_rupees(s.adjustments_paise),
        entries=[
            StatementEntry(kind=e.kind, day=e.day, reference=e.reference, amount=format_rupees(e.amount_paise))
            for e in s.entries
        ],
        totals=[KindTotal(kind=k, amount=format_rupees(s.total(k))) for k in s.kinds],
        energy_kwh=_kwh(s.energy_wh),
        slabs=[
            Slab(
                tariff_version=line.tariff_label,
                from_kwh=_kwh(line.from_wh),
                up_to_kwh=None if line.up_to_wh is None else _kwh(line.up_to_wh),
                rate=f"{line.rate:.2f}" if line.rate == round(line.rate, 2) else str(line.rate),
                kwh=_kwh(line.energy_wh),
                amount=format_rupees(line.amount_paise),
            )
            for line in s.slabs
        ],
        energy_charge=format_rupees(s.energy_paise),
        slab_difference=format_rupees(s.slab_difference_paise),
        fixed_charge=format_rupees(s.fixed_paise),
        duty=format_rupees(s.duty_paise),
        charges=format_rupees(s.charges_paise),
        closing_balance=format_rupees(s.closing_paise),
        arrears_at_start=format_rupees(s.arrears_opening_paise),
        arrears_at_end=format_rupees(s.arrears_closing_paise),
        days_charged=s.days_charged,
        charge_entries=s.charge_entries,
        ledger=f"{PREFIX}/accounts/{h.account_no}/ledger?start={_iso(start)}&end={_iso(end)}",
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def find_statement(ctx: WebContext, account_id: str, month: str) -> Statement:
    """The month's statement, or 404 when there is no such account."""
    found = prepaid.monthly_statements(ctx.platform.store, [account_id], month).get(account_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"account {account_id} not found")
    return found


def _behind(found: prepaid.AccountLedger, entry: Posted) -> tuple[StatementInterval, ...]:
    """The intervals behind a ledger line: a day's debit is its day's derived interval charges
    (with the day's fixed charge beside them), an older per-interval charge its own interval."""
    if entry.kind != EntryKind.DAY_CHARGE.value:
        return intervals_behind(found.holder, entry)
    return tuple(
        StatementInterval(
            meter_id=c.meter_id,
            interval_start=c.interval_start,
            energy_wh=c.wh,
            energy_paise=c.energy_paise,
            duty_paise=c.duty_paise,
            tariff_label=c.tariff_version,
        )
        for c in found.intervals.get(ist_day(entry.at), [])
    )


def router(ctx: WebContext) -> APIRouter:
    """The accounts' routes of API v1."""
    api = APIRouter(prefix=PREFIX, tags=["v1"], responses=EDGE)
    one_account = [Depends(Auth(ctx).account())]

    @api.get(
        "/accounts/{account_id}/statements/{month}",
        response_model=MonthlyStatement,
        responses=NO_ACCOUNT,
        dependencies=one_account,
    )
    def statement(account_id: AccountId, month: Month) -> MonthlyStatement:
        """The account's statement of an IST month: opening balance, recharges, arrears recovered,
        kWh and amount per slab, fixed charge, duty, adjustments and closing balance."""
        return statement_out(find_statement(ctx, account_id, month))

    @api.get(
        "/accounts/{account_id}/ledger", response_model=AccountLedger, responses=NO_ACCOUNT, dependencies=one_account
    )
    def ledger(
        account_id: AccountId, start: WindowStart, end: WindowEnd, limit: Limit = 1000, offset: Offset = 0
    ) -> AccountLedger:
        """The account's ledger entries for moments in [start, end) (at most 31 days), oldest
        first, each energy charge with the 15-minute intervals behind it."""
        start, end = _window(start, end)
        found = prepaid.account_ledger(ctx.platform.store, account_id, start, end)
        if found is None:
            raise HTTPException(status_code=404, detail=f"account {account_id} not found")
        page, next_offset = window(found.entries, limit, offset)
        items = [
            LedgerLine(
                entry_id=entry_id,
                kind=e.kind,
                reference=e.reference,
                for_time=e.at.astimezone(UTC),
                posted_at=e.posted_at.astimezone(UTC),
                amount=format_rupees(e.amount_paise),
                duty=None if e.duty_paise is None else format_rupees(e.duty_paise),
                kwh=None if e.energy_wh is None else _kwh(e.energy_wh),
                intervals=[
                    IntervalCharge(
                        meter_id=i.meter_id,
                        interval_start=i.interval_start.astimezone(UTC),
                        kwh=_kwh(i.energy_wh),
                        energy=format_rupees(i.energy_paise),
                        duty=format_rupees(i.duty_paise),
                        tariff_version=i.tariff_label,
                    )
                    for i in _behind(found, e)
                ],
            )
            for entry_id, e in page
        ]
        return AccountLedger(
            account_no=account_id,
            start=start,
            end=end,
            currency="INR",
            balance_before=format_rupees(found.balance_before_paise),
            balance_after=format_rupees(found.balance_after_paise),
            arrears_before=format_rupees(found.arrears_before_paise),
            arrears_after=format_rupees(found.arrears_after_paise),
            items=items,
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    return api
