"""What several commands share: the options naming the store, and where messages go."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)
"""Messages for the operator; standard output is kept for results (often one JSON line)."""

DataDir = Annotated[Path, typer.Option("--data-dir", help="Folder for the embedded store and site key.")]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="postgresql://… (default: SQLite in the data folder).")
]
