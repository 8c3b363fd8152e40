"""What several commands share: the options naming the store, and where messages go."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bijli.adapters import keyfile
from bijli.protocol.keys import SiteKeys

console = Console(stderr=True)
"""Messages for the operator; standard output is kept for results (often one JSON line)."""

DataDir = Annotated[Path, typer.Option("--data-dir", help="Folder for the embedded store and site key.")]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="postgresql://… (default: SQLite in the data folder).")
]
BrokerCa = Annotated[
    Path | None,
    typer.Option(
        "--broker-ca",
        help="CA certificate (PEM) that signed an mqtts:// broker's certificate (or BIJLI_BROKER_CA); "
        "default: the system's CAs.",
    ),
]
BrokerUsername = Annotated[
    str | None,
    typer.Option(
        "--broker-username",
        help="The head-end's user name on the broker (or BIJLI_BROKER_USERNAME, or user@ in the URL).",
    ),
]
BrokerPasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--broker-password-file",
        help="File whose first line is the head-end's broker password (or BIJLI_BROKER_PASSWORD); never in the URL.",
    ),
]


def site_keys_in(data_dir: Path) -> SiteKeys:
    """The site's keys (`keyfile.load`), or exit 2 saying why there are none: nothing is made."""
    try:
        return keyfile.load(data_dir.expanduser())
    except keyfile.KeyFileError as e:
        console.print(f"[red]{escape(str(e))}[/red]")
        raise typer.Exit(2) from e
