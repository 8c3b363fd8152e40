"""`bijli bench` runs the benchmarks of the source checkout, and says so when there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bijli
from bijli.entrypoints.cli import app


def test_bench_runs_the_checkouts_benchmark_and_prints_its_json_line() -> None:
    result = CliRunner().invoke(app, ["bench", "fleet", "--meters", "5", "--intervals", "1"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["meters"] == 5
    assert figures["rounds"] == 1


def test_bench_help_is_the_benchmarks_own() -> None:
    result = CliRunner().invoke(app, ["bench", "readings", "--help"])
    assert result.exit_code == 0, result.output
    assert "--reuse" in result.output
    assert "bench readings" in result.output


def test_bench_without_a_source_checkout_exits_2_and_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bijli, "__file__", str(tmp_path / "site-packages" / "bijli" / "__init__.py"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", "ingest", "--meters", "5"])
    assert result.exit_code == 2
    assert "benchmarks of a source checkout" in " ".join(result.output.split())
