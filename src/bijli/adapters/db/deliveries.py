"""Every alert delivery the platform committed to, for checking a scenario's ground truth."""

from __future__ import annotations

import sqlalchemy as sa


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
