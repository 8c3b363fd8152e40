"""Alembic environment: runs on the connection bijli hands it (see adapters.db.engine)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from bijli.adapters.db import (
    alert_tables,  # noqa: F401 - its tables join `metadata`
    archive_tables,  # noqa: F401 - its table joins `metadata`
    case_tables,  # noqa: F401 - its tables join `metadata`
    disputes,  # noqa: F401 - its table joins `metadata`
    energy_tables,  # noqa: F401 - its table joins `metadata`
    outage_tables,  # noqa: F401 - its table joins `metadata`
    staff_tables,  # noqa: F401 - its table joins `metadata`
    supply_tables,  # noqa: F401 - its table joins `metadata`
)
from bijli.adapters.db.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as connection:
            _migrate(connection)
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
