"""What PostgreSQL's autovacuum does, for a server that has it switched off.

A deployed PostgreSQL vacuums and analyzes a table on its own once enough of it changed
(`autovacuum = on`, the default). A server set up for test suites may run with it off
(`autovacuum = off`); there the tables `bijli` updates all the time (`meter_state` with every
frame, the settlement queue, the supply queue, the day charges and daily usage) fill with
dead rows, and after commissioning a city the planner still believes its tables empty. A
long simulation on such a server measures a store nobody runs. `autovacuum_stand_in` does
autovacuum's work by autovacuum's own rule (the default thresholds: vacuum once dead rows pass
50 + 20 % of the table, analyze once changed rows pass 50 + 10 %); it does nothing on a server
whose autovacuum is on, and nothing on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

VACUUM_THRESHOLD = 50
VACUUM_SCALE = 0.2
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE = 0.1

_DUE = sa.text(
    "SELECT relname, "
    "n_dead_tup > :vt + :vs * n_live_tup AS vacuum, "
    "n_mod_since_analyze > :at + :as_ * n_live_tup AS analyze "
    "FROM pg_stat_user_tables WHERE schemaname = current_schema() "
    "AND (n_dead_tup > :vt + :vs * n_live_tup OR n_mod_since_analyze > :at + :as_ * n_live_tup) "
    "ORDER BY relname"
)


@dataclass(frozen=True, slots=True)
class Upkeep:
    vacuumed: tuple[str, ...] = ()
    analyzed: tuple[str, ...] = ()


def autovacuum_stand_in(engine: Engine) -> Upkeep:
    """Vacuum and analyze the tables autovacuum would now, if the server's autovacuum is off."""
    if engine.dialect.name != "postgresql":
        return Upkeep()
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT current_setting('autovacuum')")).scalar_one() == "on":
            return Upkeep()
        due = conn.execute(
            _DUE, {"vt": VACUUM_THRESHOLD, "vs": VACUUM_SCALE, "at": ANALYZE_THRESHOLD, "as_": ANALYZE_SCALE}
        ).all()
        conn.rollback()
        quote = engine.dialect.identifier_preparer.quote
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        for name, vacuum, _ in due:  # VACUUM cannot run inside a transaction
            auto.execute(sa.text(f"{'VACUUM (ANALYZE)' if vacuum else 'ANALYZE'} {quote(name)}"))
    return Upkeep(
        vacuumed=tuple(n for n, vacuum, _ in due if vacuum),
        analyzed=tuple(n for n, vacuum, analyze in due if analyze and not vacuum),
    )
