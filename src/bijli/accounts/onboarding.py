"""Onboarding rows planned against the records: each row created, updated, left as it is, or
refused with its reason, before anything is written. Pure.

A row is a meter installed on an account, with its consumer's details. Rows are taken in
order and each sees the rows taken before it, so a file that names one meter twice is caught
at the second row. Taking the same row again changes nothing: a row that matches the records
is left as it is; one that changes a consumer's details, an account's terms or where a meter
sits updates them; one that contradicts what charges count from (installation time, opening
register, opening balance or arrears) is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bijli.accounts.model import (
    Account,
    AccountStatus,
    AccountTerms,
    Conflict,
    Consumer,
    Installation,
    Installing,
    MeterSite,
    NotFound,
    Refused,
    check_consumer,
    check_installing,
)
from bijli.kernel.time import IST, ist_day, month_key
from bijli.kernel.units import format_rupees
from bijli.mdm.meters import MeterStatus
from bijli.prepaid.charging import MonthOpening
from bijli.prepaid.model import LedgerEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """A meter installed on an account, with the consumer's details (None: the consumer is
    registered already). `number` names the row in what is reported back."""

    number: int
    consumer: Consumer | None
    installing: Installing


@dataclass(slots=True, kw_only=True)
class Known:
    """The records the rows touch, as they are before the rows are taken."""

    consumers: dict[str, Consumer] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    meters: dict[str, tuple[MeterSite, str]] = field(default_factory=dict)
    installed: dict[str, Installation] = field(default_factory=dict)
    """Open installations, by meter."""
    meter_removed: dict[str, datetime] = field(default_factory=dict)
    account_removed: dict[str, datetime] = field(default_factory=dict)
    posted: dict[str, dict[str, int]] = field(default_factory=dict)
    """Opening balance and arrears posted, by account and reference."""


@dataclass(slots=True)
class Plan:
    """What taking the rows writes, and what became of each row."""

    new_consumers: dict[str, Consumer] = field(default_factory=dict)
    changed_consumers: dict[str, Consumer] = field(default_factory=dict)
    new_meters: dict[str, MeterSite] = field(default_factory=dict)
    moved_meters: dict[str, MeterSite] = field(default_factory=dict)
    recommissioned: list[str] = field(default_factory=list)
    new_accounts: dict[str, Account] = field(default_factory=dict)
    terms: dict[str, AccountTerms] = field(default_factory=dict)
    installations: list[Installation] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)
    first_months: dict[tuple[str, str], MonthOpening] = field(default_factory=dict)
    """(account, month) → the register the month counts from, for months an installation opens."""
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    rejected: list[tuple[int, Refused]] = field(default_factory=list)

    def holders(self) -> dict[str, Consumer]:
        return {**self.new_consumers, **self.changed_consumers}


def _ist(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%d %b %Y %H:%M IST")


def _terms(given: AccountTerms, now: AccountTerms) -> AccountTerms:
    """The terms a row asks for: an arrears share it leaves out keeps the one recorded."""
    share = now.arrears_share_pct if given.arrears_share_pct is None else given.arrears_share_pct
    return replace(given, arrears_share_pct=share)


def plan(rows: Sequence[Row], known: Known, tariffs: Collection[str], now: datetime) -> Plan:
    """Take the rows in order against `known` (which is updated as rows are taken)."""
    p = Plan()
    for row in rows:
        try:
            outcome = _take(row, known, p, tariffs, now)
        except Refused as refused:
            p.rejected.append((row.number, refused))
            continue
        {"created": p.created, "updated": p.updated, "unchanged": p.unchanged}[outcome].append(row.number)
    return p


def _take(row: Row, known: Known, p: Plan, tariffs: Collection[str], now: datetime) -> str:
    """Plan one row; "created", "updated" or "unchanged", or `Refused` (then nothing of it is planned)."""
    i = row.installing
    if row.consumer is not None:
        check_consumer(row.consumer)
        if row.consumer.consumer_id != i.consumer_id:
            raise Refused("the consumer's details are of another consumer id than the account's")
    check_installing(i, tariffs, now)
    meter_id, account_no = i.meter.meter_id, i.account_no
    changed = False

    # The consumer.
    holder = known.consumers.get(i.consumer_id)
    new_consumer = changed_consumer = None
    if holder is None:
        if row.consumer is None:
            raise NotFound(f"consumer {i.consumer_id} is not registered")
        new_consumer = holder = row.consumer
    elif row.consumer is not None and not holder.same_details(row.consumer):
        changed_consumer = holder = replace(row.consumer, created_at=holder.created_at)
        changed = True

    # The account.
    account = known.accounts.get(account_no)
    terms = i.terms
    installs = True
    if account is not None:
        if account.status is AccountStatus.CLOSED:
            when = "" if account.closed_at is None else f" on {_ist(account.closed_at)}"
            raise Conflict(f"account {account_no} was closed{when}; it takes no meter")
        if account.consumer_id != i.consumer_id:
            raise Conflict(f"account {account_no} is held by consumer {account.consumer_id}, not {i.consumer_id}")
        if account.meter_id is not None and account.meter_id != meter_id:
            raise Conflict(
                f"account {account_no} has meter {account.meter_id} installed; replace that meter to put {meter_id} in"
            )
        installs = account.meter_id is None
        terms = _terms(i.terms, account.terms)
        _check_posted(i, known.posted.get(account_no, {}))
        removed = known.account_removed.get(account_no)
        if installs and removed is not None and i.installed_at < removed:
            raise Conflict(f"account {account_no} had a meter until {_ist(removed)}; {_ist(i.installed_at)} is before")

    # The meter.
    found = known.meters.get(meter_id)
    new_meter = moved = None
    recommission = False
    if found is None:
        new_meter = i.meter
    else:
        site, status = found
        if installs:
            on = known.installed.get(meter_id)
            if on is not None:
                raise Conflict(f"meter {meter_id} is installed on account {on.account_no}")
            if status != MeterStatus.DECOMMISSIONED.value:
                raise Conflict(f"meter {meter_id} is in service without an account (a transformer's meter?)")
            removed = known.meter_removed.get(meter_id)
            if removed is not None and i.installed_at < removed:
                raise Conflict(
                    f"meter {meter_id} was on an account until {_ist(removed)}; {_ist(i.installed_at)} is before"
                )
            recommission = True
        else:
            current = known.installed.get(meter_id)
            if current is None:
                raise Conflict(f"meter {meter_id} is the meter of account {account_no} but has no installation record")
            if (current.installed_at, current.opening_wh_total) != (i.installed_at, i.opening_wh_total):
                raise Conflict(
                    f"meter {meter_id} went on account {account_no} at {_ist(current.installed_at)} reading "
                    f"{current.opening_wh_total:,} Wh; the row says {_ist(i.installed_at)}, "
                    f"{i.opening_wh_total:,} Wh (charges count from the record: it is not changed here)"
                )
        if site != i.meter:
            moved = i.meter
            changed = changed or not installs

    # Planned: nothing above refused the row.
    if new_consumer is not None:
        p.new_consumers[new_consumer.consumer_id] = known.consumers[new_consumer.consumer_id] = new_consumer
    if changed_consumer is not None:
        p.changed_consumers[changed_consumer.consumer_id] = known.consumers[changed_consumer.consumer_id] = (
            changed_consumer
        )
    if new_meter is not None:
        p.new_meters[meter_id] = new_meter
        known.meters[meter_id] = (new_meter, MeterStatus.COMMISSIONED.value)
    if moved is not None:
        p.moved_meters[meter_id] = moved
        known.meters[meter_id] = (moved, MeterStatus.COMMISSIONED.value if recommission else known.meters[meter_id][1])
    if recommission:
        p.recommissioned.append(meter_id)
        known.meters[meter_id] = (known.meters[meter_id][0], MeterStatus.COMMISSIONED.value)
    if account is None:
        account = Account(
            account_no=account_no,
            consumer_id=i.consumer_id,
            terms=terms,
            status=AccountStatus.ACTIVE,
            meter_id=meter_id,
            opened_at=i.installed_at,
        )
        p.new_accounts[account_no] = account
    elif terms != account.terms:
        p.terms[account_no] = terms
        changed = changed or not installs
    known.accounts[account_no] = replace(account, terms=terms, meter_id=meter_id)
    posted = known.posted.setdefault(account_no, {})
    for entry in i.entries():
        if entry.reference not in posted:
            p.entries.append(entry)
            posted[entry.reference] = entry.amount_paise
    if installs:
        installation = i.installation
        p.installations.append(installation)
        known.installed[meter_id] = installation
        p.first_months[(account_no, month_key(ist_day(i.installed_at)))] = MonthOpening(
            i.opening_wh_total, i.installed_at
        )
        return "created"
    return "updated" if changed else "unchanged"


def _check_posted(i: Installing, posted: dict[str, int]) -> None:
    """Refuse a row whose opening balance or arrears differ from what was posted (the ledger
    is append-only: a correction is an adjustment, not a new opening)."""
    for entry in i.entries():
        before = posted.get(entry.reference)
        if before is not None and before != entry.amount_paise:
            what = "opening balance" if entry.amount_paise > 0 else "arrears"
            raise Conflict(
                f"account {i.account_no} has its {what} of ₹{format_rupees(abs(before))} posted already; "
                f"the row says ₹{format_rupees(abs(entry.amount_paise))} (post an adjustment to correct it)"
            )
