"""`bijli serve`: web and API, and the head-end when a broker is given."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bijli import settings as settings_mod
from bijli.adapters.brokers.address import BrokerUrlError
from bijli.adapters.keyfile import KeyFileError
from bijli.entrypoints.cli.alerts import NamedAlerts, alert_settings, with_alert_options
from bijli.entrypoints.cli.options import (
    BrokerCa,
    BrokerPasswordFile,
    BrokerUsername,
    DatabaseUrl,
    DataDir,
    console,
)
from bijli.entrypoints.cli.platform import opened
from bijli.kernel.heap import settle_heap


@with_alert_options
def serve(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    broker_url: Annotated[
        str | None,
        typer.Option(
            "--broker-url",
            help="mqtts://host:port (TLS) or mqtt://host:port to ingest from; nats://host:port[,host:port] "
            "for the JetStream profile (docs/operations.md); none: web only.",
        ),
    ] = None,
    broker_username: BrokerUsername = None,
    broker_password_file: BrokerPasswordFile = None,
    broker_ca: BrokerCa = None,
    host: Annotated[
        str,
        typer.Option(help="Address to bind; beyond loopback, put a TLS reverse proxy in front (docs/operations.md)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Web port.")] = 8000,
    topic_root: Annotated[str, typer.Option(help="First level of the MQTT topics.")] = "bijli",
    sms: Annotated[
        str,
        typer.Option(
            help="SMS channel for consumers' login codes: none, or console (prints codes on the terminal; "
            "demo and trials only)."
        ),
    ] = "none",
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Send the session cookie over HTTPS only; default: when the request came over HTTPS "
            "(X-Forwarded-Proto from a proxy on this machine).",
        ),
    ] = None,
    worker_id: Annotated[
        str, typer.Option(help="This head-end worker's name; each of several workers needs its own.")
    ] = "1",
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A Host name the web answers besides loopback and --host (the name a reverse proxy "
            "passes on); repeat for more. Default: BIJLI_ALLOWED_HOSTS, separated by commas.",
        ),
    ] = None,
    statement_timeout: Annotated[
        float,
        typer.Option(
            "--statement-timeout",
            min=0,
            help="Seconds one of the web's database statements may run before it is cut and the "
            "request answered 503 (PostgreSQL); 0: no limit.",
        ),
    ] = 30.0,
    alerts: NamedAlerts = alert_settings,
) -> None:
    """Run the platform: web and API, alert delivery, and ingest from a broker when one is given."""
    from bijli.entrypoints.serve import run_serve

    if sms not in ("none", "console"):
        raise typer.BadParameter("none or console", param_hint="--sms")
    if sms == "console":
        console.print("[yellow]--sms console prints consumers' login codes on this terminal: for trials only[/yellow]")
    settings = alerts()
    try:
        cfg = settings_mod.build(
            alerts=settings,
            data_dir=data_dir,
            database_url=database_url,
            broker_url=broker_url or "none",
            topic_root=topic_root,
            host=host,
            port=port,
            broker_username=broker_username,
            broker_password_file=broker_password_file,
            broker_ca=broker_ca,
            allowed_hosts=tuple(allowed_host or ()),
            statement_timeout_s=statement_timeout or None,
            sms=sms,
            secure_cookies=secure_cookies,
        )
    except (BrokerUrlError, KeyFileError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    with opened(cfg) as platform:
        settle_heap()
        asyncio.run(run_serve(platform, console, worker=worker_id))
