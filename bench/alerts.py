"""`python -m bench.alerts` (`bijli bench alerts`): the alerts outbox at a city's size.

Builds a benchmark store on PostgreSQL with `--accounts` consumers and accounts, then raises
one `low_balance` alert per account through the outbox (`uow.alerts.raise_alerts`, `--batch`
alerts per transaction, as the supply service raises a round's warnings), and delivers them
with `--workers` delivery workers at once (threads, each claiming its own deliveries with
`FOR UPDATE SKIP LOCKED`), by SMS to the file provider and to the web live feed. It checks
that every delivery is `sent` and that the SMS file holds each alert's message exactly once,
and prints one JSON line: alerts raised per second, deliveries per second, and the time a
7.5 lakh consumer round would take at that pace.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import Progress

from bench import BenchError
from bench.command import OwnDatabaseUrl, measured
from bench.database import dedicated_database, scratch_settings
from bijli.adapters.db import engine as db
from bijli.adapters.sms.file import FileSms
from bijli.alerts.handlers import BATCH, PARALLEL, LiveFeed, deliver_due
from bijli.alerts.model import Alert, AlertKind, Channel
from bijli.alerts.ports import Sender
from bijli.bootstrap import bootstrap

DEFAULT_URL = "postgresql://postgres@127.0.0.1/bijli_bench_alerts"
PREFIX = "KNAL"
FLEET = 750_000
"""The 7.5 lakh consumers a round is projected to."""


def build(url: str, accounts: int) -> None:
    """Consumers and accounts (no meters: alerts need only the account and its consumer)."""
    engine = db.create(url)
    try:
        db.upgrade(engine)
        at = datetime(2026, 11, 1, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO consumers (consumer_id, name, mobile, language, address, created_at) "
                    f"SELECT '{PREFIX}C' || lpad(m::text, 7, '0'), 'Consumer ' || m, "
                    "'+9171' || lpad(m::text, 8, '0'), CASE WHEN m % 2 = 0 THEN 'hi' ELSE 'en' END, '', :at "
                    "FROM generate_series(1, :n) AS m"
                ),
                {"n": accounts, "at": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO accounts (account_no, meter_id, consumer_name, mobile, tariff_code, "
                    "sanctioned_load_w, opened_at, consumer_id, status) "
                    f"SELECT '{PREFIX}A' || lpad(m::text, 7, '0'), NULL, 'Consumer ' || m, "
                    "'+9171' || lpad(m::text, 8, '0'), 'UP-LMV1-DU', 2000, :at, "
                    f"'{PREFIX}C' || lpad(m::text, 7, '0'), 'active' FROM generate_series(1, :n) AS m"
                ),
                {"n": accounts, "at": at},
            )
    finally:
        engine.dispose()


def run(
    database_url: str = DEFAULT_URL,
    *,
    accounts: int = 24_000,
    batch: int = 1000,
    workers: int = 2,
    parallel: int = PARALLEL,
) -> dict[str, object]:
    """Build the store, raise an alert per account, deliver them all; the figures."""
    load = os.getloadavg()[0]
    dedicated_database(database_url, fresh=True)
    build(database_url, accounts)
    now = datetime.now(UTC)
    names = [f"{PREFIX}A{a:07d}" for a in range(1, accounts + 1)]
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console, transient=True) as progress:
        platform = bootstrap(scratch_settings(database_url, Path(tmp)))
        sms_file = Path(tmp) / "sms.jsonl"
        senders: dict[Channel, Sender] = {Channel.SMS: FileSms(sms_file), Channel.WEB: LiveFeed()}
        try:
            raising = progress.add_task("raise", total=accounts)
            t0 = time.perf_counter()
            for i in range(0, accounts, batch):
                alerts = [
                    Alert(
                        account_no=a,
                        kind=AlertKind.LOW_BALANCE,
                        fact_key=f"low_balance:30:{a}:bench",
                        facts={"level_pct": 30, "balance_paise": 15_000},
                        raised_at=now,
                    )
                    for a in names[i : i + batch]
                ]
                with platform.store.transaction() as uow:
                    uow.alerts.raise_alerts(alerts, now)
                progress.update(raising, completed=min(i + batch, accounts))
            raise_s = time.perf_counter() - t0

            sending = progress.add_task("deliver", total=2 * accounts)
            done = Counter[str]()
            lock = threading.Lock()
            failures: list[BaseException] = []

            def worker() -> None:
                try:
                    while True:
                        report = deliver_due(
                            platform.store, senders, datetime.now(UTC), BATCH, clock=lambda: datetime.now(UTC)
                        )
                        with lock:
                            done.update(report.outcomes)
                            progress.update(sending, completed=sum(done.values()))
                        if report.claimed == 0:
                            return
                except BaseException as e:  # reported after the run: a bench never hides a failure
                    failures.append(e)

            t1 = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(workers)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            deliver_s = time.perf_counter() - t1
            if failures:
                raise BenchError(f"a delivery worker failed: {failures[0]!r}")
            with platform.store.engine.connect() as conn:
                states: dict[str, int] = dict(
                    conn.execute(sa.text("SELECT state, count(*) FROM alert_deliveries GROUP BY state")).all()
                )
            ids = Counter(json.loads(line)["message_id"] for line in sms_file.read_text().splitlines())
        finally:
            platform.close()
    deliveries = 2 * accounts
    return {
        "accounts": accounts,
        "alerts": accounts,
        "batch": batch,
        "raise_s": round(raise_s, 2),
        "alerts_raised_per_s": round(accounts / raise_s, 1),
        "workers": workers,
        "parallel_sends_per_worker": parallel,
        "deliveries": deliveries,
        "deliver_s": round(deliver_s, 2),
        "deliveries_per_s": round(deliveries / deliver_s, 1),
        "sent": states.get("sent", 0),
        "not_sent": sum(n for s, n in states.items() if s not in ("sent", "skipped")),
        "sms_written": len(ids),
        "sms_written_twice": sum(n - 1 for n in ids.values()),
        "projected_round_s_for_7_5_lakh": round(FLEET * (raise_s / accounts + 2 * deliver_s / deliveries), 1),
        "load_average_at_start": round(load, 2),
        "at": datetime.now(UTC).isoformat(),
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    accounts: Annotated[int, typer.Option(min=1, help="Accounts, one alert each.")] = 24_000,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Alerts raised per transaction.")] = 1000,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Delivery workers at once.")] = 2,
    parallel: Annotated[int, typer.Option(min=1, max=64, help="Messages each worker sends at a time.")] = PARALLEL,
    database_url: OwnDatabaseUrl = DEFAULT_URL,
) -> None:
    """The alerts outbox at a city's size: raised and delivered per second; one JSON line."""
    figures = measured(lambda: run(database_url, accounts=accounts, batch=batch, workers=workers, parallel=parallel))
    typer.echo(json.dumps(figures))


if __name__ == "__main__":
    app()
