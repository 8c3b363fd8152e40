"""A store in memory that keeps the promises of every area's ports.

A unit of work works on a copy of the state and puts it in place at the end of its block,
so an exception leaves the store as it was (rollback). One unit of work at a time: the
fake has no locks, as use-case tests run one at a time.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import msgspec

from bijli.accounts.model import Account, AccountStatus, AccountTerms, Consumer, Installation, MeterSite
from bijli.headend.command_records import CommandRecord, CommandState, HistoryEntry
from bijli.headend.commands import OPEN, Step, check_move
from bijli.headend.model import MeterRecord
from bijli.headend.records import (
    BatchLog,
    CounterUpdate,
    DailyRegister,
    KeptFrame,
    KeyCount,
    MeterEvent,
    QuarantineRecord,
    StatusReport,
    TokenRedemption,
)
from bijli.kernel.time import INTERVAL, utc_from_epoch
from bijli.mdm.meters import MeterStatus, StatusChange
from bijli.mdm.model import DayUsage, EpochKey, IntervalRow, Quality, ReadingEdit, ReadingKey, StoredReading
from bijli.mdm.ports import MeterSupply, QueuedBatch, QueuedReading
from bijli.prepaid.charging import Account as ChargedAccount
from bijli.prepaid.charging import DayCharge, Metered, MonthOpening, OpenDay
from bijli.prepaid.model import ARREARS_KINDS, Connection, EntryKind, LedgerEntry
from bijli.prepaid.ports import DayKey, MonthKey
from bijli.prepaid.tariff import Tariff
from tests.fakes.access import (
    AccessState,
    MemoryAttempts,
    MemoryBulk,
    MemoryCodes,
    MemoryConsumers,
    MemorySessions,
    MemoryStaff,
    MemoryTokens,
)

LastBefore = tuple[str, datetime, datetime]
EVER = (datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


T = TypeVar("T")


def replace(obj: T, **changes: Any) -> T:
    """A copy with `changes`, of a dataclass or a msgspec struct (the hot path's rows)."""
    if isinstance(obj, msgspec.Struct):
        return msgspec.structs.replace(obj, **changes)
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


@dataclass(slots=True)
class MeterRow:
    site: MeterSite
    installed_at: datetime
    status: str = MeterStatus.COMMISSIONED.value
    last_fc: int = 0
    fc_window: int = 0
    status_fc: int = 0
    last_seen: datetime | None = None
    last_interval: datetime | None = None
    status_report: StatusReport | None = None


@dataclass(slots=True)
class State:
    """Everything the fake store holds: what the tables hold."""

    meters: dict[str, MeterRow] = field(default_factory=dict)
    status_changes: list[StatusChange] = field(default_factory=list)
    readings: dict[ReadingKey, StoredReading] = field(default_factory=dict)
    edits: list[ReadingEdit] = field(default_factory=list)
    daily: dict[tuple[str, object], DayUsage] = field(default_factory=dict)
    queue: dict[int, list[QueuedReading]] = field(default_factory=dict)
    next_batch: int = 1
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    """By reference, in posting order."""
    months: dict[MonthKey, MonthOpening] = field(default_factory=dict)
    days: dict[DayKey, OpenDay] = field(default_factory=dict)
    """Each account's running charge per day, with what of it is posted."""
    days_changed: dict[DayKey, datetime] = field(default_factory=dict)
    events: dict[tuple[str, int, int], MeterEvent] = field(default_factory=dict)
    daily_registers: dict[tuple[str, int], DailyRegister] = field(default_factory=dict)
    redemptions: dict[tuple[str, int], TokenRedemption] = field(default_factory=dict)
    quarantine: list[KeptFrame] = field(default_factory=list)
    """By id (its place in the list, from 1)."""
    batches: list[BatchLog] = field(default_factory=list)
    commands: dict[str, CommandRecord] = field(default_factory=dict)
    meter_keys: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    """meter id -> (version held, version a key change moves it to)."""
    access: AccessState = field(default_factory=AccessState)
    consumers: dict[str, Consumer] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    installations: list[Installation] = field(default_factory=list)


class _Repo:
    def __init__(self, state: State) -> None:
        self.s = state


class MemoryReadings(_Repo):
    def store(self, rows: Sequence[IntervalRow], now: datetime) -> set[EpochKey]:
        there = set()
        for r in rows:
            key = (r.meter_id, utc_from_epoch(r.interval_start))
            if key in self.s.readings:
                there.add(r.key)
                continue
            self.s.readings[key] = StoredReading(
                meter_id=r.meter_id,
                interval_start=key[1],
                import_wh=r.import_wh,
                import_vah=r.import_vah,
                export_wh=r.export_wh,
                voltage_dv=r.voltage_dv,
                current_ma=r.current_ma,
                import_wh_total=r.import_wh_total,
                quality=Quality.ACTUAL,
                received_at=now,
            )
        return there

    def around(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, StoredReading]:
        found = {}
        for m, at in keys:
            for key in ((m, at), (m, at - INTERVAL)):
                if key in self.s.readings:
                    found[key] = self.s.readings[key]
        return found

    def at(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, StoredReading]:
        return {k: self.s.readings[k] for k in keys if k in self.s.readings}

    def replace(self, readings: Sequence[StoredReading]) -> None:
        for r in readings:
            self.s.readings[r.key] = r

    def set_flags(self, flags: Sequence[tuple[str, datetime, int]]) -> None:
        for m, at, f in flags:
            self.s.readings[(m, at)] = replace(self.s.readings[(m, at)], flags=f)

    def registers_at(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, int]:
        return {k: r.import_wh_total for k in keys if (r := self.s.readings.get(k)) is not None and r.actual}

    def incomplete_meters(self, first: datetime, last: datetime, expected: int) -> list[str]:
        counts: dict[str, int] = {}
        since: dict[str, datetime] = {}
        for m, at in self.s.readings:
            since[m] = min(since.get(m, at), at)
            if first <= at <= last:
                counts[m] = counts.get(m, 0) + 1
        return sorted(
            m
            for m, row in self.s.meters.items()
            if row.status == MeterStatus.COMMISSIONED
            and m in since
            and counts.get(m, 0) < min(expected, (last - max(first, since[m])) // INTERVAL + 1)
        )

    def between(self, meter_ids: Sequence[str], first: datetime, last: datetime) -> dict[str, list[StoredReading]]:
        found: dict[str, list[StoredReading]] = {}
        for (m, at), r in sorted(self.s.readings.items()):
            if m in meter_ids and first <= at <= last:
                found.setdefault(m, []).append(r)
        return found

    def add_estimates(self, readings: Sequence[StoredReading]) -> set[ReadingKey]:
        written = set()
        for r in readings:
            if r.key not in self.s.readings:
                self.s.readings[r.key] = r
                written.add(r.key)
        return written


class MemoryEdits(_Repo):
    def record(self, edits: Sequence[ReadingEdit]) -> None:
        self.s.edits.extend(edits)


class MemoryDaily(_Repo):
    def add(self, days: Sequence[DayUsage]) -> None:
        for d in days:
            was = self.s.daily.get((d.meter_id, d.day))
            if was is not None:
                d = replace(
                    d,
                    wh=was.wh + d.wh,
                    intervals=was.intervals + d.intervals,
                    last_received_at=max(was.last_received_at, d.last_received_at),
                    in_8h=was.in_8h + d.in_8h,
                    in_24h=was.in_24h + d.in_24h,
                )
            self.s.daily[(d.meter_id, d.day)] = d


class MemorySettlementQueue(_Repo):
    CHUNK = 500

    def enqueue(self, readings: Sequence[QueuedReading], now: datetime) -> None:
        for at in range(0, len(readings), self.CHUNK):
            self.s.queue[self.s.next_batch] = list(readings[at : at + self.CHUNK])
            self.s.next_batch += 1

    def newest(self) -> int | None:
        return max(self.s.queue, default=None)

    def claim(self, limit: int, last: int | None = None) -> list[QueuedBatch]:
        return [
            QueuedBatch(batch_id, [(m, utc_from_epoch(at), sent) for m, at, sent in items])
            for batch_id, items in sorted(self.s.queue.items())
            if last is None or batch_id <= last
        ][:limit]

    def done(self, batch_ids: Sequence[int]) -> None:
        for batch_id in batch_ids:
            self.s.queue.pop(batch_id, None)


class MemoryMeterState(_Repo):
    def __init__(self, state: State, tariffs: Mapping[str, Tariff]) -> None:
        super().__init__(state)
        self._tariffs = tariffs

    def counters_for(self, meter_ids: Iterable[str]) -> dict[str, MeterRecord]:
        return {
            m: MeterRecord(m, row.status, row.last_fc, None, fc_window=row.fc_window)
            for m in sorted(set(meter_ids))
            if (row := self.s.meters.get(m)) is not None
        }

    def supplies(self, meter_ids: Iterable[str]) -> dict[str, MeterSupply]:
        found = {}
        for m in set(meter_ids):
            row = self.s.meters.get(m)
            if row is None:
                continue
            account = next((a for a in self.s.accounts.values() if a.meter_id == m), None)
            connection = None
            if account is not None:
                connection = Connection(
                    account_no=account.account_no,
                    meter_id=m,
                    sanctioned_load_w=account.terms.sanctioned_load_w,
                    tariff=self._tariffs[account.terms.tariff_code],
                )
            relay = None if row.status_report is None else row.status_report.relay
            found[m] = MeterSupply(m, connection, relay)
        return found

    def last_seen(self, meter_ids: Sequence[str]) -> dict[str, datetime | None]:
        return {m: self.s.meters[m].last_seen for m in meter_ids if m in self.s.meters}

    def update(self, counters: Sequence[CounterUpdate], statuses: Sequence[StatusReport], now: datetime) -> None:
        for c in counters:
            row = self.s.meters[c.meter_id]
            row.last_fc, row.fc_window, row.last_seen = c.last_fc, c.fc_window, now
            if c.latest is not None:
                latest = utc_from_epoch(c.latest)
                if row.last_interval is None or row.last_interval < latest:
                    row.last_interval = latest
        for r in statuses:
            row = self.s.meters[r.meter_id]
            if row.status_fc < r.fc:
                row.status_fc, row.status_report = r.fc, r


class MemoryRegistry(_Repo):
    def known(self, meter_ids: Iterable[str]) -> set[str]:
        return {m for m in meter_ids if m in self.s.meters}

    def sites(self, meter_ids: Sequence[str]) -> dict[str, tuple[MeterSite, str]]:
        return {m: (row.site, row.status) for m in meter_ids if (row := self.s.meters.get(m)) is not None}

    def register(self, sites: Sequence[tuple[MeterSite, datetime]]) -> None:
        for site, at in sites:
            self.s.meters[site.meter_id] = MeterRow(site, at)

    def move(self, sites: Sequence[MeterSite]) -> None:
        for site in sites:
            self.s.meters[site.meter_id].site = site

    def installations_for(
        self, meter_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[Installation]]:
        found: dict[str, list[Installation]] = {}
        for i in sorted(self.s.installations, key=lambda i: i.installed_at):
            if i.meter_id in meter_ids and i.installed_at < end and (i.removed_at is None or i.removed_at > start):
                found.setdefault(i.meter_id, []).append(i)
        return found

    def status(self, meter_id: str) -> str | None:
        row = self.s.meters.get(meter_id)
        return None if row is None else row.status

    status_for_command = status
    status_for_change = status

    def set_status(self, meter_id: str, current: str, new: str) -> bool:
        row = self.s.meters[meter_id]
        if row.status != current:
            return False
        row.status = new
        return True

    def log_change(self, change: StatusChange) -> None:
        self.s.status_changes.append(change)

    def history(self, meter_id: str) -> list[StatusChange]:
        return [c for c in reversed(self.s.status_changes) if c.meter_id == meter_id]

    def changes_after(self, meter_ids: Sequence[str], since: datetime) -> dict[str, list[StatusChange]]:
        found: dict[str, list[StatusChange]] = {}
        for c in self.s.status_changes:
            if c.meter_id in meter_ids and c.at > since:
                found.setdefault(c.meter_id, []).append(c)
        return found


class MemoryAccounts(_Repo):
    def hold(self) -> None:
        pass  # one unit of work at a time

    def consumers(self, consumer_ids: Sequence[str]) -> dict[str, Consumer]:
        return {c: self.s.consumers[c] for c in consumer_ids if c in self.s.consumers}

    def add_consumers(self, consumers: Sequence[Consumer]) -> None:
        for c in consumers:
            assert c.consumer_id not in self.s.consumers
            self.s.consumers[c.consumer_id] = c

    def update_consumers(self, consumers: Sequence[Consumer]) -> None:
        for c in consumers:
            self.s.consumers[c.consumer_id] = c

    def accounts(self, account_nos: Sequence[str]) -> dict[str, Account]:
        return {a: self.s.accounts[a] for a in account_nos if a in self.s.accounts}

    def accounts_of(self, consumer_id: str) -> list[Account]:
        return sorted((a for a in self.s.accounts.values() if a.consumer_id == consumer_id), key=lambda a: a.account_no)

    def open_accounts(self, accounts: Sequence[Account], holders: Mapping[str, Consumer]) -> None:
        for a in accounts:
            assert a.account_no not in self.s.accounts and a.consumer_id in holders
            self.s.accounts[a.account_no] = a

    def set_terms(self, terms: Mapping[str, AccountTerms]) -> None:
        for n, x in terms.items():
            self.s.accounts[n] = replace(self.s.accounts[n], terms=x)

    def installed(self, meter_ids: Sequence[str]) -> dict[str, Installation]:
        return {i.meter_id: i for i in self.s.installations if i.meter_id in meter_ids and i.removed_at is None}

    def meters_removed(self, meter_ids: Sequence[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for i in self.s.installations:
            if i.meter_id in meter_ids and i.removed_at is not None:
                found[i.meter_id] = max(found.get(i.meter_id, i.removed_at), i.removed_at)
        return found

    def accounts_removed(self, account_nos: Sequence[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for i in self.s.installations:
            if i.account_no in account_nos and i.removed_at is not None:
                found[i.account_no] = max(found.get(i.account_no, i.removed_at), i.removed_at)
        return found

    def installations(self, account_no: str) -> list[Installation]:
        return sorted((i for i in self.s.installations if i.account_no == account_no), key=lambda i: i.installed_at)

    def install(self, installations: Sequence[Installation]) -> None:
        for i in installations:
            assert not self.installed([i.meter_id]) and self.s.accounts[i.account_no].meter_id in (None, i.meter_id)
            self.s.installations.append(i)
            self.s.accounts[i.account_no] = replace(self.s.accounts[i.account_no], meter_id=i.meter_id)

    def remove(self, meter_id: str, at: datetime, closing_wh_total: int, reason: str) -> None:
        for n, i in enumerate(self.s.installations):
            if i.meter_id == meter_id and i.removed_at is None:
                self.s.installations[n] = replace(i, removed_at=at, closing_wh_total=closing_wh_total, reason=reason)
                self.s.accounts[i.account_no] = replace(self.s.accounts[i.account_no], meter_id=None)

    def close(self, account_no: str, at: datetime) -> None:
        account = self.s.accounts[account_no]
        self.s.accounts[account_no] = replace(account, status=AccountStatus.CLOSED, closed_at=at, meter_id=None)

    def posted(self, account_nos: Sequence[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for n in account_nos:
            for kind in ("opening", "arrears"):
                entry = self.s.ledger.get(f"{kind}:{n}")
                if entry is not None:
                    found.setdefault(n, {})[entry.reference] = entry.amount_paise
        return found

    def balance(self, account_no: str) -> tuple[int, int]:
        mine = [e for e in self.s.ledger.values() if e.account_no == account_no]
        return (
            sum(e.amount_paise for e in mine if e.kind not in ARREARS_KINDS),
            -sum(e.amount_paise for e in mine if e.kind in ARREARS_KINDS)
            + sum(e.amount_paise for e in mine if e.kind is EntryKind.ARREARS_RECOVERY),
        )


class MemoryReceived(_Repo):
    def add_events(self, events: Sequence[MeterEvent], now: datetime) -> None:
        for e in events:
            self.s.events.setdefault((e.meter_id, e.code, e.occurred_at), e)

    def add_daily_registers(self, days: Sequence[DailyRegister], now: datetime) -> None:
        for d in days:
            self.s.daily_registers.setdefault((d.meter_id, d.day_start), d)

    def add_redemptions(self, redemptions: Sequence[TokenRedemption], now: datetime) -> None:
        for r in redemptions:
            self.s.redemptions.setdefault((r.meter_id, r.token_id), r)


class MemoryQuarantine(_Repo):
    def keep(self, records: Sequence[QuarantineRecord], now: datetime) -> None:
        for r in records:
            self.s.quarantine.append(
                KeptFrame(
                    id=len(self.s.quarantine) + 1,
                    received_at=now,
                    topic=r.topic,
                    meter_id=r.meter_id,
                    reason=r.reason,
                    detail=r.detail,
                    payload=r.payload,
                )
            )

    def waiting(self, reasons: Sequence[str], meter_id: str | None, after_id: int, limit: int) -> list[KeptFrame]:
        return [
            k
            for k in self.s.quarantine
            if k.reprocessed_at is None
            and k.reason in reasons
            and k.id > after_id
            and (meter_id is None or k.meter_id == meter_id)
        ][:limit]

    def mark_reprocessed(self, outcomes: Mapping[int, str], now: datetime) -> None:
        for i, outcome in outcomes.items():
            self.s.quarantine[i - 1] = replace(self.s.quarantine[i - 1], reprocessed_at=now, outcome=outcome)


class MemoryIngestLog(_Repo):
    def add(self, entry: BatchLog) -> None:
        self.s.batches.append(entry)


class MemoryCommands(_Repo):
    def by_key(self, idempotency_key: str) -> CommandRecord | None:
        return next((c for c in self.s.commands.values() if c.idempotency_key == idempotency_key), None)

    def add(self, command: CommandRecord) -> bool:
        if self.by_key(command.idempotency_key) is not None:
            return False
        self.s.commands[command.command_id] = command
        return True

    def states(self, command_ids: Sequence[str]) -> dict[str, CommandState]:
        return {i: _state(self.s.commands[i]) for i in command_ids if i in self.s.commands}

    def open_of(self, meter_id: str) -> list[CommandState]:
        return [_state(c) for _, c in sorted(self.s.commands.items()) if c.meter_id == meter_id and c.status in OPEN]

    def move(self, command: CommandState, step: Step, now: datetime) -> bool:
        stored = self.s.commands[command.command_id]
        if stored.status != command.status:
            return False
        if step.status != command.status:
            check_move(command.status, step.status)
        self.s.commands[command.command_id] = replace(
            stored,
            status=step.status,
            updated_at=now,
            detail=step.detail,
            history=(*stored.history, HistoryEntry(now, step.status, step.detail)),
        )
        return True


def _state(c: CommandRecord) -> CommandState:
    return CommandState(c.command_id, c.meter_id, c.action, c.status, c.attempts)


class MemoryLedger(_Repo):
    def post(self, entries: Sequence[LedgerEntry], now: datetime) -> None:
        for e in entries:
            self.s.ledger.setdefault(e.reference, e)


class MemoryBillingMonths(_Repo):
    def claim(self, candidates: Mapping[MonthKey, MonthOpening]) -> dict[MonthKey, MonthOpening]:
        for key, opening in candidates.items():
            self.s.months.setdefault(key, opening)
        return {k: self.s.months[k] for k in candidates}

    def opened(self, keys: Iterable[MonthKey]) -> dict[MonthKey, MonthOpening]:
        return {k: self.s.months[k] for k in set(keys) if k in self.s.months}

    def move(self, openings: Mapping[MonthKey, MonthOpening]) -> None:
        self.s.months.update(openings)


class MemoryRegisters(_Repo):
    def last_before(self, keys: Iterable[LastBefore]) -> dict[LastBefore, MonthOpening]:
        found = {}
        for meter, installed, start in set(keys):
            before = [
                r
                for (m, at), r in self.s.readings.items()
                if m == meter and r.actual and installed - INTERVAL < at < start
            ]
            if before:
                last = max(before, key=lambda r: r.interval_start)
                found[(meter, installed, start)] = MonthOpening(last.import_wh_total, last.interval_start + INTERVAL)
        return found

    def metered(self, meter_ids: Sequence[str], start: datetime, end: datetime) -> list[Metered]:
        return [
            Metered(m, at, r.import_wh, r.import_wh_total)
            for (m, at), r in sorted(self.s.readings.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            if m in meter_ids and start <= at < end and r.actual
        ]


class MemoryInstallations(_Repo):
    """The accounts a meter was installed on, over the registry's installations."""

    def __init__(self, state: State, tariffs: Mapping[str, Tariff]) -> None:
        super().__init__(state)
        self._tariffs = tariffs

    def of_account(self, account_no: str) -> ChargedAccount | None:
        return self._charged([account_no]).get(account_no)

    def accounts_of(self, meter_ids: Iterable[str]) -> dict[str, ChargedAccount]:
        wanted = set(meter_ids)
        return self._charged(sorted({i.account_no for i in self.s.installations if i.meter_id in wanted}))

    def _charged(self, account_nos: Sequence[str]) -> dict[str, ChargedAccount]:
        found = {}
        for account_no in account_nos:
            own = sorted((i for i in self.s.installations if i.account_no == account_no), key=_since)
            if not own:
                continue
            terms = self.s.accounts[account_no].terms
            found[account_no] = ChargedAccount(
                account_no=account_no,
                sanctioned_load_w=terms.sanctioned_load_w,
                tariff=self._tariffs[terms.tariff_code],
                installations=tuple(own),
            )
        return found


def _since(installation: Installation) -> datetime:
    return installation.installed_at


class MemoryDayCharges(_Repo):
    def known(self, keys: Iterable[DayKey]) -> set[DayKey]:
        return {k for k in keys if k in self.s.days}

    def add(self, days: Sequence[DayCharge], now: datetime) -> None:
        for d in days:
            self.s.days_changed[(d.account_no, d.day)] = now
            was = self.s.days.get((d.account_no, d.day))
            if was is None:
                self.s.days[(d.account_no, d.day)] = OpenDay(
                    account_no=d.account_no,
                    day=d.day,
                    charge_paise=d.charge_paise,
                    duty_paise=d.duty_paise,
                    energy_wh=d.energy_wh,
                    tariff_version=d.tariff_version,
                    posted_paise=0,
                    posted_duty_paise=0,
                    posted_energy_wh=0,
                    postings=0,
                )
            else:
                self.s.days[(d.account_no, d.day)] = replace(
                    was,
                    charge_paise=was.charge_paise + d.charge_paise,
                    duty_paise=was.duty_paise + d.duty_paise,
                    energy_wh=was.energy_wh + d.energy_wh,
                    tariff_version=d.tariff_version,
                )

    def put(self, days: Sequence[DayCharge], now: datetime) -> None:
        for d in days:
            self.s.days_changed[(d.account_no, d.day)] = now
            was = self.s.days.get((d.account_no, d.day))
            if was is None:
                self.add([d], now)
            else:
                self.s.days[(d.account_no, d.day)] = replace(
                    was,
                    charge_paise=d.charge_paise,
                    duty_paise=d.duty_paise,
                    energy_wh=d.energy_wh,
                    tariff_version=d.tariff_version,
                )

    def due(self, through: date, quiet_since: datetime, limit: int) -> list[OpenDay]:
        quiet = [k for k, at in self.s.days_changed.items() if at <= quiet_since]
        due = sorted(
            (d for k in quiet if (d := self.s.days[k]).day <= through and _open(d)),
            key=lambda d: (d.day, d.account_no),
        )
        return due[:limit]

    def history(self, account_nos: Sequence[str], first: date, last: date) -> dict[str, dict[date, tuple[int, int]]]:
        wanted = set(account_nos)
        found: dict[str, dict[date, tuple[int, int]]] = {}
        for (account_no, day), d in self.s.days.items():
            if account_no in wanted and first <= day <= last:
                found.setdefault(account_no, {})[day] = (d.charge_paise, d.energy_wh)
        return found

    def posted(self, days: Sequence[OpenDay]) -> None:
        for d in days:
            was = self.s.days[(d.account_no, d.day)]
            self.s.days[(d.account_no, d.day)] = replace(
                was,
                posted_paise=d.charge_paise,
                posted_duty_paise=d.duty_paise,
                posted_energy_wh=d.energy_wh,
                postings=was.postings + 1,
            )


def _open(d: OpenDay) -> bool:
    return (d.charge_paise, d.duty_paise, d.energy_wh) != (d.posted_paise, d.posted_duty_paise, d.posted_energy_wh)


def running_charges(state: State, account_no: str) -> int:
    """What the account's days have charged beyond the ledger (paise)."""
    return sum(d.charge_paise - d.posted_paise for (a, _), d in state.days.items() if a == account_no)


class MemoryMeterKeys(_Repo):
    def versions_of(self, meter_ids: Iterable[str]) -> dict[str, int]:
        return {m: self.s.meter_keys[m][0] for m in set(meter_ids) if m in self.s.meter_keys}

    def changing(self) -> int:
        waiting = {c.meter_id for c in self.s.commands.values() if c.action == "key_change" and c.status in OPEN}
        return sum(1 for m, (_, pending) in self.s.meter_keys.items() if pending is not None and m in waiting)

    def begin_change(self, current: int, to: int, now: datetime) -> list[str]:
        for meter_id in self.s.meters:
            self.s.meter_keys.setdefault(meter_id, (current, None))
        moving = sorted(
            m
            for m, row in self.s.meters.items()
            if row.status == MeterStatus.COMMISSIONED.value and self.s.meter_keys[m][0] != to
        )
        for meter_id in moving:
            self.s.meter_keys[meter_id] = (self.s.meter_keys[meter_id][0], to)
        return moving

    def switch(self, meter_ids: Sequence[str], now: datetime) -> int:
        moved = 0
        for meter_id in set(meter_ids):
            pending = self.s.meter_keys.get(meter_id, (0, None))[1]
            if pending is not None:
                self.s.meter_keys[meter_id] = (pending, None)
                moved += 1
        return moved

    def held(self, current: int, in_service: bool = False) -> dict[str, int]:
        return {
            m: self.s.meter_keys.get(m, (current, None))[0]
            for m in sorted(self.s.meters)
            if not in_service or self.s.meters[m].status == MeterStatus.COMMISSIONED.value
        }

    def counts(self, current: int) -> list[KeyCount]:
        tally = Counter(self.s.meter_keys.get(m, (current, None)) for m in self.s.meters)
        return [KeyCount(version=v, pending=p, meters=n) for (v, p), n in sorted(tally.items(), key=str)]


class MemoryUnit:
    """One unit of work's repositories over a working copy of the state."""

    def __init__(self, state: State, tariffs: Mapping[str, Tariff]) -> None:
        self.readings = MemoryReadings(state)
        self.edits = MemoryEdits(state)
        self.daily = MemoryDaily(state)
        self.settlement = MemorySettlementQueue(state)
        self.meters = MemoryMeterState(state, tariffs)
        self.registry = MemoryRegistry(state)
        self.accounts = MemoryAccounts(state)
        self.received = MemoryReceived(state)
        self.quarantine = MemoryQuarantine(state)
        self.ingest_log = MemoryIngestLog(state)
        self.commands = MemoryCommands(state)
        self.ledger = MemoryLedger(state)
        self.billing_months = MemoryBillingMonths(state)
        self.registers = MemoryRegisters(state)
        self.installations = MemoryInstallations(state, tariffs)
        self.day_charges = MemoryDayCharges(state)
        self.meter_keys = MemoryMeterKeys(state)
        self.staff = MemoryStaff(state)
        self.tokens = MemoryTokens(state)
        self.sessions = MemorySessions(state)
        self.attempts = MemoryAttempts(state)
        self.codes = MemoryCodes(state)
        self.consumers = MemoryConsumers(state)
        self.bulk = MemoryBulk(state)


class MemoryStore:
    """The fake store: `transaction()` commits the working copy when its block ends."""

    def __init__(self, tariffs: Mapping[str, Tariff]) -> None:
        self.state = State()
        self.tariffs = tariffs
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[MemoryUnit]:
        working = copy.deepcopy(self.state)
        yield MemoryUnit(working, self.tariffs)
        self.state = working  # reached only when the block ended without an exception
        self.transactions += 1
