"""One settings object, built in `main()` and passed down. Nothing is read at import time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from bijli.adapters.db.engine import sqlite_url

DEFAULT_TARIFF = "UP-LMV1-DU"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where the store and broker are, the site secret, and the web address."""

    data_dir: Path
    database_url: str
    broker_url: str
    """``memory`` (in-process, headless), ``embedded`` (MQTT broker in-process) or ``mqtt://…``."""
    site_secret: bytes
    topic_root: str = "bijli"
    host: str = "127.0.0.1"
    port: int = 8000
    tariff_code: str = DEFAULT_TARIFF


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
) -> Settings:
    """Settings from command-line values and the environment."""
    data_dir = data_dir.expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(
        data_dir=data_dir,
        database_url=database_url or os.environ.get("BIJLI_DATABASE_URL") or sqlite_url(data_dir),
        broker_url=broker_url,
        site_secret=site_secret(data_dir),
        topic_root=topic_root,
        host=host,
        port=port,
    )
