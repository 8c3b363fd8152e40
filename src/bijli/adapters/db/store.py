"""The SQL store: one engine, and a unit of work per transaction with a repository per
table group. Every area's unit-of-work port (`IngestUnit`, `SettlementUnit`, `VeeUnit`,
`CommandUnit`, `OnboardingUnit`, `AccessUnit`, ...) is a view of `SqlUnit`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db.access import (
    SqlApiTokens,
    SqlBulkRequests,
    SqlConsumers,
    SqlFieldStaff,
    SqlLoginAttempts,
    SqlLoginCodes,
    SqlSessions,
    SqlStaff,
)
from bijli.adapters.db.accounts import SqlAccounts
from bijli.adapters.db.alerts import SqlAlerts
from bijli.adapters.db.anomalies import SqlAnomalyFacts
from bijli.adapters.db.cases import SqlCaseEvents, SqlCaseEvidence, SqlCases
from bijli.adapters.db.charging import SqlDayCharges, SqlInstallations, SqlRegisters
from bijli.adapters.db.commands import SqlCommands
from bijli.adapters.db.disputes import SqlDisputes
from bijli.adapters.db.energy import SqlEnergy
from bijli.adapters.db.faults import translated
from bijli.adapters.db.ledger import SqlBillingMonths, SqlLedger
from bijli.adapters.db.meter_keys import SqlMeterKeys
from bijli.adapters.db.meter_state import SqlMeterState
from bijli.adapters.db.outages import SqlOutages
from bijli.adapters.db.payments import SqlMirrors, SqlPayments, SqlReconciliation, SqlRedemptions, SqlTokenRegister
from bijli.adapters.db.readings import SqlDailyUsage, SqlReadingEdits, SqlReadings
from bijli.adapters.db.received import SqlIngestLog, SqlQuarantine, SqlReceived
from bijli.adapters.db.registry import SqlRegistry
from bijli.adapters.db.settlement_queue import SqlSettlementQueue
from bijli.adapters.db.sharing import SqlShareLinks
from bijli.adapters.db.statements import SqlStatementBooks
from bijli.adapters.db.supply import SqlSupply
from bijli.adapters.db.tracking import SqlPaymentTrails
from bijli.prepaid.tariff import Tariff


class SqlUnit:
    """One transaction's repositories."""

    def __init__(self, conn: Connection, tariffs: Mapping[str, Tariff]) -> None:
        self.conn = conn
        self.readings = SqlReadings(conn)
        self.edits = SqlReadingEdits(conn)
        self.daily = SqlDailyUsage(conn)
        self.settlement = SqlSettlementQueue(conn)
        self.meters = SqlMeterState(conn, tariffs)
        self.registry = SqlRegistry(conn)
        self.accounts = SqlAccounts(conn)
        self.received = SqlReceived(conn)
        self.quarantine = SqlQuarantine(conn)
        self.ingest_log = SqlIngestLog(conn)
        self.commands = SqlCommands(conn)
        self.ledger = SqlLedger(conn)
        self.billing_months = SqlBillingMonths(conn)
        self.registers = SqlRegisters(conn)
        self.installations = SqlInstallations(conn, tariffs)
        self.day_charges = SqlDayCharges(conn)
        self.statements = SqlStatementBooks(conn, tariffs)
        self.meter_keys = SqlMeterKeys(conn)
        self.staff = SqlStaff(conn)
        self.tokens = SqlApiTokens(conn)
        self.sessions = SqlSessions(conn)
        self.attempts = SqlLoginAttempts(conn)
        self.codes = SqlLoginCodes(conn)
        self.consumers = SqlConsumers(conn)
        self.bulk = SqlBulkRequests(conn)
        self.payments = SqlPayments(conn)
        self.token_register = SqlTokenRegister(conn)
        self.redemptions = SqlRedemptions(conn)
        self.mirrors = SqlMirrors(conn, tariffs)
        self.reconciliation = SqlReconciliation(conn)
        self.trails = SqlPaymentTrails(conn)
        self.alerts = SqlAlerts(conn)
        self.supply = SqlSupply(conn)
        self.energy = SqlEnergy(conn)
        self.anomaly_facts = SqlAnomalyFacts(conn)
        self.outages = SqlOutages(conn)
        self.cases = SqlCases(conn)
        self.field_staff = SqlFieldStaff(conn)
        self.disputes = SqlDisputes(conn)
        self.share_links = SqlShareLinks(conn)
        self.vigilance_events = SqlCaseEvents(conn)
        self.vigilance_evidence = SqlCaseEvidence(conn)


class Store:
    """The store over one engine; `transaction()` gives a unit of work that commits when its
    block ends and rolls back on an exception."""

    def __init__(self, engine: Engine, tariffs: Mapping[str, Tariff]) -> None:
        self.engine = engine
        self.tariffs = tariffs

    @contextmanager
    def transaction(self) -> Iterator[SqlUnit]:
        """A unit of work; a transient failure of the store (connection lost, serialization
        failure, deadlock, PostgreSQL restarting, SQLite locked) raises `StoreUnavailable`
        after the rollback, so every use case can tell "try again later" from bad data."""
        with translated(), self.engine.begin() as conn:
            yield SqlUnit(conn, self.tariffs)

    def dispose(self) -> None:
        self.engine.dispose()
