"""Opening the store: engines for SQLite and PostgreSQL, and schema migrations."""

from __future__ import annotations

import contextlib
import os
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_url(data_dir: Path) -> str:
    """The embedded store inside a data folder."""
    return f"sqlite:///{(data_dir / 'bijli.db').resolve()}"


def create(url: str, statement_timeout_s: float | None = None) -> Engine:
    """An engine tuned for its backend (SQLite: WAL, so pages read while ingest writes).

    On PostgreSQL, `statement_timeout_s` has the server cancel any statement (waiting for a
    lock included) that runs longer; the caller gets the driver's `QueryCanceled`. SQLite has
    no such setting: its statements run to the end.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _private_file(sa.engine.make_url(url).database)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # Sessions in UTC whatever the server's default: timestamps come back in UTC as stored.
    options = ["-c TimeZone=UTC"]
    if statement_timeout_s is not None and statement_timeout_s > 0:
        options.append(f"-c statement_timeout={max(1, round(statement_timeout_s * 1000))}")
    connect_args = {"options": " ".join(options)}
    return sa.create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args=connect_args)


def _private_file(database: str | None) -> None:
    """Create a SQLite file readable by its owner only (0600) before SQLite does (SQLite gives
    its -wal and -shm files the database file's mode)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):  # no folder: SQLite says so when it connects
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _alembic_config() -> Config:
    cfg = Config()
    location = resources.files("bijli.adapters") / "migrations"
    cfg.set_main_option("script_location", str(location))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back down to `revision` (each migration's downgrade, newest first)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def head_revision() -> str | None:
    """The newest schema revision this release knows."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The schema revision the store is at, or None for an empty store."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
