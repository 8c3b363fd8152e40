"""What the benchmarks' commands share: the options several take, and how a run that cannot
go ahead ends (its reason in red on stderr, exit 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from bench import BenchError

T = TypeVar("T")

OwnDatabaseUrl = Annotated[str, typer.Option("--database-url", help="PostgreSQL database of the benchmark's own.")]
RunDatabaseUrl = Annotated[
    str, typer.Option("--database-url", help="PostgreSQL database for the run (a bijli_bench… one is made anew).")
]
Reuse = Annotated[bool, typer.Option("--reuse", help="Keep a store built before with the same size.")]


def measured(run: Callable[[], T], console: Console | None = None) -> T:
    """What `run` measured; exit 1 saying why (on `console`, else stderr) when it could not run."""
    try:
        return run()
    except BenchError as e:
        (console or Console(stderr=True)).print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
