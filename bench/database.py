"""A benchmark's own PostgreSQL database: made for it, and never anybody else's."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bench import BenchError
from bijli import settings as settings_mod
from bijli.adapters.db import engine as db
from bijli.bootstrap import Platform, bootstrap


def _admin(url: str) -> Engine:
    """An engine on the same server's maintenance database, outside transactions."""
    return sa.create_engine(make_url(db.normalise_url(url)).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _name(url: str) -> str:
    name = make_url(db.normalise_url(url)).database
    if not name or not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise BenchError(f"the benchmark needs a PostgreSQL database URL, not {url!r}")
    return name


def _has_tables(url: str) -> bool:
    engine = sa.create_engine(db.normalise_url(url))
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")).scalar()
            )
    finally:
        engine.dispose()


def dedicated_database(url: str, *, fresh: bool) -> None:
    """Make sure the benchmark's database exists (``fresh``: empty, made anew).

    Only a database named ``bijli_bench…`` is ever dropped; any other must be empty already
    (a scratch database made for the run), so a benchmark never touches anybody's data.
    """
    name = _name(url)
    ours = name.startswith("bijli_bench")
    admin = _admin(url)
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if exists and fresh and ours:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                exists = None
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                return
    finally:
        admin.dispose()
    if fresh and _has_tables(url):
        raise BenchError(f"database {name!r} is not empty; give the benchmark a bijli_bench… or an empty database")


def scratch_settings(url: str, data_dir: Path) -> settings_mod.Settings:
    """Settings for a benchmark's own platform (a throwaway data folder and site keys)."""
    return settings_mod.build(data_dir=data_dir, database_url=url, broker_url="none", new_site=True)


@contextmanager
def scratch_platform(url: str) -> Iterator[Platform]:
    """A benchmark's own platform over the database at `url` (as `scratch_settings`), closed after."""
    with tempfile.TemporaryDirectory() as tmp:
        platform = bootstrap(scratch_settings(url, Path(tmp)))
        try:
            yield platform
        finally:
            platform.close()
