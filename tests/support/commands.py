"""Commands asked of meters for tests, as an operator would through the API."""

from __future__ import annotations

from datetime import datetime, timedelta

from bijli.adapters.db.store import Store
from bijli.headend.command_records import CommandRequest
from bijli.headend.handlers import submit_command


def ask(store: Store, meter_id: str, action: str, at: datetime, expires_in: timedelta = timedelta(hours=24)) -> str:
    """Ask the meter for an action that takes no args, as operator.khan, at `at`; the command's id."""
    request = CommandRequest(
        meter_id=meter_id,
        action=action,
        args={},
        reason="test",
        requested_by="operator.khan",
        idempotency_key=f"{action}-{meter_id}-{at.isoformat()}",
        expires_in=expires_in,
    )
    return submit_command(store, request, at)[0].command_id
