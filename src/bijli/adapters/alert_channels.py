"""Which providers carry the alerts on a site, from settings: SMS through a file (the
default), the console or an HTTP gateway; e-mail through an SMTP relay (or not at all); the
web live feed always. Secrets come from files or the environment, never the command line."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bijli.adapters.mail.smtp import SmtpMail
from bijli.adapters.sms.file import FileSms
from bijli.adapters.sms.gateway import HttpSmsGateway
from bijli.alerts.handlers import LiveFeed
from bijli.alerts.model import Channel
from bijli.alerts.ports import Sender

SMS_PROVIDERS = ("file", "console", "gateway", "none")
SMTP_SCHEMES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}


class AlertSettingsError(ValueError):
    """Alert providers set up in a way that cannot work."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSettings:
    """The alert providers: `sms` is ``file`` (JSON lines in `sms_file`, default
    ``<data dir>/alerts/sms.jsonl``), ``console`` (the same, also printed), ``gateway`` (HTTP
    SMS gateway) or ``none``; e-mail goes through `smtp_url` when one is given."""

    sms: str = "file"
    sms_file: Path | None = None
    gateway_url: str | None = None
    gateway_key: str | None = field(default=None, repr=False)
    gateway_sender: str = "BIJLIU"
    dlt_entity_id: str = ""
    smtp_url: str | None = None
    """``smtp://host:port``, ``smtp+starttls://host:port`` or ``smtps://host:port``."""
    mail_from: str = "alerts@bijli.invalid"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)


def build(
    *,
    sms: str = "file",
    sms_file: Path | None = None,
    gateway_url: str | None = None,
    gateway_key_file: Path | None = None,
    gateway_sender: str | None = None,
    dlt_entity_id: str | None = None,
    smtp_url: str | None = None,
    mail_from: str | None = None,
    smtp_password_file: Path | None = None,
) -> AlertSettings:
    """Alert settings from options and the environment: ``BIJLI_SMS_GATEWAY_KEY`` (unless a
    key file is given), ``BIJLI_SMTP_URL``, ``BIJLI_MAIL_FROM``, ``BIJLI_SMTP_USERNAME`` and
    ``BIJLI_SMTP_PASSWORD`` (unless a password file is given)."""
    if sms not in SMS_PROVIDERS:
        raise AlertSettingsError(f"unknown SMS provider {sms!r}; known: {', '.join(SMS_PROVIDERS)}")
    key = _secret(gateway_key_file, "BIJLI_SMS_GATEWAY_KEY")
    if sms == "gateway" and not (gateway_url and key and dlt_entity_id):
        raise AlertSettingsError(
            "the SMS gateway needs its URL, its API key (a key file or BIJLI_SMS_GATEWAY_KEY) and the DLT "
            "principal entity id"
        )
    smtp_url = smtp_url or os.environ.get("BIJLI_SMTP_URL") or None
    if smtp_url is not None:
        parts = urlsplit(smtp_url)
        if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
            raise AlertSettingsError(f"SMTP URL {smtp_url!r}: use smtp://, smtp+starttls:// or smtps://host:port")
        if parts.password:
            raise AlertSettingsError("no password in the SMTP URL: a password file or BIJLI_SMTP_PASSWORD")
    return AlertSettings(
        sms=sms,
        sms_file=sms_file,
        gateway_url=gateway_url,
        gateway_key=key,
        gateway_sender=gateway_sender or "BIJLIU",
        dlt_entity_id=dlt_entity_id or "",
        smtp_url=smtp_url,
        mail_from=mail_from or os.environ.get("BIJLI_MAIL_FROM") or "alerts@bijli.invalid",
        smtp_username=os.environ.get("BIJLI_SMTP_USERNAME") or None,
        smtp_password=_secret(smtp_password_file, "BIJLI_SMTP_PASSWORD"),
    )


def _secret(path: Path | None, variable: str) -> str | None:
    if path is not None:
        try:
            lines = path.expanduser().read_text().splitlines()
        except OSError as e:
            raise AlertSettingsError(f"cannot read {path}: {e.strerror}") from e
        if not lines or not lines[0]:
            raise AlertSettingsError(f"{path} is empty")
        return lines[0]
    return os.environ.get(variable) or None


def senders(settings: AlertSettings, data_dir: Path) -> dict[Channel, Sender]:
    """The providers these settings name, by channel (a channel without one is not sent on:
    its deliveries wait, pending, for a worker that has one)."""
    found: dict[Channel, Sender] = {Channel.WEB: LiveFeed()}
    sms_file = settings.sms_file or data_dir / "alerts" / "sms.jsonl"
    if settings.sms == "file":
        found[Channel.SMS] = FileSms(sms_file)
    elif settings.sms == "console":
        found[Channel.SMS] = FileSms(sms_file, echo=sys.stderr)
    elif settings.sms == "gateway":
        assert settings.gateway_url is not None and settings.gateway_key is not None
        found[Channel.SMS] = HttpSmsGateway(
            settings.gateway_url, settings.gateway_key, settings.gateway_sender, settings.dlt_entity_id
        )
    if settings.smtp_url is not None:
        parts = urlsplit(settings.smtp_url)
        mode = SMTP_SCHEMES[parts.scheme]
        assert parts.hostname is not None
        found[Channel.EMAIL] = SmtpMail(
            parts.hostname,
            parts.port or (465 if mode == "tls" else 587 if mode == "starttls" else 25),
            settings.mail_from,
            mode=mode,
            username=settings.smtp_username or parts.username,
            password=settings.smtp_password,
        )
    return found
