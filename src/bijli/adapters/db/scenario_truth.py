"""What a scenario run reads and sets in the store beside the use cases: every alert delivery
the platform committed to (to check against the ground truth), and when the city's
consumers went over to prepaid."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

CHUNK = 1000


def committed_deliveries(engine: sa.Engine) -> list[tuple[str, int, str]]:
    """(account no, alert id, channel) of every delivery not `skipped` (no address)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.account_no, d.alert_id, d.channel FROM alert_deliveries d "
                "JOIN alerts a ON a.alert_id = d.alert_id WHERE d.state <> 'skipped'"
            )
        )
        return [(str(acc), int(aid), str(ch)) for acc, aid, ch in rows]


def converted_at(engine: sa.Engine, account_nos: Sequence[str], at: datetime) -> None:
    """The accounts went over to prepaid at `at` (their `opened_at`: where a newly converted
    consumer's grace period runs from)."""
    statement = sa.text("UPDATE accounts SET opened_at = :at WHERE account_no IN :nos").bindparams(
        sa.bindparam("nos", expanding=True)
    )
    with engine.begin() as conn:
        for start in range(0, len(account_nos), CHUNK):
            conn.execute(statement, {"at": at, "nos": list(account_nos[start : start + CHUNK])})
