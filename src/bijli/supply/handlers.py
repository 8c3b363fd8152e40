"""The supply service's use case: decide for every due account, in batches.

`decide_due` takes up to `limit` due accounts in one unit of work, reads their facts in a few
set-based queries, applies `bijli.supply.model.decide` to each, and in the same transaction
raises the alerts (the outbox) and queues the relay commands through the command lifecycle
(`queue_command`, requested by ``supply``, the reason in words on each). A crash anywhere rolls
the batch back: no alert without its decision, no decision without its alerts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bijli.alerts.model import Alert, AlertKind
from bijli.headend.command_records import (
    CommandRequest,
    CommandState,
    IdempotencyConflict,
    InvalidCommand,
    MeterNotInService,
)
from bijli.headend.commands import Status, Step
from bijli.headend.handlers import queue_command
from bijli.kernel.time import ist_day
from bijli.kernel.unit import Transactions
from bijli.mdm.meters import UnknownMeter
from bijli.prepaid.handlers import forecasts_in
from bijli.prepaid.policy import PrepaidPolicy
from bijli.supply.model import REQUESTED_BY, AccountFacts, Decision, Order, SupplyState, Warned, decide
from bijli.supply.ports import SupplyUnit

log = logging.getLogger(__name__)

BATCH = 500
RETRY_REFUSED = timedelta(hours=1)


@dataclass(slots=True)
class SupplyReport:
    """What one or more rounds did."""

    accounts: int = 0
    alerts: int = 0
    disconnects: int = 0
    reconnects: int = 0
    permits: int = 0
    refused: int = 0
    """Orders the command lifecycle refused (meter out of service, ...): logged, retried later."""

    def __iadd__(self, other: SupplyReport) -> SupplyReport:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


def decide_due(
    store: Transactions[SupplyUnit], policy: PrepaidPolicy, now: datetime, limit: int = BATCH
) -> SupplyReport:
    """One round: decide for up to `limit` accounts whose next check has come."""
    report = SupplyReport()
    with store.transaction() as uow:
        states = uow.supply.claim_due(now, limit)
        if not states:
            return report
        facts = uow.supply.facts([s.account_no for s in states])
        open_ids = [i for s in states for i in (s.cut_command_id, s.reconnect_command_id) if i is not None]
        outcomes = uow.supply.outcomes(open_ids)
        sent = _warnings_since_recharge(uow, facts)
        alerts: list[Alert] = []
        saved: list[SupplyState] = []
        for state in states:
            known = facts.get(state.account_no)
            if known is None:  # closed: nothing more to decide
                saved.append(dataclasses.replace(state, next_check_at=None))
                continue
            known = dataclasses.replace(
                known,
                warnings=sent.get(state.account_no, []),
                cut_outcome=outcomes.get(state.cut_command_id) if state.cut_command_id else None,
                reconnect_outcome=outcomes.get(state.reconnect_command_id) if state.reconnect_command_id else None,
            )
            decision = decide(known, state, policy, now)
            alerts += [
                Alert(
                    account_no=state.account_no,
                    kind=AlertKind(a.kind),
                    fact_key=a.fact_key,
                    facts=a.facts,
                    raised_at=now,
                )
                for a in decision.alerts
            ]
            saved.append(
                _called_off(uow, known.meter_id, decision, _orders(uow, known.meter_id, decision, now, report), now)
            )
        raised = uow.alerts.raise_alerts(_with_days_left(uow, alerts, facts, now), now) if alerts else []
        uow.supply.save(saved, now)
    report.accounts = len(states)
    report.alerts = len(raised)
    return report


def _with_days_left(
    uow: SupplyUnit, alerts: list[Alert], facts: Mapping[str, AccountFacts], now: datetime
) -> list[Alert]:
    """Low-balance alerts with the days of credit left at the account's own pace
    (`bijli.prepaid.forecast`), where there is enough history to tell."""
    low = {a.account_no for a in alerts if a.kind == AlertKind.LOW_BALANCE and a.account_no is not None}
    if not low:
        return alerts
    told = forecasts_in(uow, {a: facts[a].balance_paise for a in sorted(low)}, ist_day(now))
    found = []
    for a in alerts:
        days = told[a.account_no].days if a.kind == AlertKind.LOW_BALANCE and a.account_no is not None else None
        found.append(a if days is None else dataclasses.replace(a, facts={**a.facts, "days_left": str(days)}))
    return found


def _warnings_since_recharge(uow: SupplyUnit, facts: Mapping[str, AccountFacts]) -> dict[str, list[Warned]]:
    """Each account's warnings sent since its last recharge (or its opening)."""
    if not facts:
        return {}
    since = {a: f.last_recharge_at or f.opened_at for a, f in facts.items()}
    found = uow.alerts.warnings_sent(sorted(since), min(since.values()))
    return {
        a: [Warned(w.alert_id, w.channel.value, w.sent_at) for w in sent if w.sent_at >= since[a]]
        for a, sent in found.items()
        if a in since
    }


