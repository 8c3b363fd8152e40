"""The cases table group (`cases`, `case_actions`, `round_cursors`), and what the cases read of
the meters: events by when they were received, places, intervals around an incident."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import case_tables as ct
from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import among, is_pg
from bijli.vigilance.cases import (
    Case,
    CaseAction,
    CaseOpening,
    Moved,
    Severity,
    Status,
    Step,
    SubjectLevel,
    case_id_for,
)
from bijli.vigilance.ports import (
    CaseFilter,
    IntervalFacts,
    MeterPlace,
    Opened,
    StoredEvent,
    Surroundings,
)

PLATFORM = "platform"
"""Who opens a case found by a detector, in its audit."""


def _case(r: Any) -> Case:
    return Case(
        case_id=r.case_id,
        key=r.key,
        kind=r.kind,
        severity=Severity(r.severity),
        status=Status(r.status),
        subject_level=SubjectLevel(r.subject_level),
        subject_id=r.subject_id,
        area=r.area,
        account_no=r.account_no,
        opened_at=r.opened_at,
        updated_at=r.updated_at,
        assignee=r.assignee,
        reason_code=r.reason_code,
        reason_en=r.reason_en,
        reason_hi=r.reason_hi,
        evidence=r.evidence or {},
        staff_told=r.staff_told,
    )


def _action(r: Any) -> CaseAction:
    return CaseAction(
        action_id=int(r.id),
        case_id=r.case_id,
        step=Step(r.step),
        from_status=None if r.from_status is None else Status(r.from_status),
        to_status=Status(r.to_status),
        actor=r.actor,
        at=r.at,
        reason=r.reason,
        assignee=r.assignee,
    )


class SqlCases:
    """`cases` and `case_actions`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open(self, openings: Sequence[CaseOpening], now: datetime) -> list[Opened]:
        if not openings:
            return []
        rows: dict[str, dict[str, Any]] = {}
        for o in openings:
            rows.setdefault(
                o.key,
                {
                    "case_id": case_id_for(o.key),
                    "key": o.key,
                    "kind": o.kind,
                    "severity": o.severity.value,
                    "status": Status.NEW.value,
                    "subject_level": o.subject_level.value,
                    "subject_id": o.subject_id,
                    "area": o.area,
                    "account_no": o.account_no,
                    "opened_at": o.opened_at,
                    "updated_at": o.opened_at,
                    "assignee": None,
                    "reason_code": o.reason_code,
                    "reason_en": o.reason_en,
                    "reason_hi": o.reason_hi,
                    "evidence": dict(o.evidence),
                },
            )
        dialect: Any = postgresql if is_pg(self.conn) else sqlite
        stmt = dialect.insert(ct.cases).on_conflict_do_nothing(index_elements=["key"])
        written = {r.key for r in self.conn.execute(stmt.returning(ct.cases.c.key), list(rows.values()))}
        if written:
            self.conn.execute(
                ct.case_actions.insert(),
                [
                    {
                        "case_id": rows[k]["case_id"],
                        "step": Step.OPEN.value,
                        "from_status": None,
                        "to_status": Status.NEW.value,
                        "actor": PLATFORM,
                        "at": rows[k]["opened_at"],
                        "reason": rows[k]["reason_en"],
                        "assignee": None,
                    }
                    for k in sorted(written, key=lambda k: (rows[k]["opened_at"], k))
                ],
            )
        found: list[Opened] = []
        claimed: set[str] = set()
        for o in openings:
            new = o.key in written and o.key not in claimed
            claimed.add(o.key)
            found.append(Opened(case_id=case_id_for(o.key), new=new))
        return found

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        c = ct.cases.c
        return set(self.conn.execute(sa.select(c.key).where(among(self.conn, c.key, sorted(set(keys))))).scalars())

    def add_evidence(self, case_id: str, evidence: Mapping[str, Any]) -> None:
        self.conn.execute(sa.update(ct.cases).where(ct.cases.c.case_id == case_id).values(evidence=dict(evidence)))

    def note_staff_told(self, told: Mapping[str, int]) -> None:
        c = ct.cases.c
        for case_id, n in sorted(told.items()):
            self.conn.execute(ct.cases.update().where(c.case_id == case_id).values(staff_told=n))

    def one(self, case_id: str) -> Case | None:
        r = self.conn.execute(sa.select(ct.cases).where(ct.cases.c.case_id == case_id)).first()
        return None if r is None else _case(r)

    def holding(self, case_id: str) -> Case | None:
        q = sa.select(ct.cases).where(ct.cases.c.case_id == case_id)
        if is_pg(self.conn):
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return None if r is None else _case(r)

    def move(self, case: Case, step: Step, moved: Moved, actor: str, reason: str, at: datetime) -> CaseAction:
        c = ct.cases.c
        self.conn.execute(
            ct.cases.update()
            .where(c.case_id == case.case_id)
            .values(status=moved.to_status.value, assignee=moved.assignee, updated_at=at)
        )
        row = {
            "case_id": case.case_id,
            "step": step.value,
            "from_status": case.status.value,
            "to_status": moved.to_status.value,
            "actor": actor,
            "at": at,
            "reason": reason,
            "assignee": moved.assignee if step is Step.ASSIGN else None,
        }
        action_id = self.conn.execute(ct.case_actions.insert().returning(ct.case_actions.c.id), row).scalar_one()
        return _action(_Row(id=action_id, **row))

    def history(self, case_id: str) -> list[CaseAction]:
        a = ct.case_actions.c
        rows = self.conn.execute(sa.select(ct.case_actions).where(a.case_id == case_id).order_by(a.id))
        return [_action(r) for r in rows]

    def listing(self, where: CaseFilter, limit: int, offset: int) -> list[Case]:
        c = ct.cases.c
        q = sa.select(ct.cases)
        if where.status is not None:
            q = q.where(c.status == where.status.value)
        if where.open_only:
            q = q.where(c.status.in_([Status.NEW.value, Status.ASSIGNED.value, Status.INSPECTED.value]))
        for column, value in (
            (c.kind, where.kind),
            (c.area, where.area),
            (c.severity, where.severity),
            (c.subject_id, where.subject_id),
        ):
            if value is not None:
                q = q.where(column == value)
        q = q.order_by(c.opened_at.desc(), c.case_id.desc()).limit(limit).offset(offset)
        return [_case(r) for r in self.conn.execute(q)]

    def actions_after(self, after_id: int, area: str | None, limit: int) -> list[tuple[CaseAction, Case]]:
        a, c = ct.case_actions.c, ct.cases.c
        q = (
            sa.select(ct.case_actions, *[col.label(f"c_{col.name}") for col in ct.cases.c])
            .join_from(ct.case_actions, ct.cases, a.case_id == c.case_id)
            .where(a.id > after_id)
            .order_by(a.id)
            .limit(limit)
        )
        if area is not None:
            q = q.where(c.area == area)
        found = []
        for r in self.conn.execute(q):
            m = r._mapping
            found.append((_action(r), _case(_Row(**{col.name: m[f"c_{col.name}"] for col in ct.cases.c}))))
        return found


