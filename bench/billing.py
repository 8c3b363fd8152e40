"""`python -m bench.billing` (`bijli bench billing`): how fast whole 15-minute rounds are
charged on PostgreSQL, beside the bare write they cannot do without.

Every meter of a city is commissioned, then each round's readings (one per meter) are stored
and queued for settlement the way ingest leaves them (not timed). Settlement is then timed
round by round, as the head-end runs it (`bijli.mdm.handlers.settle`, 500 readings a
transaction, `--settlers` processes sharing the queue, as head-end workers do): validation
flags, each reading's charge
added to its account's running day charge, the daily aggregates. The limit measured in the
same run is the one write charging cannot avoid: one upsert of a round's day charges by a
single statement (`day_charges_upsert_per_s`). Then the day is closed onto the ledger (one
debit per account: `days_closed_per_s`), and every account's monthly statement is made
(`bijli.prepaid.handlers.monthly_statements`, 500 accounts a transaction: `statements_per_s`;
a month of one day's debits here, see `bijli bench statements` for whole months).

A round of 7.5 lakh meters should settle in under 60 s: `projected_round_s_750k` is the
round's time at the measured per-meter rate (the rate, not a run at that size: say so when
quoting it).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from bench import BenchError
from bench.command import RunDatabaseUrl, measured
from bench.database import dedicated_database, scratch_platform
from bijli.adapters.db import engine as db
from bijli.adapters.db.charging import SqlDayCharges
from bijli.adapters.db.store import Store
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.kernel.time import INTERVAL, epoch, ist_midnight, month_key
from bijli.kernel.unit import Transactions
from bijli.mdm.handlers import settle, settle_all
from bijli.mdm.model import IntervalRow
from bijli.mdm.ports import SettlementUnit
from bijli.prepaid.charging import DayCharge
from bijli.prepaid.handlers import monthly_statements
from bijli.prepaid.tariff import builtin_tariffs

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bijli_bench_billing"
TARGET_METERS = 750_000
TARGET_ROUND_S = 60.0
WRITE_CHUNK = 50_000
STATEMENT_BATCH = 500
"""Accounts whose month's statements are read in one transaction."""


