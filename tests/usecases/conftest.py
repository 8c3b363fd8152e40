"""The use-case suite runs on every store: the in-memory fake (no database: unit speed),
SQLite and PostgreSQL. The same tests, the same outcomes."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from bijli.adapters.db import engine as db
from bijli.adapters.db import store as sql_store
from bijli.adapters.db.charging import SqlDayCharges
from bijli.adapters.db.commands import SqlCommands
from bijli.adapters.db.ledger import SqlBillingMonths, SqlLedger
from bijli.adapters.db.meter_state import SqlMeterState
from bijli.adapters.db.readings import SqlDailyUsage, SqlReadingEdits, SqlReadings
from bijli.adapters.db.received import SqlIngestLog, SqlQuarantine, SqlReceived
from bijli.adapters.db.registry import SqlRegistry
from bijli.adapters.db.settlement_queue import SqlSettlementQueue
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.headend.model import KeyRing
from bijli.kernel.unit import StoreUnavailable
from bijli.prepaid.tariff import builtin_tariffs
from tests.fakes import store as fake
from tests.support.world import SECRET, MemoryProbe, SqlProbe, World

TARIFF = "UP-LMV1-DU"
INSTALLED = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
"""When the test city's meters went into service."""
REGISTER_AT_INSTALLATION = 1_000_000

REPOSITORIES: dict[str, tuple[type, type]] = {
    "readings": (fake.MemoryReadings, SqlReadings),
    "edits": (fake.MemoryEdits, SqlReadingEdits),
    "daily": (fake.MemoryDaily, SqlDailyUsage),
    "settlement": (fake.MemorySettlementQueue, SqlSettlementQueue),
    "meters": (fake.MemoryMeterState, SqlMeterState),
    "registry": (fake.MemoryRegistry, SqlRegistry),
    "received": (fake.MemoryReceived, SqlReceived),
    "quarantine": (fake.MemoryQuarantine, SqlQuarantine),
    "ingest_log": (fake.MemoryIngestLog, SqlIngestLog),
    "commands": (fake.MemoryCommands, SqlCommands),
    "ledger": (fake.MemoryLedger, SqlLedger),
    "billing_months": (fake.MemoryBillingMonths, SqlBillingMonths),
    "day_charges": (fake.MemoryDayCharges, SqlDayCharges),
}


OUTAGES: dict[str, Callable[[], Exception]] = {
    "memory": lambda: StoreUnavailable("the store does not answer"),
    "sqlite": lambda: sa_exc.OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked")),
    "postgres": lambda: sa_exc.OperationalError(
        "INSERT …", {}, psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    ),
}
"""What each store raises when it cannot be reached, as its driver raises it (through SQLAlchemy)."""


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store brought up to the newest schema once a run; each world's store is a copy."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    engine = db.create(db.sqlite_url(folder))
    db.upgrade(engine)
    with engine.connect() as conn:  # everything into the file itself, nothing left in its log
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return folder / "bijli.db"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A store of each kind in turn, with a city of four consumers commissioned."""
    tariffs = builtin_tariffs()
    engine = None
    store: Any
    if request.param == "memory":
        store = fake.MemoryStore(tariffs)
        probe: Any = MemoryProbe(store)
    else:
        if request.param == "postgres":
            url = request.getfixturevalue("pg_url")
        else:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "bijli.db")
            url = db.sqlite_url(tmp_path)
        engine = db.create(url)
        db.upgrade(engine)
        store = sql_store.Store(engine, tariffs)
        probe = SqlProbe(store)
    side = 0 if request.param == "memory" else 1

    def fail(
        repository: str,
        method: str,
        when: Callable[..., bool] = lambda *_: True,
        error: Callable[[], Exception] | None = None,
    ) -> None:
        cls = REPOSITORIES[repository][side]
        works = getattr(cls, method)

        def broken(self: object, *args: Any, **kwargs: Any) -> Any:
            if when(*args, **kwargs):
                raise error() if error is not None else RuntimeError(f"the store failed in {repository}.{method}")
            return works(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, broken)

    # The meters read 1,000,000 Wh when installed: the test frames count up from there.
    city = [replace(c, initial_register_wh=REGISTER_AT_INSTALLATION) for c in build_city(4)]
    commission_city(store, TARIFF, city, INSTALLED)
    yield World(
        kind=request.param, store=store, probe=probe, ring=KeyRing(SECRET), fail=fail, outage=OUTAGES[request.param]
    )
    if engine is not None:
        engine.dispose()


def day(n: int = 1) -> datetime:
    """06:30 UTC (noon IST) on day `n` after the city went into service."""
    return INSTALLED + timedelta(days=n)