class _Row:
    """Attribute access over a dict (a row put together here)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _event(r: Any) -> StoredEvent:
    return StoredEvent(
        event_id=int(r.id), meter_id=r.meter_id, code=int(r.code), occurred_at=r.occurred_at, received_at=r.received_at
    )


class SqlCaseEvents:
    """What the cases read of the meters: `events`, `meters` and `accounts`; and `round_cursors`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def received_since(self, after: tuple[datetime, int], codes: Sequence[int], limit: int) -> list[StoredEvent]:
        e = t.events.c
        at, after_id = after
        q = (
            sa.select(e.id, e.meter_id, e.code, e.occurred_at, e.received_at)
            .where(
                e.received_at >= at,
                sa.or_(e.received_at > at, e.id > after_id),
                e.code.in_(list(codes)),
            )
            .order_by(e.received_at, e.id)
            .limit(limit)
        )
        return [_event(r) for r in self.conn.execute(q)]

    def of_meters(
        self, meter_ids: Sequence[str], codes: Sequence[int], begin: datetime, end: datetime
    ) -> list[StoredEvent]:
        if not meter_ids:
            return []
        e = t.events.c
        q = (
            sa.select(e.id, e.meter_id, e.code, e.occurred_at, e.received_at)
            .where(
                among(self.conn, e.meter_id, sorted(meter_ids)),
                e.code.in_(list(codes)),
                e.occurred_at >= begin,
                e.occurred_at <= end,
            )
            .order_by(e.meter_id, e.occurred_at, e.id)
        )
        return [_event(r) for r in self.conn.execute(q)]

    def places(self, meter_ids: Sequence[str]) -> Mapping[str, MeterPlace]:
        if not meter_ids:
            return {}
        m, a = t.meters.c, t.accounts.c
        q = (
            sa.select(m.meter_id, m.area, m.feeder, m.transformer, a.account_no)
            .select_from(t.meters)
            .join(t.accounts, a.meter_id == m.meter_id, isouter=True)
            .where(among(self.conn, m.meter_id, sorted(meter_ids)))
        )
        return {
            r.meter_id: MeterPlace(
                meter_id=r.meter_id, area=r.area, feeder=r.feeder, transformer=r.transformer, account_no=r.account_no
            )
            for r in self.conn.execute(q)
        }

    def cursor(self, name: str) -> datetime | None:
        c = ct.round_cursors.c
        q = sa.select(c.at).where(c.name == name)
        if is_pg(self.conn):
            q = q.with_for_update()  # two servers' rounds take turns
        found: datetime | None = self.conn.execute(q).scalar()
        return found

    def save_cursor(self, name: str, at: datetime) -> None:
        dialect: Any = postgresql if is_pg(self.conn) else sqlite
        stmt = dialect.insert(ct.round_cursors).values(name=name, at=at)
        self.conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"at": stmt.excluded.at}))


class SqlCaseEvidence:
    """A meter's intervals, events and relay around an incident."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def around(self, meter_id: str, begin: datetime, end: datetime) -> Surroundings:
        r, e, s = t.readings.c, t.events.c, t.meter_state.c
        intervals = tuple(
            IntervalFacts(
                start=x.interval_start,
                import_wh=int(x.import_wh),
                export_wh=int(x.export_wh),
                voltage_dv=int(x.voltage_dv),
                current_ma=int(x.current_ma),
                quality=x.quality,
            )
            for x in self.conn.execute(
                sa.select(r.interval_start, r.import_wh, r.export_wh, r.voltage_dv, r.current_ma, r.quality)
                .where(r.meter_id == meter_id, r.interval_start >= begin, r.interval_start < end)
                .order_by(r.interval_start)
            )
        )
        events = tuple(
            _event(x)
            for x in self.conn.execute(
                sa.select(e.id, e.meter_id, e.code, e.occurred_at, e.received_at)
                .where(e.meter_id == meter_id, e.occurred_at >= begin, e.occurred_at < end)
                .order_by(e.occurred_at, e.id)
            )
        )
        state = self.conn.execute(sa.select(s.relay, s.last_seen).where(s.meter_id == meter_id)).first()
        return Surroundings(
            intervals=intervals,
            events=events,
            relay=None if state is None or state.relay is None else int(state.relay),
            last_seen=None if state is None else state.last_seen,
        )