def run(
    meters: int, rounds: int, settlers: int, database_url: str, progress: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Commission `meters`, store `rounds` rounds of readings, settle them round by round; the figures."""
    say = progress or (lambda _msg: None)
    load = os.getloadavg()[0]
    dedicated_database(database_url, fresh=True)
    with scratch_platform(database_url) as platform:
        figures = _run(platform, meters, rounds, settlers, say)
    figures["load_average_at_start"] = round(load, 2)
    return figures


def _run(platform: Platform, meters: int, rounds: int, settlers: int, say: Callable[[str], None]) -> dict[str, object]:
    store = platform.store
    day = date(2026, 11, 10)
    installed = ist_midnight(day) - timedelta(days=9)
    city = build_city(meters)
    t = time.perf_counter()
    commission_city(store, platform.settings.tariff_code, city, installed)
    say(f"commissioned {meters} meters in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(15959)
    registers = np.array([c.initial_register_wh for c in city], dtype=np.int64)
    ids = [c.meter_id for c in city]
    first = ist_midnight(day) + 40 * INTERVAL  # 10:00 IST
    settle_s: list[float] = []
    settle_cpu_s: list[float] = []
    upsert_s: list[float] = []
    spawn = multiprocessing.get_context("spawn")
    url = platform.settings.database_url
    with ProcessPoolExecutor(settlers, spawn, initializer=_open_settler, initargs=(url,)) as pool:
        for _ in as_completed([pool.submit(time.sleep, 0.2) for _ in range(settlers)]):
            pass  # every settler up before the first round is timed
        for r in range(rounds):
            start = first + r * INTERVAL
            wh = rng.integers(0, 400, size=meters).astype(np.int64)
            registers += wh
            _store_round(store, ids, start, wh, registers)
            t = time.perf_counter()
            settled, cpu_s = _settle_round(pool, start + INTERVAL, settlers)
            settle_s.append(time.perf_counter() - t)
            settle_cpu_s.append(cpu_s)
            if settled != meters:
                raise BenchError(f"round {r + 1}: {settled} readings settled, {meters} stored")
            upsert_s.append(_upsert_limit(store, ids, day, r))
            say(f"round {r + 1}: settled in {settle_s[-1]:.2f} s; the day charges' upsert alone {upsert_s[-1]:.2f} s")
    t = time.perf_counter()
    settle_all(store, ist_midnight(day + timedelta(days=1)) + timedelta(hours=3))  # the day closes
    close_s = time.perf_counter() - t
    say(f"day closed onto the ledger in {close_s:.2f} s")
    accounts = [c.account_no for c in city]
    t = time.perf_counter()
    statements = 0
    for lo in range(0, len(accounts), STATEMENT_BATCH):
        statements += len(monthly_statements(store, accounts[lo : lo + STATEMENT_BATCH], month_key(day)))
    statements_s = time.perf_counter() - t
    say(f"{statements} monthly statements in {statements_s:.2f} s")
    round_s = statistics.median(settle_s)
    per_meter_s = round_s / meters
    limit_s = statistics.median(upsert_s)
    with platform.store.engine.connect() as conn:
        ledger = int(conn.exec_driver_sql("SELECT count(*) FROM ledger WHERE kind = 'day_charge'").scalar_one())
    return {
        "meters": meters,
        "rounds": rounds,
        "settlers": settlers,
        "round_settle_s": round(round_s, 3),
        "settle_cpu_us_per_reading": round(statistics.median(settle_cpu_s) / meters * 1e6),
        "rounds_per_s": round(1 / round_s, 4),
        "readings_charged_per_s": round(meters / round_s),
        "projected_round_s_750k": round(per_meter_s * TARGET_METERS, 1),
        "target_round_s_750k": TARGET_ROUND_S,
        "ratio_to_target": round(TARGET_ROUND_S / (per_meter_s * TARGET_METERS), 3),
        "day_charges_upsert_per_s": round(meters / limit_s),
        "ratio_to_upsert": round(limit_s / round_s, 3),
        "days_closed": ledger,
        "days_closed_per_s": round(ledger / max(close_s, 1e-9)),
        "settle_s_each_round": [round(s, 3) for s in settle_s],
        "statements": statements,
        "statements_per_s": round(statements / max(statements_s, 1e-9)),
        "projected_statements_s_24k": round(24_000 * statements_s / max(statements, 1), 1),
    }


def _store_round(
    store: Transactions[SettlementUnit], ids: list[str], start: datetime, wh: np.ndarray, totals: np.ndarray
) -> None:
    """A round's readings stored and queued as ingest leaves them (not timed)."""
    at = epoch(start)
    now = start + INTERVAL
    for lo in range(0, len(ids), WRITE_CHUNK):
        rows = [
            IntervalRow(ids[i], at, int(wh[i]), int(wh[i]) + 10, 0, 2310, 2100, int(totals[i]))
            for i in range(lo, min(lo + WRITE_CHUNK, len(ids)))
        ]
        with store.transaction() as uow:
            uow.readings.store(rows, now)
            uow.settlement.enqueue([(r.meter_id, at, at + 960) for r in rows], now)


_settler_store: Store | None = None


def _open_settler(url: str) -> None:
    global _settler_store
    _settler_store = Store(db.create(url), builtin_tariffs())


def _settle_queue(now: datetime) -> tuple[int, float]:
    """In a settler process: settle until the queue is empty (500 readings a transaction);
    the readings it settled and the CPU seconds it took (its own, not the database's)."""
    assert _settler_store is not None
    done = 0
    cpu = time.process_time()
    while (report := settle(_settler_store, now, 1)).batches:
        done += report.readings
    return done, time.process_time() - cpu


def _settle_round(pool: ProcessPoolExecutor, now: datetime, settlers: int) -> tuple[int, float]:
    """Settle the queue as head-end workers do, each in a process of its own, sharing the
    queue (`SKIP LOCKED`)."""
    done = [f.result() for f in [pool.submit(_settle_queue, now) for _ in range(settlers)]]
    return sum(n for n, _ in done), sum(cpu for _, cpu in done)


def _upsert_limit(store: Transactions[SettlementUnit], ids: list[str], day: date, r: int) -> float:
    """The time of one statement adding a round's charges to every account's day (on a day of
    its own, rolled back): what settling a round has to write at the least."""
    accounts = [f"KESCO{m[2:]}" for m in ids]
    later = day + timedelta(days=3 + r)
    rows = [
        DayCharge(account_no=a, day=later, charge_paise=123, duty_paise=6, energy_wh=200, tariff_version="x")
        for a in accounts
    ]
    engine = store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            now = datetime.now(UTC)
            SqlDayCharges(conn).add(rows, now)  # first: rows made
            t = time.perf_counter()
            SqlDayCharges(conn).add(rows, now)  # then: rows added to, as every round after a day's first
            spent = time.perf_counter() - t
        finally:
            transaction.rollback()
    return spent


app = typer.Typer(add_completion=False)
console = Console(stderr=True)


@app.command()
def main(
    meters: Annotated[int, typer.Option(min=1, help="Consumer meters, each with an account.")] = 24_000,
    rounds: Annotated[int, typer.Option(min=1, help="15-minute rounds settled, one after another.")] = 4,
    settlers: Annotated[int, typer.Option(min=1, help="Processes settling the queue together.")] = 2,
    database_url: RunDatabaseUrl = DEFAULT_URL,
) -> None:
    """Whole 15-minute rounds charged per second on PostgreSQL, beside the bare upsert; one JSON line."""
    figures = measured(lambda: run(meters, rounds, settlers, database_url, progress=console.print), console)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
