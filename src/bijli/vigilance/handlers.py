"""The cases' use cases: open cases (the shared way in, for every detector), open them from the
meters' events by the rules (a round `bijli serve` runs every second), list them, and take a
workflow step on one.

Opening a case and telling the consumer and the area's field staff are one transaction: the
alerts go into the outbox with the case (`uow.alerts.raise_alerts`), so no alert leaves for a
case that was rolled back; an assignment tells the assignee the same way.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from bijli.alerts.model import DeliveryState
from bijli.kernel.time import ist_day, ist_midnight
from bijli.kernel.unit import Transactions
from bijli.network.balance import transformer_balance
from bijli.network.handlers import outage_at
from bijli.network.losses import fit
from bijli.network.model import whole_slots
from bijli.network.ports import StoredDay
from bijli.vigilance.anomalies import Anomaly, AnomalyKind, ranked
from bijli.vigilance.cases import (
    Case,
    CaseAction,
    CaseOpening,
    Step,
    StepRefused,
    StepRequest,
    SubjectLevel,
    take_step,
)
from bijli.vigilance.hooking import KIND as HOOKING
from bijli.vigilance.hooking import case_key, opening, rank, with_flagged_day
from bijli.vigilance.notices import assignee_notice, consumer_notice, staff_notices
from bijli.vigilance.ports import (
    AnomalyUnit,
    CaseFilter,
    CaseUnit,
    DueCaseUnit,
    EvidenceUnit,
    HookingUnit,
    Opened,
    Surroundings,
)
from bijli.vigilance.rules import CaseRules, openings

OPEN_EVERY: Final = timedelta(seconds=1)
"""How often `bijli serve` looks for new events to open cases from."""
CURSOR: Final = "cases"
OVERLAP: Final = timedelta(seconds=30)
"""Each round reads again the events received this long before where the last one got to: a
head-end transaction that committed late is not missed (keys make a second look harmless)."""
FIRST_LOOKBACK: Final = timedelta(days=7)
"""How far back the very first round looks."""
HISTORY: Final = timedelta(days=7)
"""How far back an incident's earlier events are looked for (its start, a pattern's run)."""
BATCH: Final = 5_000


class UnknownCase(LookupError):
    """No case has this id."""


def open_cases(
    store: Transactions[CaseUnit], openings: Sequence[CaseOpening], now: datetime | None = None
) -> list[str]:
    """Open these cases, each once per key (an opening whose key has a case already opens
    nothing), and raise their consumers' alerts; the case id of each opening, in order.
    `now` (default: each opening's `opened_at`) stamps the alerts. `InvalidOpening` if one
    cannot be a case, before anything is written."""
    if not openings:
        return []
    with store.transaction() as uow:
        return [o.case_id for o in _open_in(uow, openings, now)]


def _open_in(uow: CaseUnit, wanted: Sequence[CaseOpening], now: datetime | None) -> list[Opened]:
    for o in wanted:
        o.check()
    opened = uow.cases.open(wanted, now or max(o.opened_at for o in wanted))
    fresh = [(o, w.case_id, now or o.opened_at) for o, w in zip(wanted, opened, strict=True) if w.new]
    alerts = [a for o, case_id, at in fresh if (a := consumer_notice(o, case_id, at)) is not None]
    told = {case_id: 0 for o, case_id, _ in fresh if o.notify_field_staff}
    if told:
        crew = uow.field_staff.of_areas(sorted({o.area for o, case_id, _ in fresh if case_id in told}))
        alerts += [a for o, case_id, at in fresh for a in staff_notices(o, case_id, crew.get(o.area, []), at)]
    if alerts:
        raised = uow.alerts.raise_alerts(alerts, now or max(a.raised_at for a in alerts))
        for r in raised:  # told: an alert with a channel to go out on (a mobile or an e-mail on record)
            if r.staff is not None and any(s is DeliveryState.PENDING for s in r.channels.values()):
                case_id = r.fact_key.split(":")[1]
                told[case_id] = told.get(case_id, 0) + 1
    if told:
        uow.cases.note_staff_told(told)
    return opened


@dataclass(slots=True)
class OpenReport:
    """What a round (or several) of opening cases from events did."""

    events: int = 0
    opened: list[str] = field(default_factory=list)

    def __iadd__(self, other: OpenReport) -> OpenReport:
        self.events += other.events
        self.opened += other.opened
        return self


def open_due_cases(store: Transactions[DueCaseUnit], rules: CaseRules, now: datetime, limit: int = BATCH) -> OpenReport:
    """One round: the events received since the last round (and `OVERLAP` before it) that a
    rule names, paired into incidents with the meters' earlier events, open their cases and
    alert their consumers, in one transaction with the round's cursor; batch after batch
    until none is full."""
    total = OpenReport()
    after: tuple[datetime, int] | None = None
    while True:
        done, after, full = _round(store, rules, now, limit, after)
        total += done
        if not full:
            return total


def _round(
    store: Transactions[DueCaseUnit], rules: CaseRules, now: datetime, limit: int, after: tuple[datetime, int] | None
) -> tuple[OpenReport, tuple[datetime, int] | None, bool]:
    with store.transaction() as uow:
        feed = uow.vigilance_events
        cursor = feed.cursor(CURSOR)
        if after is None:
            after = (now - FIRST_LOOKBACK if cursor is None else cursor - OVERLAP, 0)
        new = feed.received_since(after, rules.codes, limit)
        if not new:
            return OpenReport(), after, False
        last = max(new, key=lambda e: (e.received_at, e.event_id))
        meters = sorted({e.meter_id for e in new})
        history = feed.of_meters(
            meters,
            rules.watched,
            min(e.occurred_at for e in new) - HISTORY,
            max(max(e.occurred_at for e in new), now),
        )
        places = feed.places(meters)
        wanted = openings(rules, new, history, places, now)
        known = uow.cases.known_keys([o.key for o in wanted])
        wanted = [o for o in wanted if o.key not in known and not _in_outage(uow, rules, o)]
        opened = _open_in(uow, wanted, now) if wanted else []
        feed.save_cursor(CURSOR, last.received_at if cursor is None else max(cursor, last.received_at))
    report = OpenReport(events=len(new), opened=[w.case_id for w in opened if w.new])
    return report, (last.received_at, last.event_id), len(new) >= limit


def _in_outage(uow: DueCaseUnit, rules: CaseRules, opening: CaseOpening) -> bool:
    """Whether a rule that stands aside in outages finds the meter inside one when its incident began."""
    rule = rules.named(opening.reason_code)
    if rule is None or not rule.unless_outage:
        return False
    began = opening.evidence.get("incident_start")
    at = datetime.fromisoformat(began) if isinstance(began, str) else opening.opened_at
    return outage_at(uow, opening.subject_id, at) is not None


def cases(store: Transactions[CaseUnit], where: CaseFilter, limit: int, offset: int) -> list[Case]:
    """Cases matching `where`, newest first."""
    with store.transaction() as uow:
        return uow.cases.listing(where, limit, offset)


def case_with_history(store: Transactions[CaseUnit], case_id: str) -> tuple[Case, list[CaseAction]]:
    """A case and its audited steps, oldest first (`UnknownCase` if there is none)."""
    with store.transaction() as uow:
        case = uow.cases.one(case_id)
        if case is None:
            raise UnknownCase(case_id)
        return case, uow.cases.history(case_id)


def act(store: Transactions[CaseUnit], case_id: str, request: StepRequest, now: datetime) -> tuple[Case, CaseAction]:
    """Take a workflow step on a case, audited with who and why: the case after it and the
    action recorded. `UnknownCase`, or `StepRefused` when the workflow forbids the step from
    the case's status (nothing is written)."""
    with store.transaction() as uow:
        case = uow.cases.holding(case_id)
        if case is None:
            raise UnknownCase(case_id)
        moved = take_step(case, request)
        action = uow.cases.move(case, request.step, moved, request.actor, request.reason.strip(), now)
        after = uow.cases.one(case_id)
        assert after is not None
        if request.step is Step.ASSIGN and after.assignee and uow.field_staff.known([after.assignee]):
            notice = assignee_notice(after, action.action_id, now)
            if notice is not None:
                uow.alerts.raise_alerts([notice], now)
        return after, action


def live_actions(
    store: Transactions[CaseUnit], after_id: int, area: str | None, limit: int = 100
) -> list[tuple[CaseAction, Case]]:
    """Cases opened or moved since action `after_id`, oldest first (the live stream)."""
    with store.transaction() as uow:
        return uow.cases.actions_after(after_id, area, limit)


def surroundings(store: Transactions[EvidenceUnit], meter_id: str, begin: datetime, end: datetime) -> Surroundings:
    """A meter's intervals and events in [begin, end) and its relay now (a case's evidence)."""
    with store.transaction() as uow:
        return uow.vigilance_evidence.around(meter_id, begin, end)


__all__ = [
    "StepRefused",
    "UnknownCase",
    "act",
    "case_with_history",
    "cases",
    "live_actions",
    "open_cases",
    "open_due_cases",
    "surroundings",
]


# ---------------------------------------------------------------------------- hooking

HOOKING_DAYS_BACK: Final = 1
"""`find_hooking` looks at the flagged days from this many days before `now`'s."""
HOOKING_HISTORY_DAYS: Final = 7
"""Earlier days a household's usual day is taken from, and a flagged run is traced back over."""


def find_hooking(store: Transactions[HookingUnit], now: datetime) -> list[str]:
    """Open a hooking case (subject: the transformer) for a transformer flagged on `now`'s IST
    day or the day before, its consumers ranked by how well their own pattern explains the
    missing energy; the ids of the cases this call opened.

    One case per transformer while it is open: a transformer with an open hooking case opens
    no other, however its flags come and go (the flagged day is added to that case's evidence
    instead); a run of flagged days with a case already (open or closed) is left alone (its key
    is known). A flagged day on which one of the transformer's consumers' meters opened a case
    of its own (a bypass, a magnet: the missing energy is that meter's, and already a case)
    opens none."""
    today = ist_day(now)
    openings: dict[str, CaseOpening] = {}
    with store.transaction() as uow:
        energy = uow.energy
        flagged = energy.flagged(today - timedelta(days=HOOKING_DAYS_BACK), today)
        runs: dict[str, tuple[StoredDay, date]] = {}
        for s in sorted(flagged, key=lambda s: s.day.day):
            earlier = energy.stored(
                s.day.day - timedelta(days=HOOKING_HISTORY_DAYS), s.day.day, transformer=s.day.transformer
            )
            by_day = {e.day.day: e for e in earlier}
            first = s.day.day
            while (prev := by_day.get(first - timedelta(days=1))) is not None and prev.flagged:
                first -= timedelta(days=1)
            runs[s.day.transformer] = (s, first)  # the latest flagged day wins
        known = uow.cases.known_keys([case_key(t, first) for t, (_, first) in runs.items()])
        for transformer, (s, first) in runs.items():
            key = case_key(transformer, first)
            if _still_open(uow, transformer, s) or key in known:
                continue
            day = s.day.day
            consumers = energy.consumer_intervals(transformer, day)
            if _explained_by_a_meter_case(uow, list(consumers), ist_midnight(day)):
                continue
            f = fit(whole_slots(s.day))
            # What the day lost beyond its typical interval: a hook's hours stand out of it.
            residual = list(f.residual_wh) if f else []
            typical = statistics.median([r for r in residual if r is not None] or [0.0])
            unexplained = [None if r is None else r - typical for r in residual]
            history: dict[str, list[Sequence[int | None]]] = {}
            for back in range(1, HOOKING_HISTORY_DAYS + 1):
                earlier_day = day - timedelta(days=back)
                for meter_id, series in energy.consumer_intervals(transformer, earlier_day).items():
                    history.setdefault(meter_id, []).append(series)
            openings[key] = opening(
                balance=transformer_balance(s.day),
                area=s.day.area,
                first_day=first,
                excess_w=s.excess_w or 0,
                unexplained_w=s.unexplained_w,
                night_w=s.night_w,
                ranked=rank(unexplained, consumers, history),
                at=now,
            )
    return open_cases(store, list(openings.values()), now)


def _still_open(uow: HookingUnit, transformer: str, flagged: StoredDay) -> bool:
    """Whether the transformer has a hooking case still open (the flagged day then goes into
    its evidence)."""
    still = uow.cases.listing(CaseFilter(kind=HOOKING, subject_id=transformer, open_only=True), 1, 0)
    if not still:
        return False
    case = still[0]
    added = with_flagged_day(case.evidence, transformer_balance(flagged.day), flagged.excess_w or 0)
    if added is not None:
        uow.cases.add_evidence(case.case_id, added)
    return True


def _explained_by_a_meter_case(uow: HookingUnit, meter_ids: Sequence[str], since: datetime) -> bool:
    """Whether one of these meters opened a case of its own since `since`."""
    for meter_id in meter_ids:
        for case in uow.cases.listing(CaseFilter(subject_id=meter_id), 5, 0):
            if case.subject_level is SubjectLevel.METER and case.opened_at >= since:
                return True
    return False


# ---------------------------------------------------------------------------- anomalies


def score_anomalies(
    store: Transactions[AnomalyUnit],
    day: date,
    *,
    area: str | None = None,
    transformer: str | None = None,
    kind: AnomalyKind | None = None,
    min_score: float = 0.0,
) -> list[Anomaly]:
    """Every consumer meter's day scored for anomalies (of one area, transformer or kind),
    highest score first, each with its reason in words."""
    with store.transaction() as uow:
        days = uow.anomaly_facts.meter_days(day, area, transformer)
    return ranked(days, kind, min_score)
