"""`bijli alerts deliver`: a delivery worker of its own (besides the one in `bijli serve`),
and the options that name the alert providers, shared with `bijli serve`."""

from __future__ import annotations

import functools
import inspect
import json
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from bijli import settings as settings_mod
from bijli.adapters import alert_channels
from bijli.adapters.keyfile import KeyFileError
from bijli.alerts.handlers import BATCH, DELIVER_EVERY, PARALLEL, deliver_due
from bijli.alerts.model import SITE_RETRIES, Retries
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened
from bijli.kernel.clock import SystemClock
from bijli.kernel.unit import StoreUnavailable

app = typer.Typer(no_args_is_help=True, help="Alerts to consumers: deliver what the outbox holds.")

AlertSms = Annotated[
    str,
    typer.Option(
        "--alert-sms",
        help="SMS provider for alerts: file (JSON lines in <data dir>/alerts/sms.jsonl), console (the same, "
        "also printed), gateway (HTTP SMS gateway), none.",
    ),
]
SmsGatewayUrl = Annotated[str | None, typer.Option("--sms-gateway-url", help="The HTTP SMS gateway's send URL.")]
SmsGatewayKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--sms-gateway-key-file", help="File whose first line is the gateway's API key (or BIJLI_SMS_GATEWAY_KEY)."
    ),
]
SmsSenderId = Annotated[str | None, typer.Option("--sms-sender", help="The DLT sender header (6 letters).")]
DltEntityId = Annotated[str | None, typer.Option("--dlt-entity-id", help="The site's DLT principal entity id.")]
SmtpUrl = Annotated[
    str | None,
    typer.Option(
        "--smtp-url",
        help="Mail relay for alerts: smtp+starttls://host:587, smtps://host:465 or smtp://host:25 (or "
        "BIJLI_SMTP_URL); user name from BIJLI_SMTP_USERNAME. None: no e-mail.",
    ),
]
MailFrom = Annotated[str | None, typer.Option("--mail-from", help="The alerts' From address (or BIJLI_MAIL_FROM).")]
SmtpPasswordFile = Annotated[
    Path | None,
    typer.Option("--smtp-password-file", help="File whose first line is the relay password (or BIJLI_SMTP_PASSWORD)."),
]


def alert_settings(
    alert_sms: AlertSms = "file",
    sms_gateway_url: SmsGatewayUrl = None,
    sms_gateway_key_file: SmsGatewayKeyFile = None,
    sms_sender: SmsSenderId = None,
    dlt_entity_id: DltEntityId = None,
    smtp_url: SmtpUrl = None,
    mail_from: MailFrom = None,
    smtp_password_file: SmtpPasswordFile = None,
) -> alert_channels.AlertSettings:
    """The providers the options name, or exit 2 saying what cannot work."""
    try:
        return alert_channels.build(
            sms=alert_sms,
            gateway_url=sms_gateway_url,
            gateway_key_file=sms_gateway_key_file,
            gateway_sender=sms_sender,
            dlt_entity_id=dlt_entity_id,
            smtp_url=smtp_url,
            mail_from=mail_from,
            smtp_password_file=smtp_password_file,
        )
    except alert_channels.AlertSettingsError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e


NamedAlerts = Callable[[], alert_channels.AlertSettings]
"""The alert providers the options name (exit 2 when they cannot work)."""


def with_alert_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` with the options that name the alert providers (those of `alert_settings`) in
    place of its `alerts` parameter, which is given `alert_settings` of them to call."""
    own = inspect.signature(command, eval_str=True)
    options = inspect.signature(alert_settings, eval_str=True).parameters
    params: list[inspect.Parameter] = []
    for p in own.parameters.values():
        params += options.values() if p.name == "alerts" else [p]

    @functools.wraps(command)
    def with_options(**given: Any) -> None:
        chosen = {name: given.pop(name) for name in options}
        command(alerts=functools.partial(alert_settings, **chosen), **given)

    with_options.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]  # what typer reads
    with_options.__annotations__ = {p.name: p.annotation for p in params} | {"return": own.return_annotation}
    return with_options


@app.command()
@with_alert_options
def deliver(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    alerts: NamedAlerts = alert_settings,
    once: Annotated[bool, typer.Option("--once", help="One round, then print its JSON line and stop.")] = False,
    parallel: Annotated[int, typer.Option(min=1, max=64, help="Messages sent at a time.")] = PARALLEL,
    period: Annotated[float, typer.Option(min=0.05, help="Seconds between rounds.")] = DELIVER_EVERY.total_seconds(),
    first_retry: Annotated[
        float, typer.Option(min=0.01, help="Seconds before the first retry of a failed send (doubling).")
    ] = SITE_RETRIES.first.total_seconds(),
    lease: Annotated[
        float, typer.Option(min=1, help="Seconds a worker holds what it claimed before another may take it.")
    ] = SITE_RETRIES.lease.total_seconds(),
) -> None:
    """Deliver due alerts until stopped (SIGTERM or Ctrl-C end it between messages)."""
    settings = alerts()
    try:
        cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none", alerts=settings)
    except KeyFileError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    retries = Retries(
        first=timedelta(seconds=first_retry),
        longest=max(SITE_RETRIES.longest, timedelta(seconds=first_retry)),
        lease=timedelta(seconds=lease),
        margin=min(SITE_RETRIES.margin, timedelta(seconds=lease / 4)),
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    clock = SystemClock()
    with opened(cfg) as platform:
        console.print(f"delivering alerts by {', '.join(sorted(platform.alert_channels))}")
        while not stop.is_set():
            try:
                report = deliver_due(
                    platform.store,
                    platform.alert_channels,
                    clock.now(),
                    clock=clock.now,
                    retries=retries,
                    parallel=parallel,
                )
            except StoreUnavailable as e:
                console.print(f"[yellow]store unavailable ({e}); trying again[/yellow]")
                stop.wait(period)
                continue
            if once:
                out = {
                    "claimed": report.claimed,
                    "sent": report.sent,
                    "retried": report.retried,
                    "failed": report.failed,
                }
                print(json.dumps(out))
                return
            if report.claimed < BATCH:
                stop.wait(period)
