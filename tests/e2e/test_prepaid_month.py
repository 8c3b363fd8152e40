"""The month's prepaid scenario at a size CI can afford: payments through the webhook, commands
to the twins, alerts into the consumers' hands, judged against the twin's ground truth."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bijli import settings
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints.cli import app
from bijli.entrypoints.scenario_run import run_in_process
from bijli.entrypoints.settler import BackgroundSettler, InlineSettler
from bijli.fleet.scenario import load

MONTH = Path(__file__).parents[2] / "scenarios" / "prepaid-month.toml"
LINE = [
    "disconnects",
    "disconnects_in_protected_time",
    "disconnects_without_warning",
    "alerts",
    "alerts_duplicated",
    "alerts_lost",
    "recharges",
    "power_back_p95_s",
    "power_back_max_s",
    "days_left_error_at_3_days_pct",
]
METERS = 80
"""Enough for cuts, payments and days-left forecasts in six days; more meters prove nothing more."""
DAYS = 6.0
"""Monday 02 Nov to Saturday 07 Nov: low balances run out, emergency credit ends, cuts fall due."""


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = bootstrap(settings.build(data_dir=tmp_path / "data", broker_url="memory", new_site=True))
    yield p
    p.store.dispose()


def test_the_month_at_ci_size_keeps_the_promises_by_the_ground_truth(platform: Platform, tmp_path: Path) -> None:
    scenario = load(MONTH, meters=METERS, days=DAYS)
    line: dict[str, Any] = asyncio.run(
        run_in_process(platform, scenario, tmp_path / "truth.jsonl", Console(quiet=True), vee_every=None)
    )

    assert list(line)[: len(LINE) + 1] == [*LINE, "recharges_short_of_debt"]
    assert 0 <= line["recharges_short_of_debt"] <= line["recharges"]
    assert line["disconnects"] > 0 and line["recharges"] > 0
    assert line["commands_sent"] >= line["recharges"] + line["disconnects"]
    assert line["alerts"] >= line["recharges"] + 3 * line["disconnects"]  # each cut warned three times
    assert line["alerts_duplicated"] == 0
    assert line["alerts_lost"] == 0
    assert line["disconnects_in_protected_time"] == 0
    assert line["disconnects_without_warning"] == 0
    assert line["power_back_p95_s"] is not None and line["power_back_p95_s"] < 15 * 60
    assert line["days_left_error_at_3_days_pct"] is not None and line["days_left_error_at_3_days_pct"] < 20


def test_scenario_run_takes_meters_and_days_and_prints_the_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["scenario", "run", str(MONTH), "--meters", "6", "--days", "0.25", "--data-dir", str(tmp_path / "d")],
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(line)[: len(LINE) + 1] == [*LINE, "recharges_short_of_debt"]
    assert 0 <= line["recharges_short_of_debt"] <= line["recharges"]
    assert (line["meters"], line["intervals"]) == (6, 24)


def test_scenario_run_refuses_a_size_of_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scenario", "run", str(MONTH), "--meters", "0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2


@pytest.mark.postgres
def test_the_month_settled_beside_a_worker_process_judges_as_settled_in_line(
    new_pg_database: Callable[..., str], tmp_path: Path
) -> None:
    """On PostgreSQL the run settles in a worker process as well as its own: every balance the
    supply service reads is the one settlement in line would have left, so the line is the same."""
    scenario = load(MONTH, meters=30, days=5.0)
    lines = []
    for name, settler_of in (("in_line", InlineSettler), ("worker", BackgroundSettler)):
        url = new_pg_database()
        p = bootstrap(settings.build(data_dir=tmp_path / name, database_url=url, new_site=True))
        settler = settler_of(p)
        try:
            truth = tmp_path / f"{name}.jsonl"
            lines.append(
                asyncio.run(run_in_process(p, scenario, truth, Console(quiet=True), vee_every=None, settler=settler))
            )
        finally:
            settler.close()
            p.store.dispose()
    in_line, worker = ({k: v for k, v in line.items() if k != "truth"} for line in lines)
    assert in_line["alerts"] > 0 and in_line["recharges"] > 0
    assert worker == in_line
