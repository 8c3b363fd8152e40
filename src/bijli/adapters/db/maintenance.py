"""The store's upkeep as the command line asks for it: schema revision, readings' monthly
partitions, retention. Each step in a transaction of its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from bijli.adapters.db import engine as db
from bijli.adapters.db import partitions


class SqlMaintenance:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def revision(self) -> str | None:
        """The schema revision the store is at."""
        return db.current_revision(self.engine)

    def ensure_partitions(
        self, now: datetime, months_behind: int, months_ahead: int
    ) -> tuple[list[str], list[partitions.Partition]]:
        """Make the readings' missing monthly partitions around `now` (and the default one);
        (the names made, every partition). NotPartitioned on a store without them."""
        with self.engine.begin() as conn:
            made = partitions.ensure(conn, partitions.window(now, months_behind, months_ahead))
            if partitions.ensure_default(conn):
                made.append(partitions.DEFAULT_PARTITION)
            return made, partitions.partitions(conn)

    def retire(self, keep_months: int, now: datetime, dry_run: bool) -> partitions.Retention:
        """Detach and drop the month partitions older than `keep_months` (or only say which)."""
        with self.engine.begin() as conn:
            return partitions.retire(conn, keep_months, now, dry_run=dry_run)
