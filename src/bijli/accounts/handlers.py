"""Putting meters into service with their consumers' accounts, and taking them out of it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from bijli.accounts.model import (
    Account,
    AccountStatus,
    Closing,
    Conflict,
    Consumer,
    FinalStatement,
    Installation,
    Installing,
    MeterSite,
    NotFound,
    Refused,
    Replacing,
    check_closing,
    check_consumer,
    check_removal,
    check_replacing,
    check_site,
    final_settlement,
)
from bijli.accounts.onboarding import Known, Plan, Row, plan
from bijli.accounts.ports import OnboardingUnit, StatusUnit
from bijli.headend.commands import decommissioned_step
from bijli.headend.handlers import end_unsettled
from bijli.kernel.unit import Transactions
from bijli.mdm.meters import MeterStatus, RefusedChange, StatusChange, UnknownMeter, check_audit, check_change


def change_status(
    store: Transactions[StatusUnit], meter_id: str, to: str, *, changed_by: str, reason: str, now: datetime
) -> tuple[StatusChange, int]:
    """Move a meter to status `to`, with who and why; (the change, how many unsettled commands
    it ended: taken out of service, a meter's open commands fail). UnknownMeter, RefusedChange,
    or ValueError for a missing name or reason: then nothing changes."""
    check_audit(changed_by, reason)
    with store.transaction() as uow:
        current = uow.registry.status_for_change(meter_id)
        if current is None:
            raise UnknownMeter(meter_id)
        new = check_change(meter_id, current, to)
        if not uow.registry.set_status(meter_id, current, new):
            raise RefusedChange(f"meter {meter_id} changed status meanwhile; look at its history and try again")
        change = StatusChange(
            meter_id=meter_id, at=now, from_status=current, to_status=new.value, changed_by=changed_by, reason=reason
        )
        uow.registry.log_change(change)
        ended = 0
        if new == MeterStatus.DECOMMISSIONED:
            ended = end_unsettled(uow.commands, meter_id, decommissioned_step(reason), now)
    return change, ended


# ---------------------------------------------------------------------------- onboarding


ONBOARDED_BY = "onboarding"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What became of a batch of onboarding rows (by row number)."""

    created: list[int]
    updated: list[int]
    unchanged: list[int]
    rejected: list[tuple[int, Refused]]


def register_consumer(store: Transactions[OnboardingUnit], consumer: Consumer) -> Consumer:
    """Register a new consumer; `Refused` for a record that breaks a rule, `Conflict` if the
    consumer id is taken. Nothing changes then."""
    check_consumer(consumer)
    with store.transaction() as uow:
        uow.accounts.hold()
        if uow.accounts.consumers([consumer.consumer_id]):
            raise Conflict(f"consumer {consumer.consumer_id} is registered already")
        uow.accounts.add_consumers([consumer])
    return consumer


def registered(store: Transactions[OnboardingUnit], meter_ids: Sequence[str]) -> set[str]:
    """Which of these meters are registered."""
    with store.transaction() as uow:
        return set(uow.registry.sites(meter_ids))


def register_meters(store: Transactions[OnboardingUnit], sites: Sequence[MeterSite], at: datetime) -> int:
    """Register meters that serve no account (a distribution transformer's) in service from
    `at`; those registered already are kept as they are. How many were new."""
    problems: list[str] = []
    for site in sites:
        check_site(problems, site)
    if problems:
        raise Refused("; ".join(problems))
    with store.transaction() as uow:
        known = uow.registry.sites([s.meter_id for s in sites])
        fresh = [s for s in sites if s.meter_id not in known]
        uow.registry.register([(s, at) for s in fresh])
    return len(fresh)


def onboard(
    store: Transactions[OnboardingUnit],
    rows: Sequence[Row],
    tariffs: Collection[str],
    now: datetime,
    *,
    by: str = ONBOARDED_BY,
) -> Outcome:
    """Take a batch of onboarding rows in one unit of work: the good ones go in, each bad one is
    refused with its reason and changes nothing. Taking the same rows again changes nothing."""
    try:
        with store.transaction() as uow:
            uow.accounts.hold()
            p = plan(rows, _known(uow, rows), tariffs, now)
            _write(uow, p, now, by)
    except Conflict:
        # The records moved under the batch (a path that does not hold onboarding): take the
        # rows one at a time, so only the row that no longer fits is refused.
        if len(rows) == 1:
            raise
        parts = [onboard(store, [row], tariffs, now, by=by) for row in rows]
        return Outcome(
            created=[n for o in parts for n in o.created],
            updated=[n for o in parts for n in o.updated],
            unchanged=[n for o in parts for n in o.unchanged],
            rejected=[r for o in parts for r in o.rejected],
        )
    return Outcome(created=p.created, updated=p.updated, unchanged=p.unchanged, rejected=p.rejected)


def install_meter(
    store: Transactions[OnboardingUnit], installing: Installing, tariffs: Collection[str], now: datetime, *, by: str
) -> str:
    """Put a meter into service on an account of a registered consumer (a new account, or an
    active one without a meter); "created", or "unchanged"/"updated" for the same meter on the
    same account again. `Refused` (`NotFound`, `Conflict`) with the reason: nothing changes."""
    outcome = onboard(store, [Row(number=1, consumer=None, installing=installing)], tariffs, now, by=by)
    if outcome.rejected:
        raise outcome.rejected[0][1]
    return "created" if outcome.created else "updated" if outcome.updated else "unchanged"


def _known(uow: OnboardingUnit, rows: Sequence[Row]) -> Known:
    consumer_ids = sorted({r.installing.consumer_id for r in rows})
    account_nos = sorted({r.installing.account_no for r in rows})
    meter_ids = sorted({r.installing.meter.meter_id for r in rows})
    accounts = uow.accounts.accounts(account_nos)
    current = sorted({a.meter_id for a in accounts.values() if a.meter_id is not None})
    return Known(
        consumers=uow.accounts.consumers(consumer_ids),
        accounts=accounts,
        meters=uow.registry.sites(meter_ids),
        installed=uow.accounts.installed(sorted({*meter_ids, *current})),
        meter_removed=uow.accounts.meters_removed(meter_ids),
        account_removed=uow.accounts.accounts_removed(account_nos),
        posted=uow.accounts.posted(account_nos),
    )


def _write(uow: OnboardingUnit, p: Plan, now: datetime, by: str) -> None:
    a = uow.accounts
    a.add_consumers(list(p.new_consumers.values()))
    a.update_consumers(list(p.changed_consumers.values()))
    went_in = {i.meter_id: i.installed_at for i in p.installations}
    uow.registry.register([(s, went_in.get(s.meter_id, now)) for s in p.new_meters.values()])
    uow.registry.move(list(p.moved_meters.values()))
    for meter_id in p.recommissioned:
        _set_status(uow, meter_id, MeterStatus.COMMISSIONED, by, "installed on an account", now)
    a.open_accounts(list(p.new_accounts.values()), {**p.holders(), **a.consumers(_holders(p))})
    a.set_terms(p.terms)
    a.install(p.installations)
    uow.ledger.post(p.entries, now)
    uow.billing_months.claim(p.first_months)


def _holders(p: Plan) -> list[str]:
    return sorted({acc.consumer_id for acc in p.new_accounts.values()} - set(p.holders()))


def _set_status(uow: OnboardingUnit, meter_id: str, to: MeterStatus, by: str, reason: str, now: datetime) -> None:
    """Move a meter's status as part of onboarding, logged like any status change."""
    current = uow.registry.status_for_change(meter_id)
    if current is None:
        raise NotFound(f"meter {meter_id} is not registered")
    if current == to.value:
        return
    if not uow.registry.set_status(meter_id, current, to.value):
        raise Conflict(f"meter {meter_id} changed status meanwhile; try again")
    uow.registry.log_change(
        StatusChange(meter_id=meter_id, at=now, from_status=current, to_status=to.value, changed_by=by, reason=reason)
    )
    if to == MeterStatus.DECOMMISSIONED:
        end_unsettled(uow.commands, meter_id, decommissioned_step(reason), now)


def replace_meter(store: Transactions[OnboardingUnit], r: Replacing, now: datetime, *, by: str) -> Installation:
    """Take a meter off its account at its final reading and put another in its place on the
    same account from its opening reading; the old meter goes out of service. The new meter
    speaks with its own keys (derived from the site's, of the current version) and frame
    counters from zero. `Refused` (`NotFound`, `Conflict`) with the reason: nothing changes."""
    check_replacing(r, now)
    with store.transaction() as uow:
        uow.accounts.hold()
        old = _installation_of(uow, r.old_meter_id)
        check_removal(old, r.closing_wh_total, r.at)
        new_id = r.new.meter_id
        found = uow.registry.sites([new_id]).get(new_id)
        if found is not None:
            on = uow.accounts.installed([new_id]).get(new_id)
            if on is not None:
                raise Conflict(f"meter {new_id} is installed on account {on.account_no}")
            if found[1] != MeterStatus.DECOMMISSIONED.value:
                raise Conflict(f"meter {new_id} is in service without an account (a transformer's meter?)")
            removed = uow.accounts.meters_removed([new_id]).get(new_id)
            if removed is not None and r.at < removed:
                raise Conflict(f"meter {new_id} was on an account until {removed.isoformat()}; it cannot go on before")
        reason = f"replaced by {new_id}: {r.reason}"
        uow.accounts.remove(r.old_meter_id, r.at, r.closing_wh_total, reason)
        _set_status(uow, r.old_meter_id, MeterStatus.DECOMMISSIONED, by, reason, now)
        if found is None:
            uow.registry.register([(r.new, r.at)])
        else:
            uow.registry.move([r.new])
            _set_status(uow, new_id, MeterStatus.COMMISSIONED, by, f"replaces {r.old_meter_id}", now)
        new = Installation(
            account_no=old.account_no, meter_id=new_id, installed_at=r.at, opening_wh_total=r.opening_wh_total
        )
        uow.accounts.install([new])
    return new


def close_account(store: Transactions[OnboardingUnit], c: Closing, now: datetime, *, by: str) -> FinalStatement:
    """Close an account: its meter comes off at the final reading and goes out of service, and
    one entry takes its prepaid balance to zero (refund if positive); arrears stay owed. The
    account then takes no meter. `Refused` (`NotFound`, `Conflict`): nothing changes."""
    check_closing(c, now)
    with store.transaction() as uow:
        uow.accounts.hold()
        account = uow.accounts.accounts([c.account_no]).get(c.account_no)
        if account is None:
            raise NotFound(f"account {c.account_no} not found")
        if account.status is AccountStatus.CLOSED:
            raise Conflict(f"account {c.account_no} is closed already")
        if account.meter_id is not None:
            installation = _installation_of(uow, account.meter_id)
            check_removal(installation, c.closing_wh_total, c.at)
            reason = f"account closed: {c.reason}"
            uow.accounts.remove(account.meter_id, c.at, c.closing_wh_total, reason)
            _set_status(uow, account.meter_id, MeterStatus.DECOMMISSIONED, by, reason, now)
        balance, owed = uow.accounts.balance(c.account_no)
        statement = final_settlement(c.account_no, balance, owed)
        if statement.entry is not None:
            uow.ledger.post([statement.entry], now)
        uow.accounts.close(c.account_no, c.at)
    return statement


def _installation_of(uow: OnboardingUnit, meter_id: str) -> Installation:
    if meter_id not in uow.registry.sites([meter_id]):
        raise NotFound(f"meter {meter_id} not found")
    found = uow.accounts.installed([meter_id]).get(meter_id)
    if found is None:
        raise Conflict(f"meter {meter_id} is not installed on any account")
    return found


def account_record(store: Transactions[OnboardingUnit], account_no: str) -> tuple[Account, list[Installation]] | None:
    """An account and its meters' installations, oldest first (None: no such account)."""
    with store.transaction() as uow:
        account = uow.accounts.accounts([account_no]).get(account_no)
        return None if account is None else (account, uow.accounts.installations(account_no))


def consumer_record(store: Transactions[OnboardingUnit], consumer_id: str) -> tuple[Consumer, list[Account]] | None:
    """A consumer and their accounts (None: no such consumer)."""
    with store.transaction() as uow:
        consumer = uow.accounts.consumers([consumer_id]).get(consumer_id)
        return None if consumer is None else (consumer, uow.accounts.accounts_of(consumer_id))


def meter_site(store: Transactions[OnboardingUnit], meter_id: str) -> MeterSite | None:
    """Where a registered meter sits (None: not registered)."""
    with store.transaction() as uow:
        found = uow.registry.sites([meter_id]).get(meter_id)
    return None if found is None else found[0]
