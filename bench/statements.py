"""`python -m bench.statements` (`bijli bench statements`): a month's statements for a city.

Builds a benchmark store on PostgreSQL: `--accounts` consumers, meters and accounts, and
each account's month of ledger as bijli writes it (an opening balance before the month, one
`day_charge` per IST day with its energy, fixed charge and duty, two recharges each with the
share that recovers arrears), loaded with COPY. Then it makes every account's statement of
the month through the use case the API calls (`prepaid.handlers.monthly_statements`, a
batch of accounts per transaction), checks that each ties out (opening + entries - charges
= closing = the ledger's sum), renders a sample of them as PDF, and prints one JSON line.
The target: 24,000 monthly statements in under 60 s.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import Engine

from bench.command import OwnDatabaseUrl, measured
from bench.database import dedicated_database, scratch_settings
from bijli.adapters.db import engine as db
from bijli.bootstrap import bootstrap
from bijli.kernel.time import days_in_month, ist_midnight
from bijli.kernel.units import to_paise
from bijli.prepaid import handlers as prepaid
from bijli.prepaid.model import fixed_price
from bijli.prepaid.statement import Statement
from bijli.prepaid.tariff import builtin_tariffs
from bijli.web.statement_pdf import statement_pdf
from bijli.web.statement_view import statement_view

DEFAULT_URL = "postgresql://postgres@127.0.0.1/bijli_bench_statements"
TARGET_S = 60.0
TARGET_STATEMENTS = 24_000
PREFIX = "KNST"
TARIFF = "UP-LMV1-DU"
LOAD_W = 2000


def _rows(accounts: int, month: date) -> Iterator[tuple[object, ...]]:
    """The ledger: each account's opening, its month's day charges and two recharges."""
    tariff = builtin_tariffs()[TARIFF]
    start = ist_midnight(month)
    opened = start - timedelta(days=3)
    for a in range(1, accounts + 1):
        account = f"{PREFIX}A{a:07d}"
        yield (account, "opening", 50_000 + a % 1000, f"opening:{account}", None, None, None, opened)
        month_wh = 0
        for d in range(days_in_month(month)):
            day = month + timedelta(days=d)
            wh = 3_000 + (a * 7919 + d * 104729) % 9_000
            version = tariff.on(day)
            e0, e1 = version.energy_cost(month_wh), version.energy_cost(month_wh + wh)
            energy = to_paise(e1) - to_paise(e0)
            duty = to_paise(e1 * version.duty_rate) - to_paise(e0 * version.duty_rate)
            fixed_priced = fixed_price(tariff, LOAD_W, day)
            fixed, fixed_duty = fixed_priced.charge_paise, fixed_priced.duty_paise
            month_wh += wh
            at = ist_midnight(day)
            yield (
                account,
                "day_charge",
                -(energy + duty + fixed + fixed_duty),
                f"day:{account}:{day.isoformat()}",
                at,
                wh,
                -(duty + fixed_duty),
                at + timedelta(days=1, hours=2),
            )
        for n, d in enumerate((4, 19)):
            paid = start + timedelta(days=d, hours=5)
            amount = 50_000 + (a % 7) * 10_000
            yield (account, "recharge", amount, f"recharge:pay_{account}_{n}", None, None, None, paid)
            share = -amount // 10
            yield (account, "arrears_recovery", share, f"arrears_recovery:pay_{account}_{n}", None, None, None, paid)


def build(engine: Engine, accounts: int, month: date, progress: Progress) -> float:
    """Fill the store with `accounts` accounts and their month of ledger; seconds taken."""
    t0 = time.perf_counter()
    installed = ist_midnight(month) - timedelta(days=30)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO meters (meter_id, area, feeder, transformer, phases, status, installed_at) "
                f"SELECT '{PREFIX}' || lpad(m::text, 7, '0'), 'Bench', 'ST-F01', 'ST-F01-DT01', 1, 'commissioned', :at "
                "FROM generate_series(1, :n) AS m"
            ),
            {"n": accounts, "at": installed},
        )
        conn.execute(
            sa.text(
                "INSERT INTO consumers (consumer_id, name, mobile, language, address, created_at) "
                f"SELECT '{PREFIX}C' || lpad(m::text, 7, '0'), 'Consumer ' || m, "
                "'+9170' || lpad(m::text, 8, '0'), CASE WHEN m % 2 = 0 THEN 'hi' ELSE 'en' END, '', :at "
                "FROM generate_series(1, :n) AS m"
            ),
            {"n": accounts, "at": installed},
        )
        conn.execute(
            sa.text(
                "INSERT INTO accounts (account_no, meter_id, consumer_name, mobile, tariff_code, sanctioned_load_w, "
                "opened_at, consumer_id, status) "
                f"SELECT '{PREFIX}A' || lpad(m::text, 7, '0'), '{PREFIX}' || lpad(m::text, 7, '0'), 'Consumer ' || m, "
                f"'+9170' || lpad(m::text, 8, '0'), :tariff, :load, :at, '{PREFIX}C' || lpad(m::text, 7, '0'), "
                "'active' FROM generate_series(1, :n) AS m"
            ),
            {"n": accounts, "at": installed, "tariff": TARIFF, "load": LOAD_W},
        )
    task = progress.add_task("ledger", total=accounts * (days_in_month(month) + 5))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = "account_no, kind, amount_paise, reference, period_start, energy_wh, duty_paise, posted_at"
        with cursor.copy(f"COPY ledger ({columns}) FROM STDIN") as copy:
            for n, row in enumerate(_rows(accounts, month), 1):
                copy.write_row(row)
                if n % 10_000 == 0:
                    progress.update(task, completed=n)
        raw.commit()
        cursor.execute("ANALYZE ledger")
        raw.commit()
    finally:
        raw.close()
    progress.update(task, completed=accounts * (days_in_month(month) + 5))
    return time.perf_counter() - t0


def run(
    database_url: str = DEFAULT_URL,
    *,
    accounts: int = TARGET_STATEMENTS,
    batch: int = 1000,
    pdfs: int = 20,
    month: date = date(2026, 11, 1),
) -> dict[str, object]:
    """Build the store, then make every account's statement of the month."""
    load = os.getloadavg()[0]
    key = f"{month:%Y-%m}"
    dedicated_database(database_url, fresh=True)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        engine = db.create(database_url)
        try:
            db.upgrade(engine)
            build_s = build(engine, accounts, month, progress)
        finally:
            engine.dispose()
        names = [f"{PREFIX}A{a:07d}" for a in range(1, accounts + 1)]
        with tempfile.TemporaryDirectory() as tmp:
            platform = bootstrap(scratch_settings(database_url, Path(tmp)))
            try:
                prepaid.monthly_statements(platform.store, names[:10], key)  # open the pool's connection
                task = progress.add_task("statements", total=accounts)
                made = tied = 0
                closing = 0
                sample: list[Statement] = []
                t0 = time.perf_counter()
                for i in range(0, accounts, batch):
                    found = prepaid.monthly_statements(platform.store, names[i : i + batch], key)
                    made += len(found)
                    tied += sum(s.ties_out() and s.slab_difference_paise == 0 for s in found.values())
                    closing += sum(s.closing_paise for s in found.values())
                    if len(sample) < pdfs:
                        sample += list(found.values())[: pdfs - len(sample)]
                    progress.update(task, completed=made)
                seconds = time.perf_counter() - t0
                with platform.store.engine.connect() as conn:
                    ledger_sum = int(conn.execute(sa.text("SELECT sum(amount_paise) FROM ledger")).scalar_one())
                t1 = time.perf_counter()
                pdf_bytes = sum(
                    len(statement_pdf(statement_view(s, "hi" if n % 2 else "en"))) for n, s in enumerate(sample)
                )
                pdf_s = time.perf_counter() - t1
            finally:
                platform.close()
    return {
        "statements": made,
        "month": key,
        "accounts": accounts,
        "ledger_rows": accounts * (days_in_month(month) + 5),
        "build_s": round(build_s, 3),  # a small run builds in hundredths of a second
        "batch": batch,
        "seconds": round(seconds, 3),
        "statements_per_s": round(made / seconds, 1),
        "tied_out": tied,
        "closing_equals_ledger": closing == ledger_sum,
        "pdfs": len(sample),
        "pdf_per_s": round(len(sample) / pdf_s, 1) if sample else None,
        "pdf_kb_mean": round(pdf_bytes / len(sample) / 1024, 1) if sample else None,
        "target_s_for_24000": TARGET_S,
        "projected_s_for_24000": round(TARGET_STATEMENTS * seconds / max(made, 1), 1),
        "load_average_at_start": round(load, 2),
        "at": datetime.now(UTC).isoformat(),
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    accounts: Annotated[int, typer.Option(min=1, help="Accounts, each with a month of ledger.")] = TARGET_STATEMENTS,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Accounts per transaction.")] = 1000,
    pdfs: Annotated[int, typer.Option(min=0, help="Statements also rendered as PDF (half Hindi).")] = 20,
    database_url: OwnDatabaseUrl = DEFAULT_URL,
) -> None:
    """A month's statements for every account of a city, per second; one JSON line."""
    figures = measured(lambda: run(database_url, accounts=accounts, batch=batch, pdfs=pdfs))
    typer.echo(json.dumps(figures))


if __name__ == "__main__":
    app()
