"""One settings object, built in `main()` and passed down. Nothing is read at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bijli.adapters import keyfile, payment_secret
from bijli.adapters.alert_channels import AlertSettings
from bijli.adapters.brokers.address import BrokerAddress, BrokerUrlError
from bijli.adapters.brokers.nats_address import NatsAddress
from bijli.adapters.db.engine import sqlite_url
from bijli.protocol.keys import SiteKeys

DEFAULT_TARIFF = "UP-LMV1-DU"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where the store and broker are, the site's keys, and the web address."""

    data_dir: Path
    database_url: str
    broker_url: str
    """``memory`` (in-process, headless), ``embedded`` (MQTT broker in-process), ``mqtt://…``
    or ``mqtts://…`` (TLS), or ``nats://…`` (the JetStream profile)."""
    site_keys: SiteKeys = field(repr=False)
    topic_root: str = "bijli"
    host: str = "127.0.0.1"
    port: int = 8000
    tariff_code: str = DEFAULT_TARIFF
    broker_username: str | None = None
    """The head-end's user name on the broker (meters use their own)."""
    broker_password: str | None = field(default=None, repr=False)
    broker_ca: Path | None = None
    """The CA that signed the broker's certificate (``mqtts://``); else the system's CAs."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names the web answers besides loopback and `host` (``--allowed-host``, ``BIJLI_ALLOWED_HOSTS``)."""
    statement_timeout_s: float | None = None
    """How long one of the web's database statements may run (PostgreSQL); None: as long as it takes."""
    sms: str = "none"
    """The SMS channel for consumers' login codes: ``none`` or ``console`` (demo and trials)."""
    secure_cookies: bool | None = None
    """Session cookies only over HTTPS: True, False, or None (when the request came over HTTPS)."""
    payment_secret: bytes | None = field(default=None, repr=False)
    """The key the payment gateway signs webhooks with (`bijli.adapters.payment_secret`);
    None: the site takes no payments (the webhook answers 503)."""
    dev_gateway: bool = False
    """Whether the development gateway's pages take payments (`bijli demo`; never a real site)."""
    alerts: AlertSettings = field(default_factory=AlertSettings)
    """The providers that carry alerts (SMS, e-mail); see `bijli.adapters.alert_channels`."""

    @property
    def speaks_mqtt(self) -> bool:
        """Whether `broker_url` names an MQTT broker outside the process."""
        return self.broker_url.startswith(("mqtt://", "mqtts://"))

    @property
    def speaks_nats(self) -> bool:
        """Whether `broker_url` names NATS servers (the JetStream profile)."""
        return self.broker_url.startswith("nats://")

    def broker_address(self) -> BrokerAddress:
        """The broker, reached as the head-end (with its user name and password, if any)."""
        address = BrokerAddress.parse(self.broker_url, ca_file=self.broker_ca)
        return address.signed_in(self.broker_username or address.username, self.broker_password)

    def nats_address(self) -> NatsAddress:
        """The JetStream profile's servers, reached as the head-end (user name, password, CA)."""
        address = NatsAddress.parse(self.broker_url)
        return address.signed_in(self.broker_username, self.broker_password, self.broker_ca)

    def meters_broker_address(self) -> BrokerAddress:
        """The broker as meters reach it: the same place and CA, each with its own credentials."""
        return BrokerAddress.parse(self.broker_url, ca_file=self.broker_ca).signed_in(None, None)