def decide_all_due(
    store: Transactions[SupplyUnit], policy: PrepaidPolicy, now: datetime, limit: int = BATCH
) -> SupplyReport:
    """Rounds until no account is due at `now` (the scenario run's step on its simulated clock)."""
    total = SupplyReport()
    while True:
        done = decide_due(store, policy, now, limit)
        total += done
        if done.accounts < limit:
            return total


def _orders(
    uow: SupplyUnit, meter_id: str | None, decision: Decision, now: datetime, report: SupplyReport
) -> SupplyState:
    """Queue the decision's commands; the state with the ids of those it opened."""
    state = decision.state
    for order in decision.orders:
        command_id = _queue(uow, meter_id, order, now, report)
        if command_id is None:  # look again in an hour (the meter may be back in service)
            retry = now + RETRY_REFUSED
            state = dataclasses.replace(state, next_check_at=min(state.next_check_at or retry, retry))
            if order.slot == "permit":
                state = dataclasses.replace(state, permit_sent=False)
            continue
        if order.slot == "cut":
            state = dataclasses.replace(state, cut_command_id=command_id)
            report.disconnects += 1
        elif order.slot == "reconnect":
            state = dataclasses.replace(state, reconnect_command_id=command_id)
            report.reconnects += 1
        else:
            report.permits += 1
    return state


def _called_off(
    uow: SupplyUnit, meter_id: str | None, decision: Decision, state: SupplyState, now: datetime
) -> SupplyState:
    """End the commands the decision calls off while they are still queued (a conditional
    move, in this transaction: the dispatcher cannot send one and see it ended); one that went
    out meanwhile stays the state's open command, to settle first."""
    for off in decision.call_off:
        queued = CommandState(off.command_id, meter_id or "", "relay_disconnect", Status.QUEUED, 0)
        if uow.commands.move(queued, Step(Status.FAILED, off.reason), now):
            continue
        state = dataclasses.replace(state, cut_command_id=off.command_id)
    return state


def _queue(uow: SupplyUnit, meter_id: str | None, order: Order, now: datetime, report: SupplyReport) -> str | None:
    if meter_id is None:
        report.refused += 1
        return None
    request = CommandRequest(
        meter_id=meter_id,
        action=order.action,
        args=dict(order.args),
        reason=order.reason,
        requested_by=REQUESTED_BY,
        idempotency_key=order.idempotency_key,
        expires_in=order.expires_at - now,
    )
    try:
        command, _ = queue_command(uow, request, now)
    except IdempotencyConflict as e:
        return e.existing.command_id  # asked before under this key (a later reason or expiry): that one stands
    except (InvalidCommand, UnknownMeter, MeterNotInService) as e:
        log.warning("supply could not ask %s of meter %s: %s", order.action, meter_id, e)
        report.refused += 1
        return None
    return command.command_id
