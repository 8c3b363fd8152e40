"""The benchmarks run end to end, small: each prints its one JSON line with every figure."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bijli.adapters.db import partitions
from tests.conftest import require, run_bijli

pytestmark = [pytest.mark.postgres, pytest.mark.mosquitto]


@pytest.fixture
def pg_url(empty_pg_url: str) -> str:
    """A benchmark builds its own store: it takes an empty database, or one named for it."""
    return empty_pg_url


def positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


def last_json_line(out: str) -> dict[str, object]:
    figures: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return figures


def test_bench_ingest_small_run_loses_and_doubles_nothing(pg_url: str) -> None:
    require("the mosquitto program", shutil.which("mosquitto") is not None)
    out = run_bijli(
        ["bench", "ingest", "--meters", "50", "--intervals", "2", "--workers", "1", "--database-url", pg_url],
        timeout=120,
    )
    figures = last_json_line(out)
    for field in ("readings_per_s", "broker_limit_per_s", "copy_limit_per_s", "ratio_to_broker", "ratio_to_copy"):
        assert positive(figures[field]), field
    assert figures["lost"] == 0
    assert figures["doubled"] == 0
    assert figures["readings"] == 100
    assert figures["quarantined"] == {}
    assert positive(figures["worker_rss_mb"])


def test_bench_ingest_on_jetstream_with_a_worker_killed_loses_and_doubles_nothing(pg_url: str) -> None:
    require("the nats-server program", shutil.which("nats-server") is not None)
    out = run_bijli(
        [
            *("bench", "ingest", "--broker", "nats", "--meters", "50", "--intervals", "2", "--workers", "2"),
            *("--kill-worker", "--database-url", pg_url),
        ],
        timeout=240,
    )
    figures = last_json_line(out)
    for field in ("readings_per_s", "broker_limit_per_s", "uplink_limit_per_s", "copy_limit_per_s"):
        assert positive(figures[field]), field
    assert figures["lost"] == 0
    assert figures["doubled"] == 0
    assert figures["readings"] == 100
    assert figures["quarantined"] == {}
    assert figures["worker_killed"] is True
    assert str(figures["broker"]).startswith("nats-server")


def test_bench_readings_small_run_answers_a_meters_day(pg_url: str) -> None:
    out = run_bijli(
        ["bench", "readings", "--readings", "20000", "--samples", "50", "--database-url", pg_url], timeout=120
    )
    figures = last_json_line(out)
    assert figures["readings"] == 7 * 30 * 96
    assert figures["rows"] == figures["api_rows"] == 96
    for field in ("query_p50_ms", "query_p99_ms", "api_p50_ms", "api_p99_ms", "bytes_per_reading", "build_s"):
        assert positive(figures[field]), field
    assert figures["target_ms"] == 20.0

    again = last_json_line(
        run_bijli(
            ["bench", "readings", "--readings", "20000", "--samples", "20", "--reuse", "--database-url", pg_url],
            timeout=120,
        )
    )
    assert again["reused"] is True and again["readings"] == figures["readings"]


def test_bench_billing_small_run_settles_every_round_and_closes_the_day(pg_url: str) -> None:
    out = run_bijli(["bench", "billing", "--meters", "300", "--rounds", "2", "--database-url", pg_url], timeout=180)
    figures = last_json_line(out)
    assert (figures["meters"], figures["rounds"]) == (300, 2)
    for field in (
        "round_settle_s",
        "settle_cpu_us_per_reading",
        "rounds_per_s",
        "readings_charged_per_s",
        "projected_round_s_750k",
    ):
        assert positive(figures[field]), field
    assert positive(figures["day_charges_upsert_per_s"]) and positive(figures["ratio_to_upsert"])
    assert figures["days_closed"] == 300  # one debit per account for the day
    assert figures["target_round_s_750k"] == 60.0
    assert figures["statements"] == 300 and positive(figures["statements_per_s"])


def test_bench_statements_small_run_ties_every_statement_out(pg_url: str) -> None:
    out = run_bijli(
        ["bench", "statements", "--accounts", "60", "--batch", "25", "--pdfs", "2", "--database-url", pg_url]
    )
    figures = last_json_line(out)
    assert figures["statements"] == figures["tied_out"] == 60
    assert figures["closing_equals_ledger"] is True
    assert figures["pdfs"] == 2
    for field in ("statements_per_s", "pdf_per_s", "seconds", "build_s"):
        assert positive(figures[field]), field


def test_bench_days_left_small_run_prints_the_error_at_3_days() -> None:
    figures = last_json_line(run_bijli(["bench", "days-left", "--meters", "40", "--weeks", "6"], timeout=120))
    assert (figures["meters"], figures["days"]) == (40, 42)
    assert isinstance(figures["forecasts_at_3_days"], int) and figures["forecasts_at_3_days"] > 0
    error = figures["error_at_3_days_pct"]
    assert isinstance(error, float) and 0 <= error < 100
    assert figures["target_pct"] == 20.0
    assert figures["within_target"] == (error < 20)


def test_bench_hooking_small_run_scores_the_hooks() -> None:
    figures = last_json_line(run_bijli(["bench", "hooking", "--meters", "400", "--days", "3"], timeout=300))
    assert (figures["meters"], figures["transformers"]) == (400, 8)
    hooking = figures["hooking"]
    assert hooking["truth"] == 4 and hooking["found"] + len(figures["missed"]) == 4
    assert hooking["flagged"] == hooking["found"] + len(figures["flagged_not_hooked"])
    assert 0 <= hooking["recall"] <= 1 and positive(figures["wall_s"])


def test_bench_supply_small_run_decides_for_every_account(pg_url: str) -> None:
    out = run_bijli(["bench", "supply", "--meters", "60", "--workers", "2", "--database-url", pg_url], timeout=120)
    figures = last_json_line(out)
    assert figures["meters"] == 60
    assert isinstance(figures["first_pass_alerts"], int) and figures["first_pass_alerts"] > 0
    for field in ("accounts_per_s_first", "accounts_per_s_steady", "projected_pass_s_750k", "ratio_to_target"):
        assert positive(figures[field]), field


def test_bench_archive_small_run_round_trips_last_month(pg_url: str, tmp_path: Path) -> None:
    run_bijli(["bench", "readings", "--readings", "40000", "--days", "40", "--samples", "5", "--database-url", pg_url])
    month = f"{partitions.add_months(partitions.month_of(datetime.now(UTC)), -1):%Y-%m}"
    args = [
        "--month",
        month,
        "--samples",
        "30",
        "--twin-meters",
        "20",
        "--dir",
        str(tmp_path),
        "--database-url",
        pg_url,
    ]
    figures = last_json_line(run_bijli(["bench", "archive", *args], timeout=120))
    assert figures["month"] == month and figures["same_answers"] == figures["samples"] == 30
    assert figures["rows_per_answer"] == 96
    assert positive(figures["readings"]) and positive(figures["bytes"])
    assert float(str(figures["bytes_per_reading"])) <= 30.0
    assert figures["twin_readings"] == 20 * 30 * 96 and 0 < float(str(figures["twin_bytes_per_reading"])) <= 30.0
    for field in ("postgres_p50_ms", "parquet_p50_ms", "parquet_first_p99_ms", "archive_s"):
        assert positive(figures[field]), field


def test_bench_time_to_case_small_run_sees_every_tamper_become_a_case(pg_url: str, mosquitto: str) -> None:
    args = ["--meters", "20", "--tampers", "7", "--gap", "0.2", "--database-url", pg_url, "--broker-url", mosquitto]
    out = run_bijli(["bench", "time-to-case", *args], timeout=180)
    figures = last_json_line(out)
    assert figures["tampers"] == figures["cases_seen"] == 7 and figures["missing"] == 0
    for field in ("p50_s", "p90_s", "p99_s", "max_s", "limit_s"):
        assert positive(figures[field]), field
    assert isinstance(figures["p99_within_limit"], bool)
