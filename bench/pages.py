"""`python -m bench.pages` (`bijli bench pages`): every page's server time with a city in the store.

Builds a benchmark store on PostgreSQL (or reuses the one built last time, `--reuse`): 24,000
meters by default over two areas (fifty to a transformer, ten transformers to a feeder), a
month of their 15-minute readings (loaded the way `bench.readings` loads them: a day at a
time on the server, each month indexed once and attached), their daily totals, each meter's
state (a few offline, silent, on the second SIM or disconnected), their consumers and
accounts with a month of ledger (an opening, a recharge, a debit a day), low balances the
supply service warned about, failed and stuck commands, reconciliation items, open cases, and
households' disputes (some overdue) and share links.

Then it asks every page the app serves (each GET page route, its path filled with a random
meter, account, month or case, and the control room's lists with their search, filters,
views and sorts) `--samples` times in process, after one first call each, and prints each
page's server time: the first call, p50 and p95 against the 200 ms limit; one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import httpx
import sqlalchemy as sa
import typer
from fastapi import FastAPI
from fastapi.routing import APIRoute
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from bench import BenchError
from bench.command import OwnDatabaseUrl, Reuse, measured
from bench.database import dedicated_database, scratch_platform
from bench.readings import METER_PREFIX, percentile
from bench.readings import build as build_readings
from bijli.access.handlers import create_token
from bijli.access.model import Role
from bijli.access.sharing import make_link
from bijli.accounts.disputes import Dispute, raise_dispute
from bijli.adapters.db import engine as db
from bijli.adapters.db.control import KEPT_S
from bijli.adapters.db.reports import SqlReports
from bijli.entrypoints.serve import READY_LAG_S
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import IST, ist_midnight
from bijli.vigilance.cases import CaseOpening, Severity, SubjectLevel
from bijli.vigilance.handlers import open_cases
from bijli.web.app import create_app
from bijli.web.auth import route_rules

DEFAULT_URL = "postgresql://postgres@127.0.0.1/bijli_bench_pages"
LIMIT_MS = 200.0
PAGE_SIZE = 50
"""Rows on a page of the control room's lists."""
PER_TRANSFORMER = 50
TRANSFORMERS_PER_FEEDER = 10
AREAS = (("Civil Lines", "CL"), ("Mall Road", "MR"))
TARIFF = "UP-LMV1-DU"
BUILD_TABLE = "bench_pages_build"
SKIPPED = ("/login", "/logout", "/live", "/static")
"""Pages not timed: the sign-in forms, the live streams (open for seconds by design), static files."""


# ---------------------------------------------------------------------- building the store


