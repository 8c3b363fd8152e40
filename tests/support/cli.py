"""`bijli` commands run in the tests' own process, as an operator types them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bijli.entrypoints.cli import app

runner = CliRunner()


def store_options(data_dir: Path, database_url: str | None) -> list[str]:
    """The options that point a command at the site in `data_dir` and its store (SQLite in that
    folder unless `database_url` names another)."""
    return ["--data-dir", str(data_dir), *(["--database-url", database_url] if database_url else [])]


def bijli_said(*args: str, columns: int = 200, stdin: str | None = None) -> tuple[int, str]:
    """Run `bijli ARGS` in a terminal `columns` wide: its exit code and everything it wrote, on
    one line (a table's rules dropped)."""
    out = runner.invoke(app, list(args), input=stdin, env={"COLUMNS": str(columns)})
    return out.exit_code, " ".join(out.output.replace("│", " ").split())
