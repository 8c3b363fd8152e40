"""Putting meters into service with their consumers' accounts, and taking them out of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bijli.accounts.model import MeterRegistration
from bijli.accounts.ports import CommissionUnit, StatusUnit
from bijli.headend.commands import decommissioned_step
from bijli.headend.handlers import end_unsettled
from bijli.kernel.unit import Transactions
from bijli.mdm.meters import MeterStatus, RefusedChange, StatusChange, UnknownMeter, check_audit, check_change
from bijli.prepaid.charging import MonthOpening
from bijli.prepaid.model import LedgerEntry


def commission(
    store: Transactions[CommissionUnit],
    registrations: Sequence[MeterRegistration],
    openings: Sequence[LedgerEntry],
    now: datetime,
) -> int:
    """Register meters in service with their accounts, opening balances and (where known)
    the register their first month counts from; meters already registered are kept as they
    are. How many were new."""
    with store.transaction() as uow:
        known = uow.registry.known(r.meter_id for r in registrations)
        fresh = [r for r in registrations if r.meter_id not in known]
        if not fresh:
            return 0
        uow.registry.add(fresh)
        accounts = {r.account_no for r in fresh if r.account_no is not None}
        uow.ledger.post([e for e in openings if e.account_no in accounts], now)
        uow.billing_months.claim(
            {
                (r.account_no, r.first_month): MonthOpening(r.initial_register_wh, r.installed_at)
                for r in fresh
                if r.account_no is not None and r.initial_register_wh is not None
            }
        )
    return len(fresh)


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