def _place_sql(meters: int) -> str:
    """SQL giving meter number m (1..meters) its area, feeder and transformer, as the city does."""
    half = -(-meters // 2)
    n = f"(CASE WHEN m <= {half} THEN m ELSE m - {half} END - 1)"
    code = f"(CASE WHEN m <= {half} THEN '{AREAS[0][1]}' ELSE '{AREAS[1][1]}' END)"
    dt = f"({n} / {PER_TRANSFORMER})"
    feeder = f"{code} || '-F' || lpad(({dt} / {TRANSFORMERS_PER_FEEDER} + 1)::text, 2, '0')"
    return (
        f"CASE WHEN m <= {half} THEN '{AREAS[0][0]}' ELSE '{AREAS[1][0]}' END AS area, "
        f"{feeder} AS feeder, "
        f"{feeder} || '-DT' || lpad(({dt} % {TRANSFORMERS_PER_FEEDER} + 1)::text, 2, '0') AS transformer"
    )


def build(engine: Engine, meters: int, first: datetime, end: datetime, log: list[str]) -> float:
    """Fill the store: the readings (`bench.readings`), then places, state, accounts, ledger and exceptions."""
    t0 = time.perf_counter()
    build_readings(engine, meters, first, end, log)
    now = end + timedelta(minutes=10)
    number = f"substr(meter_id, {len(METER_PREFIX) + 1})::int"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"UPDATE meters SET area = p.area, feeder = p.feeder, transformer = p.transformer "
                f"FROM (SELECT m, {_place_sql(meters)} FROM generate_series(1, :n) AS m) AS p "
                f"WHERE {number} = p.m"
            ),
            {"n": meters},
        )
        # Each meter's state: most heard from just now; 3 % silent for two days, 1 % offline for
        # an hour, 10 % on their second SIM, 2 % with the relay open.
        conn.execute(
            sa.text(
                f"UPDATE meter_state SET "
                f"last_seen = CASE WHEN {number} % 100 < 3 THEN CAST(:now AS timestamptz) - interval '2 days' "
                f"  WHEN {number} % 100 = 3 THEN CAST(:now AS timestamptz) - interval '1 hour' "
                f"  ELSE CAST(:now AS timestamptz) - ({number} % 300) * interval '1 second' END, "
                "last_interval = CAST(:end AS timestamptz) - interval '15 minutes', "
                f"active_sim = CASE WHEN {number} % 10 = 0 THEN 2 ELSE 1 END, "
                f"operator = CASE WHEN {number} % 10 = 0 THEN 'Airtel' ELSE 'Jio' END, "
                f"rssi_dbm = -60 - {number} % 40, relay = CASE WHEN {number} % 50 = 7 THEN 0 ELSE 1 END, "
                f"failovers = {number} % 4, sim1_s = 0, sim2_s = 0"
            ),
            {"now": now, "end": end},
        )
        ist_day = "(interval_start AT TIME ZONE 'Asia/Kolkata')::date"
        by = "(({day} + 1) + interval '{h} hours') AT TIME ZONE 'Asia/Kolkata'"  # the collection report's marks
        conn.execute(
            sa.text(
                "INSERT INTO meter_daily (meter_id, day, wh, intervals, last_received_at, in_8h, in_24h) "
                f"SELECT meter_id, {ist_day}, sum(import_wh), count(*), max(received_at), "
                f"count(*) FILTER (WHERE received_at <= {by.format(day=ist_day, h=8)}), "
                f"count(*) FILTER (WHERE received_at <= {by.format(day=ist_day, h=24)}) FROM readings GROUP BY 1, 2 "
                "ORDER BY 2, 1"  # a day's rows together, as settlement writes them (the fleet's day is read at once)
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO consumers (consumer_id, name, mobile, language, address, created_at) "
                f"SELECT 'C' || meter_id, 'Consumer ' || {number}, '+9171' || lpad({number}::text, 8, '0'), "
                f"CASE WHEN {number} % 2 = 0 THEN 'hi' ELSE 'en' END, '', :at FROM meters"
            ),
            {"at": first - timedelta(days=1)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO accounts (account_no, meter_id, consumer_name, mobile, tariff_code, sanctioned_load_w, "
                "opened_at, consumer_id, status) "
                f"SELECT 'A' || meter_id, meter_id, 'Consumer ' || {number}, '+9171' || lpad({number}::text, 8, '0'), "
                ":tariff, 2000, :at, 'C' || meter_id, 'active' FROM meters"
            ),
            {"at": first - timedelta(days=1), "tariff": TARIFF},
        )
        conn.execute(
            sa.text(
                "INSERT INTO installations (account_no, meter_id, installed_at, opening_wh_total, reason) "
                "SELECT 'A' || meter_id, meter_id, :at, 1000000, 'bench' FROM meters"
            ),
            {"at": first - timedelta(days=1)},
        )
        # The ledger: an opening, a recharge mid-month and a debit a day (about 7 paise a Wh).
        conn.execute(
            sa.text(
                "INSERT INTO ledger (account_no, kind, amount_paise, reference, posted_at) "
                "SELECT 'A' || meter_id, 'opening', 100000, 'opening:A' || meter_id, :at FROM meters"
            ),
            {"at": first - timedelta(days=1)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO ledger (account_no, kind, amount_paise, reference, posted_at) "
                "SELECT 'A' || meter_id, 'recharge', 50000, 'recharge:pay_' || meter_id, :at FROM meters"
            ),
            {"at": first + timedelta(days=14, hours=5)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO ledger (account_no, kind, amount_paise, reference, period_start, energy_wh, duty_paise, "
                "posted_at, tariff_version) "
                "SELECT 'A' || meter_id, 'day_charge', -(wh * 7 / 10 + 380), 'day:A' || meter_id || ':' || day, "
                "CAST(day AS timestamp) AT TIME ZONE 'Asia/Kolkata', wh, -(wh * 7 / 200 + 18), "
                "CAST(day + 1 AS timestamp) AT TIME ZONE 'Asia/Kolkata' + interval '2 hours', 'bench' "
                "FROM meter_daily"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO supply_state (account_no, level_alerted, negative_since, notices, permit_sent, cut, "
                "attempts) SELECT 'A' || meter_id, CASE WHEN "
                f"{number} % 100 < 4 THEN 10 WHEN {number} % 100 < 8 THEN 30 END, CASE WHEN {number} % 100 = 0 "
                "THEN CAST(:now AS timestamptz) - interval '1 day' END, 0, false, false, 0 FROM meters"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO commands (command_id, idempotency_key, meter_id, action, args, status, requested_by, "
                "reason, created_at, updated_at, expires_at, attempts, detail) "
                "SELECT 'cmd-' || meter_id, 'key-' || meter_id, meter_id, 'read_now', '{}', "
                f"CASE WHEN {number} % 2 = 0 THEN 'failed' ELSE 'sent' END, 'bench', 'bench', "
                "CAST(:now AS timestamptz) - interval '3 hours', CAST(:now AS timestamptz) - interval '2 hours', "
                "CAST(:now AS timestamptz) + interval '1 hour', 1, '' "
                f"FROM meters WHERE {number} % 100 = 11"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO reconciliation_items (kind, meter_id, account_no, amount_paise, detail, opened_at, "
                "updated_at) SELECT 'mirror_drift', meter_id, 'A' || meter_id, 2500, 'the meter''s credit drifts', "
                f":now, :now FROM meters WHERE {number} % 200 = 13"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(f"CREATE TABLE {BUILD_TABLE} (meters int, first timestamptz, until timestamptz, build_s float8)")
        )
        took = time.perf_counter() - t0
        conn.execute(
            sa.text(f"INSERT INTO {BUILD_TABLE} VALUES (:m, :f, :u, :s)"),
            {"m": meters, "f": first, "u": end, "s": took},
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            sa.text("ANALYZE meters, meter_state, meter_daily, accounts, ledger, supply_state, commands")
        )
    log.append(f"built the city's store in {time.perf_counter() - t0:.0f} s")
    return took


def _built(engine: Engine) -> tuple[int, datetime, datetime, float] | None:
    with engine.connect() as conn:
        if not conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": BUILD_TABLE}).scalar():
            return None
        row = conn.execute(sa.text(f"SELECT meters, first, until, build_s FROM {BUILD_TABLE}")).first()
    return None if row is None else (int(row[0]), row[1], row[2], float(row[3]))


def some_cases(platform_store: object, meter_ids: list[str], now: datetime, rng: random.Random) -> list[str]:
    """Open cases on a few meters (magnets) and transformers (hooking), through the cases' use case."""
    openings = [
        CaseOpening(
            key=f"bench-pages:magnet:{m}",
            kind="magnet",
            severity=Severity.HIGH,
            subject_level=SubjectLevel.METER,
            subject_id=m,
            area=AREAS[0][0],
            opened_at=now - timedelta(minutes=rng.randrange(10, 3000)),
            reason_code="magnet",
            reason_en=f"Meter {m} reported a magnet held against the meter.",
            reason_hi=f"मीटर {m} ने चुंबक की सूचना दी।",
        )
        for m in rng.sample(meter_ids, min(200, len(meter_ids)))
    ]
    return open_cases(platform_store, openings)  # type: ignore[arg-type]


def some_shares(store: Any, meter_ids: list[str], now: datetime, rng: random.Random) -> list[str]:
    """Households' disputes and share links on a few accounts, through their use cases; the
    links' tokens, for the shared view's address."""
    with store.engine.begin() as conn:  # a token is shown once: the links of runs before are dropped, not piled up
        conn.execute(sa.text("DELETE FROM share_links WHERE made_by = 'bench'"))
    tokens = []
    for n, m in enumerate(rng.sample(meter_ids, min(200, len(meter_ids)))):
        raised = now - timedelta(hours=rng.randrange(1, 24 * 9))
        dispute = Dispute(
            dispute_id=0,
            account_no="A" + m,
            meter_id=m,
            day=(raised - timedelta(days=1)).astimezone(IST).date(),
            reason="too_high",
            raised_by="bench",
            raised_at=raised,
            evidence={"charge_paise": 4_000 + n, "energy_wh": 6_000, "intervals": 96, "tariff_version": "bench"},
        )
        raise_dispute(store, dispute)
        if n < 20:
            tokens.append(make_link(store, account_no="A" + m, meter_id=m, name="Papa", made_by="bench", now=raised)[1])
    return tokens


# ---------------------------------------------------------------------- measuring


QUERY_VALUES = ("month", "day")
"""Required query parameters the bench knows how to fill (a page needing another is left out)."""


def page_paths(app: FastAPI) -> dict[str, list[str]]:
    """Every GET page (outside the API) the app serves, by its path pattern, with the query
    parameters it requires."""
    found: dict[str, list[str]] = {}
    for route, _ in route_rules(app):
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or set()):
            continue
        path = route.path_format
        if path.startswith("/api/") or path in ("/openapi.json", "/") or any(s in path for s in SKIPPED):
            continue
        required = [p.name for p in route.dependant.query_params if p.field_info.is_required()]
        if all(name in QUERY_VALUES for name in required):
            found[path] = required
    return dict(sorted(found.items()))


Asker = Callable[[random.Random], str]


def _fixed(url: str) -> Asker:
    """The same request every time."""
    return lambda _rng: url


def askers(
    app: FastAPI, meter_ids: list[str], case_ids: list[str], month: str, day: str, tokens: list[str]
) -> dict[str, Asker]:
    """Each page's name and how to make one request of it."""
    meter_page = max(1, len(meter_ids) // PAGE_SIZE // 2)
    group_page = max(1, len(meter_ids) // PER_TRANSFORMER // PAGE_SIZE // 2)

    values = {"month": month, "day": day}

    def fill(pattern: str, required: list[str]) -> Asker:
        query = "&".join(f"{name}={values[name]}" for name in required)

        def url(rng: random.Random) -> str:
            meter = rng.choice(meter_ids)
            path = (
                pattern.replace("{meter_id}", meter)
                .replace("{account_id}", "A" + meter)
                .replace("{month}", month)
                .replace("{case_id}", rng.choice(case_ids))
                .replace("{token}", rng.choice(tokens))
            )
            if "{" in path:  # a page the bench cannot ask is a page not measured: said, not skipped
                raise BenchError(f"the bench does not know how to fill {pattern}: teach bench/pages.py")
            return f"{path}?{query}" if query else path

        return url

    found: dict[str, Asker] = {p: fill(p, required) for p, required in page_paths(app).items()}
    variants = {
        "/operations?day": f"/operations?day={day}",
        "/operations/fleet?by=feeder": "/operations/fleet?by=feeder",
        "/operations/fleet?by=transformer&sort=online": "/operations/fleet?by=transformer&sort=online&desc=1",
        "/operations/fleet?by=transformer&page=N/2": f"/operations/fleet?by=transformer&page={group_page}",
        "/operations/meters?sort=last_seen&page=N/2": f"/operations/meters?sort=last_seen&desc=1&page={meter_page}",
        "/operations/meters?area&sort=failovers": "/operations/meters?area=Mall+Road&sort=failovers&desc=1",
        "/operations/meters?view=offline": "/operations/meters?view=offline",
        "/operations/meters?view=silent": "/operations/meters?view=silent",
        "/operations/meters?view=low_balance": "/operations/meters?view=low_balance",
        "/operations/meters?view=disconnected": "/operations/meters?view=disconnected",
        "/operations/cases?status=all": "/operations/cases?status=all",
        "/operations/disputes?state=all": "/operations/disputes?state=all",
    }
    for name, url in variants.items():
        found[name] = _fixed(url)
    found["/operations/meters?q=name"] = lambda rng: f"/operations/meters?q=Consumer+{rng.randrange(1, 24000)}"
    found["/operations/meters?q=meter"] = lambda rng: f"/operations/meters?q={rng.choice(meter_ids)[:-2]}"
    if "/operations/meters/{meter_id}" in found:
        found["/operations/meters/{meter_id}?day"] = lambda rng: f"/operations/meters/{rng.choice(meter_ids)}?day={day}"
    return found


async def measure(app: FastAPI, token: str, pages: dict[str, Asker], samples: int, seed: int) -> dict[str, object]:
    """Per page: the first call's ms, then `samples` calls' p50, p95 and max; and any non-200."""
    rng = random.Random(seed)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    figures: dict[str, object] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers) as client:
        for name, ask in pages.items():
            times: list[float] = []
            first_ms, status, size = 0.0, 200, 0
            for n in range(samples + 1):
                url = ask(rng)
                t = time.perf_counter()
                r = await client.get(url)
                ms = (time.perf_counter() - t) * 1000
                if r.status_code != 200:  # said in the figures, and the page left there
                    status = r.status_code
                    times.append(ms)
                    break
                size = max(size, len(r.content))
                if n == 0:
                    first_ms = ms
                else:
                    times.append(ms)
            times = times or [first_ms]
            figures[name] = {
                "first_ms": round(first_ms, 1),
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 0.95), 1),
                "max_ms": round(max(times), 1),
                "html_bytes": size,
                "status": status,
            }
    return figures


def ready_round(keep_ready: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """`bijli serve`'s ready round beside the timed views (`bijli.entrypoints.serve.ready_every`):
    the kept figures worked out again at the start of every half minute, until `stop`."""

    def round_after_round() -> None:
        while not stop.wait(KEPT_S - time.time() % KEPT_S + READY_LAG_S):
            keep_ready()

    thread = threading.Thread(target=round_after_round, name="ready-round", daemon=True)
    thread.start()
    return thread


def check_collection(reports: SqlReports, day: date) -> dict[str, object]:
    """The last day's collection report as the dashboard reads it (each meter's day as
    settlement keeps it) beside the same worked out from the day's readings: both times, and
    whether they agree."""
    t = time.perf_counter()
    kept = reports.collection(day)
    kept_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    recounted = reports.recount_collection(day)
    recount_ms = (time.perf_counter() - t) * 1000
    return {
        "day": day.isoformat(),
        "kept_ms": round(kept_ms, 1),
        "recount_ms": round(recount_ms, 1),
        "equal": kept == recounted,
        "complete_now": kept.complete_now,
    }


def run(
    database_url: str = DEFAULT_URL,
    *,
    meters: int = 24_000,
    days: int = 30,
    samples: int = 20,
    reuse: bool = False,
    seed: int = 1,
    log: list[str] | None = None,
) -> dict[str, object]:
    """Build (or reuse) the city's store, then time every page."""
    log = log if log is not None else []
    load = os.getloadavg()[0]
    end = ist_midnight(datetime.now(IST).date())
    first = end - timedelta(days=days)
    dedicated_database(database_url, fresh=False)
    engine = db.create(database_url)
    try:
        built = _built(engine) if reuse else None
    except sa.exc.SQLAlchemyError:
        built = None
    finally:
        engine.dispose()
    if built is not None and built[0] == meters and built[2] - built[1] == end - first:
        _, first, end, build_s = built
        reused = True
    else:
        dedicated_database(database_url, fresh=True)
        engine = db.create(database_url)
        try:
            db.upgrade(engine)
            build_s = build(engine, meters, first, end, log)
        finally:
            engine.dispose()
        reused = False
    now = end + timedelta(minutes=10)
    ids = [f"{METER_PREFIX}{m:07d}" for m in range(1, meters + 1)]
    rng = random.Random(seed)
    with scratch_platform(database_url) as platform:
        case_ids = some_cases(platform.store, ids, now, rng)
        tokens = some_shares(platform.store, ids, now, rng)
        with platform.store.engine.connect() as conn:
            readings = int(conn.execute(sa.text("SELECT count(*) FROM readings")).scalar_one())
        app = create_app(platform, clock=SimulatedClock(now), warm=True)  # as `bijli serve` starts
        token = create_token(platform.store, f"bench-{uuid.uuid4().hex[:8]}", Role.ADMIN, "bench", datetime.now(UTC))
        last_day: date = (end - timedelta(days=1)).astimezone(IST).date()
        month = f"{first.astimezone(IST).date():%Y-%m}"
        pages = askers(app, ids, case_ids, month, (last_day - timedelta(days=3)).isoformat(), tokens)
        stop = threading.Event()
        beside = ready_round(app.state.keep_ready, stop)
        try:
            figures = asyncio.run(measure(app, token, pages, samples, seed))
        finally:
            stop.set()
            beside.join()
        collection = check_collection(platform.reports, last_day)
    over = sorted(name for name, f in figures.items() if isinstance(f, dict) and f["p95_ms"] > LIMIT_MS)
    first_over = sorted(name for name, f in figures.items() if isinstance(f, dict) and f["first_ms"] > LIMIT_MS)
    failed = sorted(name for name, f in figures.items() if isinstance(f, dict) and f["status"] != 200)
    return {
        "meters": meters,
        "readings": readings,
        "days": days,
        "reused": reused,
        "build_s": round(build_s, 1),
        "samples": samples,
        "limit_ms": LIMIT_MS,
        "pages": figures,
        "slowest_p95_ms": max(f["p95_ms"] for f in figures.values() if isinstance(f, dict)),
        "slowest_first_ms": max(f["first_ms"] for f in figures.values() if isinstance(f, dict)),
        "over_limit": over,
        "first_over_limit": first_over,
        "failed": failed,
        "meets_limit": not over and not first_over and not failed,
        "collection": collection,
        "load_average_at_start": round(load, 2),
    }


app = typer.Typer(add_completion=False)
console = Console(stderr=True, width=150)


@app.command()
def main(
    meters: Annotated[int, typer.Option(min=100, help="Meters in the city.")] = 24_000,
    days: Annotated[
        int, typer.Option(min=1, max=62, help="Days of readings, ending at the start of today (IST).")
    ] = 30,
    samples: Annotated[int, typer.Option(min=1, help="Requests per page after its first.")] = 20,
    reuse: Reuse = False,
    database_url: OwnDatabaseUrl = DEFAULT_URL,
) -> None:
    """Every page's server time with a city's meters and a month of readings stored; one JSON line."""
    log: list[str] = []

    def timed() -> dict[str, object]:
        with console.status(f"building or reusing a store of {meters} meters and timing every page"):
            return run(database_url, meters=meters, days=days, samples=samples, reuse=reuse, log=log)

    figures = measured(timed, console)
    for line in log:
        console.print(line)
    table = Table(title=f"Server time per page, {meters:,} meters, {figures['readings']:,} readings (ms)")
    for column in ("page", "first", "p50", "p95", "max", "KB", "first / 200 ms", "p95 / 200 ms"):
        table.add_column(column, justify="left" if column == "page" else "right")
    pages = figures["pages"]
    assert isinstance(pages, dict)
    for name, f in pages.items():
        table.add_row(
            name,
            f"{f['first_ms']:.1f}",
            f"{f['p50_ms']:.1f}",
            f"{f['p95_ms']:.1f}",
            f"{f['max_ms']:.1f}",
            f"{f['html_bytes'] / 1024:.0f}",
            f"{f['first_ms'] / LIMIT_MS:.2f}",
            f"{f['p95_ms'] / LIMIT_MS:.2f}",
        )
    console.print(table)
    console.print(f"collection report: {figures['collection']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