def build(
    *,
    data_dir: Path,
    database_url: str | None = None,
    broker_url: str = "embedded",
    topic_root: str = "bijli",
    host: str = "127.0.0.1",
    port: int = 8000,
    broker_username: str | None = None,
    broker_password_file: Path | None = None,
    broker_ca: Path | None = None,
    allowed_hosts: tuple[str, ...] = (),
    statement_timeout_s: float | None = None,
    sms: str = "none",
    secure_cookies: bool | None = None,
    new_site: bool = False,
    dev_gateway: bool = False,
    alerts: AlertSettings | None = None,
) -> Settings:
    """Settings from command-line values and the environment.

    The site's keys come from the key file (`bijli.adapters.keyfile.load`); a folder without
    one is refused (`KeyFileError`) before anything is created in it, unless `new_site` asks
    for a site to be made there when it has none (`bijli demo`, test fixtures).

    Raises `BrokerUrlError` for broker settings that cannot work (a password in the URL, a
    password without a user name, an unreadable password file, a CA file for plain MQTT).
    """
    data_dir = data_dir.expanduser()
    ca = broker_ca or _path_from_env("BIJLI_BROKER_CA")
    username, password = broker_credentials(broker_url, broker_username, broker_password_file)
    if broker_url.startswith(("mqtt://", "mqtts://")):
        # Refuses what cannot work now, not when first dialled.
        BrokerAddress.parse(broker_url, ca_file=ca).tls_context()
    if broker_url.startswith("nats://"):
        NatsAddress.parse(broker_url).signed_in(username, password, ca)
    if new_site and keyfile.where(data_dir) == keyfile.path_in(data_dir) and not keyfile.path_in(data_dir).exists():
        site_keys = keyfile.create(keyfile.path_in(data_dir))
    else:
        site_keys = keyfile.load(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Settings(
        payment_secret=_payment_secret(data_dir),
        dev_gateway=dev_gateway,
        data_dir=data_dir,
        database_url=database_url or os.environ.get("BIJLI_DATABASE_URL") or sqlite_url(data_dir),
        broker_url=broker_url,
        site_keys=site_keys,
        topic_root=topic_root,
        host=host,
        port=port,
        broker_username=username,
        broker_password=password,
        broker_ca=ca,
        allowed_hosts=allowed_hosts or hosts_from_env(),
        statement_timeout_s=statement_timeout_s,
        sms=sms,
        secure_cookies=secure_cookies,
        alerts=alerts or AlertSettings(),
    )


def broker_credentials(
    broker_url: str, username: str | None, password_file: Path | None
) -> tuple[str | None, str | None]:
    """The head-end's user name (option, else ``BIJLI_BROKER_USERNAME``, else the URL's user
    part) and password (the password file's first line, else ``BIJLI_BROKER_PASSWORD``)."""
    url_user = BrokerAddress.parse(broker_url).username if broker_url.startswith(("mqtt://", "mqtts://")) else None
    username = username or os.environ.get("BIJLI_BROKER_USERNAME") or None
    if username and url_user and username != url_user:
        raise BrokerUrlError(
            f"two user names for the broker: {url_user!r} in the URL and {username!r} (option or environment)"
        )
    username = username or url_user
    password: str | None
    if password_file is not None:
        try:
            lines = password_file.expanduser().read_text().splitlines()
        except OSError as e:
            raise BrokerUrlError(f"cannot read the broker password file {password_file}: {e.strerror}") from e
        password = lines[0] if lines else ""
        if not password:
            raise BrokerUrlError(f"the broker password file {password_file} is empty")
    else:
        password = os.environ.get("BIJLI_BROKER_PASSWORD") or None
    if password is not None and not username:
        raise BrokerUrlError("a broker password needs a user name: --broker-username or BIJLI_BROKER_USERNAME")
    return username, password


def _payment_secret(data_dir: Path) -> bytes | None:
    """The webhook secret: made with the site's key file (a site whose keys live in the data
    folder gets one there); else only what ``BIJLI_PAYMENT_SECRET`` gives."""
    if keyfile.where(data_dir) == keyfile.path_in(data_dir) and keyfile.path_in(data_dir).exists():
        return payment_secret.ensure(data_dir)
    return payment_secret.load(data_dir)


def hosts_from_env() -> tuple[str, ...]:
    """``BIJLI_ALLOWED_HOSTS``: Host names separated by commas."""
    return tuple(h.strip() for h in os.environ.get("BIJLI_ALLOWED_HOSTS", "").split(",") if h.strip())


def _path_from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None
