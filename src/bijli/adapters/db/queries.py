"""Read side: what the API, the pages and the demo summary ask of the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db import commands
from bijli.adapters.db import schema as t
from bijli.adapters.db.archive_tables import reading_archives
from bijli.adapters.db.charging import open_charges, running_charges
from bijli.adapters.db.registry import SqlRegistry
from bijli.headend.command_records import CommandRecord
from bijli.headend.records import KeptFrame
from bijli.mdm.meters import StatusChange
from bijli.prepaid.model import ARREARS_KINDS, CHARGE_KINDS, EntryKind

if TYPE_CHECKING:
    from bijli.adapters.db.archive import ArchiveReader

_CHARGES = [k.value for k in CHARGE_KINDS]
_ARREARS = [k.value for k in ARREARS_KINDS]
_ADJUSTMENTS = [EntryKind.ADJUSTMENT.value, EntryKind.FINAL_SETTLEMENT.value]
_RECHARGES = [EntryKind.RECHARGE.value, EntryKind.REFUND.value]
"""Recharges net of refunds (a refund is a negative entry of its own)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterView:
    meter_id: str
    account_no: str | None
    consumer_name: str | None
    area: str
    feeder: str
    transformer: str
    status: str
    sanctioned_load_w: int | None
    last_seen: datetime | None
    last_interval: datetime | None
    active_sim: int | None
    operator: str | None
    rssi_dbm: int | None
    relay: int | None
    balance_paise: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingView:
    interval_start: datetime
    import_wh: int
    import_wh_total: int
    voltage_dv: int
    current_ma: int
    quality: str
    flags: int = 0
    """Validation and estimation flags (`bijli.mdm.vee.Flag`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EditView:
    """One entry of a meter's reading edit log: an estimate, a replacement or a flag."""

    interval_start: datetime
    action: str
    reason: str
    at: datetime
    before: str | None
    """The reading before, as JSON (import_wh, import_wh_total, quality, flags); null when new."""
    after: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceView:
    account_no: str
    balance_paise: int
    opening_paise: int
    recharges_paise: int
    charges_paise: int
    adjustments_paise: int
    last_entry_at: datetime | None
    arrears_recovered_paise: int = 0
    """Of the recharges, what went to arrears (positive), shown as its own line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MoneyTotals:
    balance_start_paise: int
    recharges_paise: int
    charges_paise: int
    balance_end_paise: int


class Queries:
    """Read-only questions to the store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._archive: ArchiveReader | None = None

    def count_meters(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.meters)).scalar_one())

    def readings(self, meter_id: str, start: datetime, end: datetime) -> list[ReadingView]:
        """Intervals starting in [start, end), oldest first."""
        r = t.readings.c
        q = (
            sa.select(r.interval_start, r.import_wh, r.import_wh_total, r.voltage_dv, r.current_ma, r.quality, r.flags)
            .where(r.meter_id == meter_id, r.interval_start >= start, r.interval_start < end)
            .order_by(r.interval_start)
        )
        # One statement: no transaction around it, so no BEGIN and ROLLBACK round trips.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            found = [
                ReadingView(
                    interval_start=at,
                    import_wh=wh,
                    import_wh_total=total,
                    voltage_dv=v,
                    current_ma=i,
                    quality=k,
                    flags=f,
                )
                for at, wh, total, v, i, k, f in conn.execute(q).all()
            ]
            archived = self._archived(conn, meter_id, start, end)
        if not archived:
            return found
        # A month moved to Parquet (`bijli db archive`); a reading stored since wins.
        by_start = {v.interval_start: v for v in archived}
        by_start.update((v.interval_start, v) for v in found)
        return [by_start[at] for at in sorted(by_start)]

    def _archived(self, conn: Connection, meter_id: str, start: datetime, end: datetime) -> list[ReadingView]:
        a = reading_archives.c
        if conn.execute(sa.select(a.month).limit(1)).first() is None:  # nothing archived: no pyarrow
            return []
        from bijli.adapters.db.archive import ArchiveReader

        if self._archive is None:
            self._archive = ArchiveReader()
        table = self._archive.readings(conn, meter_id, start, end)
        if table is None:
            return []
        return [
            ReadingView(
                interval_start=row["interval_start"],
                import_wh=row["import_wh"],
                import_wh_total=row["import_wh_total"],
                voltage_dv=row["voltage_dv"],
                current_ma=row["current_ma"],
                quality=row["quality"],
                flags=row["flags"],
            )
            for row in table.to_pylist()
        ]

    def edits(self, meter_id: str, start: datetime, end: datetime) -> list[EditView]:
        """The edit log of intervals starting in [start, end), by interval, oldest edit first."""
        e = t.reading_edits.c
        q = (
            sa.select(e.interval_start, e.action, e.reason, e.at, e.before, e.after)
            .where(e.meter_id == meter_id, e.interval_start >= start, e.interval_start < end)
            .order_by(e.interval_start, e.id)
        )
        with self.engine.connect() as conn:
            return [
                EditView(interval_start=at, action=action, reason=reason, at=when, before=before, after=after)
                for at, action, reason, when, before, after in conn.execute(q).all()
            ]

    def balance(self, account_no: str) -> BalanceView:
        l = t.ledger.c  # noqa: E741 - the ledger's columns
        q = sa.select(
            sa.func.coalesce(sa.func.sum(l.amount_paise), 0),
            sa.func.coalesce(sa.func.sum(sa.case((l.kind == EntryKind.OPENING.value, l.amount_paise), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((l.kind.in_(_RECHARGES), l.amount_paise), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((l.kind.in_(_CHARGES), -l.amount_paise), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((l.kind.in_(_ADJUSTMENTS), l.amount_paise), else_=0)), 0),
            sa.func.max(l.posted_at),
            sa.func.coalesce(
                sa.func.sum(sa.case((l.kind == EntryKind.ARREARS_RECOVERY.value, -l.amount_paise), else_=0)), 0
            ),
        ).where(l.account_no == account_no, l.kind.not_in(_ARREARS))
        with self.engine.connect() as conn:
            total, opening, recharges, charges, adjustments, last, recovered = conn.execute(q).one()
            running = int(conn.execute(sa.select(running_charges(sa.literal(account_no)))).scalar_one())
        total, charges = int(total) - running, int(charges) + running  # days not on the ledger yet
        if last is not None and not isinstance(last, datetime):
            last = t.UtcDateTime().process_result_value(last, self.engine.dialect)
        return BalanceView(
            account_no=account_no,
            balance_paise=int(total),
            opening_paise=int(opening),
            recharges_paise=int(recharges),
            charges_paise=int(charges),
            adjustments_paise=int(adjustments),
            last_entry_at=last,
            arrears_recovered_paise=int(recovered),
        )

    def account_mobile(self, account_no: str) -> str | None:
        """The mobile number an account's consumer logs in with; None if there is no such account."""
        a = t.accounts.c
        with self.engine.connect() as conn:
            found: str | None = conn.execute(sa.select(a.mobile).where(a.account_no == account_no)).scalar()
        return found

    def payment_account(self, payment_id: str) -> str | None:
        """The account a payment was for; None if there is no such payment."""
        p = t.payments.c
        with self.engine.connect() as conn:
            found: str | None = conn.execute(sa.select(p.account_no).where(p.payment_id == payment_id)).scalar()
        return found

    def money_totals(self) -> MoneyTotals:
        """Across all accounts: opening balances, recharges, charges and what is left."""
        l = t.ledger.c  # noqa: E741 - the ledger's columns
        with self.engine.connect() as conn:
            by_kind = dict(conn.execute(sa.select(l.kind, sa.func.sum(l.amount_paise)).group_by(l.kind)).all())
            total = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(l.amount_paise), 0)).where(l.kind.not_in(_ARREARS))
            ).scalar_one()
            running = int(conn.execute(open_charges()).scalar_one())
        return MoneyTotals(
            balance_start_paise=int(by_kind.get(EntryKind.OPENING.value, 0)),
            recharges_paise=int(by_kind.get(EntryKind.RECHARGE.value, 0)),
            charges_paise=-sum(int(by_kind.get(k, 0)) for k in _CHARGES) + running,
            balance_end_paise=int(total) - running,
        )

    def count_readings(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.readings)).scalar_one())

    def failovers_total(self) -> int:
        """SIM failovers the meters have reported, all together."""
        with self.engine.connect() as conn:
            q = sa.select(sa.func.coalesce(sa.func.sum(t.meter_state.c.failovers), 0))
            return int(conn.execute(q).scalar_one())

    def count_token_redemptions(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.token_redemptions)).scalar_one())

    def count_quarantined(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.quarantine)).scalar_one())

    def quarantine_reasons(self) -> dict[str, int]:
        q = sa.select(t.quarantine.c.reason, sa.func.count()).group_by(t.quarantine.c.reason)
        with self.engine.connect() as conn:
            return {reason: int(n) for reason, n in conn.execute(q)}

    def quarantined(
        self, reason: str | None = None, meter_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> tuple[list[KeptFrame], int]:
        """The newest `limit` kept frames (without their payloads) matching what is given, and
        how many match in all."""
        q = t.quarantine.c
        where = [
            *([q.reason == reason] if reason is not None else []),
            *([q.meter_id == meter_id] if meter_id is not None else []),
            *([q.received_at >= since] if since is not None else []),
        ]
        rows = (
            sa.select(q.id, q.received_at, q.topic, q.meter_id, q.reason, q.detail, q.reprocessed_at, q.outcome)
            .where(*where)
            .order_by(q.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(t.quarantine).where(*where)).scalar_one())
            found = [
                KeptFrame(
                    id=int(r.id),
                    received_at=r.received_at,
                    topic=r.topic,
                    meter_id=r.meter_id,
                    reason=r.reason,
                    detail=r.detail,
                    payload=b"",
                    reprocessed_at=r.reprocessed_at,
                    outcome=r.outcome,
                )
                for r in conn.execute(rows)
            ]
        return found, total

    def latest_interval(self) -> datetime | None:
        with self.engine.connect() as conn:
            latest: datetime | None = conn.execute(sa.select(sa.func.max(t.meter_state.c.last_interval))).scalar_one()
        return latest

    def command(self, command_id: str) -> CommandRecord | None:
        """A command with its audit trail."""
        with self.engine.connect() as conn:
            return commands.find(conn, command_id)

    def commands_of(self, meter_id: str, limit: int, offset: int = 0) -> list[CommandRecord]:
        """The meter's commands, newest first, `offset` of them skipped."""
        with self.engine.connect() as conn:
            return commands.for_meter(conn, meter_id, limit, offset)

    def status_history(self, meter_id: str) -> tuple[str, list[StatusChange]] | None:
        """The meter's status now and its status changes, newest first; None for an unknown meter."""
        with self.engine.connect() as conn:
            registry = SqlRegistry(conn)
            current = registry.status(meter_id)
            return None if current is None else (current, registry.history(meter_id))
