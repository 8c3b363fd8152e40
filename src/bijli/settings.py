"""One settings object, built in `main()` and passed down. Nothing is read at import time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from bijli.adapters.brokers.address import BrokerAddress, BrokerUrlError
from bijli.adapters.db.engine import sqlite_url

DEFAULT_TARIFF = "UP-LMV1-DU"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where the store and broker are, the site secret, and the web address."""

    data_dir: Path
    database_url: str
    broker_url: str
    """``memory`` (in-process, headless), ``embedded`` (MQTT broker in-process), ``mqtt://…``
    or ``mqtts://…`` (TLS)."""
    site_secret: bytes = field(repr=False)
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

    @property
    def speaks_mqtt(self) -> bool:
        """Whether `broker_url` names an MQTT broker outside the process."""
        return self.broker_url.startswith(("mqtt://", "mqtts://"))

    def broker_address(self) -> BrokerAddress:
        """The broker, reached as the head-end (with its user name and password, if any)."""
        address = BrokerAddress.parse(self.broker_url, ca_file=self.broker_ca)
        return address.signed_in(self.broker_username or address.username, self.broker_password)

    def meters_broker_address(self) -> BrokerAddress:
        """The broker as meters reach it: the same place and CA, each with its own credentials."""
        return BrokerAddress.parse(self.broker_url, ca_file=self.broker_ca).signed_in(None, None)


def site_secret(data_dir: Path) -> bytes:
    """The site secret: ``BIJLI_SITE_SECRET`` (hex) if set, else the data folder's key file.

    A new data folder gets a new random secret, kept in ``site.key`` (mode 0600).
    """
    env = os.environ.get("BIJLI_SITE_SECRET")
    if env:
        return bytes.fromhex(env)
    path = data_dir / "site.key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    path.write_text(secret.hex() + "\n")
    path.chmod(0o600)
    return secret


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
) -> Settings:
    """Settings from command-line values and the environment.

    Raises `BrokerUrlError` for broker settings that cannot work (a password in the URL, a
    password without a user name, an unreadable password file, a CA file for plain MQTT).
    """
    data_dir = data_dir.expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = broker_ca or _path_from_env("BIJLI_BROKER_CA")
    username, password = broker_credentials(broker_url, broker_username, broker_password_file)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url or os.environ.get("BIJLI_DATABASE_URL") or sqlite_url(data_dir),
        broker_url=broker_url,
        site_secret=site_secret(data_dir),
        topic_root=topic_root,
        host=host,
        port=port,
        broker_username=username,
        broker_password=password,
        broker_ca=ca,
        allowed_hosts=allowed_hosts or hosts_from_env(),
        statement_timeout_s=statement_timeout_s,
    )
    if settings.speaks_mqtt:
        settings.broker_address().tls_context()  # refuses what cannot work now, not when first dialled
    return settings


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


def hosts_from_env() -> tuple[str, ...]:
    """``BIJLI_ALLOWED_HOSTS``: Host names separated by commas."""
    return tuple(h.strip() for h in os.environ.get("BIJLI_ALLOWED_HOSTS", "").split(",") if h.strip())


def _path_from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None
