"""`python -m bench.supply` (`bijli bench supply`): how fast the supply service decides for due
accounts on PostgreSQL.

A city of `--meters` consumers is commissioned (not timed), then every account is charged one
day's debit drawn so that about a fifth go below zero and a fifth near a low-balance level
(not timed; each post makes its account due, as settlement does). Timed: the supply service's
rounds (`bijli.supply.handlers.decide_all_due`, 500 accounts a transaction, `--workers`
threads sharing the queue) until nothing is due: the first pass, with its warnings raised in
the outbox; then a second pass with every account due again and nothing new to say (the
steady state after each settlement round, when every account's balance moved a little).

Every settlement round makes each charged account due, so at 7.5 lakh meters a pass must take
well under 15 minutes: `projected_pass_s_750k` is the pass's time at the measured per-account
rate (the rate, not a run at that size: say so when quoting it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from bench import BenchError
from bench.command import RunDatabaseUrl, measured
from bench.database import dedicated_database, scratch_platform
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.prepaid.model import EntryKind, LedgerEntry
from bijli.prepaid.policy import uppcl
from bijli.supply.handlers import SupplyReport, decide_all_due

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bijli_bench_supply"
TARGET_METERS = 750_000
TARGET_PASS_S = 900.0
"""A settlement round every 15 minutes makes every account due again."""
POST_CHUNK = 5_000


def run(
    meters: int, workers: int, database_url: str, progress: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Commission `meters`, charge them, time the supply passes; the figures."""
    say = progress or (lambda _msg: None)
    load = os.getloadavg()[0]
    dedicated_database(database_url, fresh=True)
    with scratch_platform(database_url) as platform:
        figures = _run(platform, meters, workers, say)
    figures["load_average_at_start"] = round(load, 2)
    return figures


def _run(platform: Platform, meters: int, workers: int, say: Callable[[str], None]) -> dict[str, object]:
    store = platform.store
    now = datetime(2026, 11, 10, 5, 30, tzinfo=UTC)  # a Tuesday, 11:00 IST
    city = build_city(meters)
    t = time.perf_counter()
    commission_city(store, platform.settings.tariff_code, city, now - timedelta(days=400))
    say(f"commissioned {meters} meters in {time.perf_counter() - t:.1f} s")
    _pass(store, now - timedelta(hours=1), workers)  # the opening balances, looked at once
    rng = np.random.default_rng(13)
    debits = rng.integers(0, 2, size=meters) * rng.integers(100, 3_000_00, size=meters)
    for lo in range(0, meters, POST_CHUNK):
        with store.transaction() as uow:
            uow.ledger.post(
                [
                    LedgerEntry(
                        account_no=c.account_no,
                        kind=EntryKind.DAY_CHARGE,
                        amount_paise=-int(d),
                        reference=f"bench:{c.account_no}",
                    )
                    for c, d in zip(city[lo : lo + POST_CHUNK], debits[lo : lo + POST_CHUNK], strict=True)
                ],
                now,
            )
    first_s, first = _pass(store, now, workers)
    say(f"first pass: {first.accounts} accounts in {first_s:.2f} s, {first.alerts} alerts raised")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE supply_state SET next_check_at = %(t)s", {"t": now + timedelta(minutes=15)})
    again_s, again = _pass(store, now + timedelta(minutes=15), workers)
    say(f"second pass: {again.accounts} accounts in {again_s:.2f} s, {again.alerts} alerts raised")
    if first.accounts < meters or again.accounts < meters:
        raise BenchError(f"passes took {first.accounts} and {again.accounts} accounts, of {meters}")
    per_account_s = max(first_s / first.accounts, again_s / again.accounts)
    return {
        "meters": meters,
        "workers": workers,
        "first_pass_s": round(first_s, 2),
        "first_pass_alerts": first.alerts,
        "accounts_per_s_first": round(first.accounts / first_s),
        "second_pass_s": round(again_s, 2),
        "accounts_per_s_steady": round(again.accounts / again_s),
        "projected_pass_s_750k": round(per_account_s * TARGET_METERS, 1),
        "target_pass_s_750k": TARGET_PASS_S,
        "ratio_to_target": round(TARGET_PASS_S / (per_account_s * TARGET_METERS), 2),
    }


def _pass(store: object, now: datetime, workers: int) -> tuple[float, SupplyReport]:
    """Supply rounds on `workers` threads until nothing is due at `now`: (seconds, what they did)."""
    policy = uppcl()
    reports = [SupplyReport() for _ in range(workers)]
    failures: list[BaseException] = []

    def work(k: int) -> None:
        try:
            reports[k] = decide_all_due(store, policy, now)  # type: ignore[arg-type]
        except BaseException as e:
            failures.append(e)

    t = time.perf_counter()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    spent = time.perf_counter() - t
    if failures:
        raise BenchError(f"a supply worker failed: {failures[0]!r}")
    total = SupplyReport()
    for r in reports:
        total += r
    return spent, total


app = typer.Typer(add_completion=False)
console = Console(stderr=True)


@app.command()
def main(
    meters: Annotated[int, typer.Option(min=1, help="Consumer meters, each with an account.")] = 24_000,
    workers: Annotated[int, typer.Option(min=1, help="Supply workers sharing the due queue.")] = 2,
    database_url: RunDatabaseUrl = DEFAULT_URL,
) -> None:
    """Supply decisions per second on PostgreSQL for every due account of a city; one JSON line."""
    figures = measured(lambda: run(meters, workers, database_url, progress=console.print), console)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
