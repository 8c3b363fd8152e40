"""`bijli bench …`: the benchmarks of a source checkout, run from the `bijli` command.

The benchmarks are not part of the installed package: they live in the repository's `bench/`
package (`python -m bench.ingest …` runs the same). Each command here finds that package and
hands it its arguments, so the options, the help and the one JSON line are the benchmark's own.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import typer

import bijli
from bijli.entrypoints.cli.options import console

NO_CHECKOUT = 2
"""Exit status when there is no source checkout holding `bench/`."""

app = typer.Typer(no_args_is_help=True, help="Benchmarks: figures, not pass/fail.")

BENCHMARKS = {
    "fleet": "Simulate a fleet without a broker (frames built and signed, then dropped); one JSON line.",
    "ingest": "End-to-end ingest beside the broker's and COPY's limits, all in one run; one JSON line.",
    "readings": "One meter's 24 hours through the store's query and the API, at many stored readings; one JSON line.",
    "billing": "Whole 15-minute rounds charged per second on PostgreSQL, beside the bare upsert; one JSON line.",
    "statements": "A month's statements for every account of a city (24,000 by default), per second; one JSON line.",
    "days-left": "The days-left forecast backtested on the twin's consumption: error at 3 days; one JSON line.",
    "hooking": "The hooking detector replayed hourly on the theft city's lossy network (24,000 meters by default): "
    "recall and precision; one JSON line.",
    "supply": "Supply decisions per second on PostgreSQL for every due account of a city; one JSON line.",
    "archive": "A closed month of the readings bench store to Parquet and read back: bytes a reading; one JSON line.",
    "alerts": "The alerts outbox at a city's size: alerts raised and deliveries sent per second; one JSON line.",
    "pages": "Every page's server time with 24,000 meters and a month of readings stored, p50/p95 against 200 ms; "
    "one JSON line.",
    "time-to-case": "From a tamper's event frame to its case through the API, live (bijli serve, PostgreSQL, "
    "the broker); p50/p99 against 5 s; one JSON line.",
}
"""Each benchmark's module in `bench/` (a dash in its name is an underscore in the module's) and
its summary (the module's own help says the rest)."""


def checkout() -> Path | None:
    """The source checkout holding `bench/`: the one this bijli runs from (``src/bijli`` in
    it), else the current folder; None when neither is one."""
    for root in (Path(bijli.__file__).resolve().parents[2], Path.cwd()):
        if (root / "bench" / "__init__.py").is_file():
            return root
    return None


def benchmark(name: str) -> ModuleType:
    """The module `bench.<name>` of the source checkout; exit 2 when there is none."""
    root = checkout()
    if root is None:
        console.print(
            "[red]bijli bench runs the benchmarks of a source checkout (its bench/ folder), and there is "
            "none beside this bijli or in the current folder: run it from a clone of the repository.[/red]"
        )
        raise typer.Exit(NO_CHECKOUT)
    if str(root) not in sys.path:
        # First on the path (a benchmark's worker processes inherit it): this checkout's `bench`.
        sys.path.insert(0, str(root))
    module = importlib.import_module(f"bench.{name}")
    if not Path(str(module.__file__)).resolve().is_relative_to(root / "bench"):
        console.print(f"[red]bench.{name} was loaded from {module.__file__}, not from {root / 'bench'}[/red]")
        raise typer.Exit(NO_CHECKOUT)
    return module


def _command(name: str, summary: str) -> None:
    """`bijli bench NAME …`: the arguments, `--help` included, go to `bench.NAME` as they are."""

    def run(ctx: typer.Context) -> None:
        benchmark(name.replace("-", "_")).app(args=ctx.args, prog_name=ctx.command_path)

    run.__doc__ = summary
    app.command(
        name,
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(run)


for _name, _summary in BENCHMARKS.items():
    _command(_name, _summary)
