"""Moving the fleet to a new key version: a key-change command to every meter in service.

`bijli keys rotate` adds a version to the site key file and then calls `start_key_change`,
which records, for every registered meter, the version it holds and, for every meter in
service, the version it is moving to, and queues a ``key_change`` command for each of those in
the same transaction. The dispatcher sends each command sealed with the meter's present frame
key, carrying the new keys wrapped under it; the meter takes them, answers ``done`` (already
with its new key), and from then on seals with the new version. Ingest takes that ``done`` as
the switch (`bijli.headend.handlers.record_acks`). Frames of the old version stay verifiable
until the version is retired, so nothing a meter sent before the change is lost. A meter whose
key change ended without an answer (away longer than the command waits) keeps its version;
the next rotation asks it again, from the version it holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Protocol

from bijli.headend.command_records import CommandRequest, new_command
from bijli.headend.ports import Commands, MeterKeys
from bijli.kernel.unit import Transactions
from bijli.protocol.frames import KEY_CHANGE

KEY_CHANGE_EXPIRY: Final = timedelta(days=7)
"""How long a key-change command waits for its meter (the longest any command may wait)."""


class ChangeUnderWay(RuntimeError):
    """A key change is still moving meters; a new one waits until it is done."""


class KeyChangeUnit(Protocol):
    @property
    def meter_keys(self) -> MeterKeys: ...
    @property
    def commands(self) -> Commands: ...


class KeyCountUnit(Protocol):
    @property
    def meter_keys(self) -> MeterKeys: ...


def start_key_change(
    store: Transactions[KeyChangeUnit], current: int, to: int, now: datetime, *, requested_by: str, reason: str
) -> int:
    """Queue a key change to version `to` for every meter in service (their keys now of
    version `current`, or older); how many were queued. `ChangeUnderWay` (and nothing
    changed) while an earlier change's commands still wait for their meters."""
    with store.transaction() as uow:
        moving = uow.meter_keys.changing()
        if moving:
            raise ChangeUnderWay(
                f"a key change is still under way: {moving} meter{'s' * (moving != 1)} not moved yet "
                "(see bijli keys status)"
            )
        meter_ids = uow.meter_keys.begin_change(current, to, now)
        for meter_id in meter_ids:
            request = CommandRequest(
                meter_id=meter_id,
                action=KEY_CHANGE,
                args={"version": to},
                reason=reason,
                requested_by=requested_by,
                idempotency_key=f"key-change/{meter_id}/{to}",
                expires_in=KEY_CHANGE_EXPIRY,
            )
            uow.commands.add(new_command(request, now))
    return len(meter_ids)


def still_moving(store: Transactions[KeyCountUnit]) -> int:
    """How many meters a key change still waits for (its command to them not settled yet)."""
    with store.transaction() as uow:
        return uow.meter_keys.changing()


def held_versions(store: Transactions[KeyCountUnit], current: int) -> dict[str, int]:
    """The key version every registered meter holds (a key change under way counts once the
    meter has answered it)."""
    with store.transaction() as uow:
        return uow.meter_keys.held(current)


def versions_in_service(store: Transactions[KeyCountUnit], current: int) -> dict[str, int]:
    """The key version every meter in service holds: whose passwords a broker takes."""
    with store.transaction() as uow:
        return uow.meter_keys.held(current, in_service=True)


def held_version(store: Transactions[KeyCountUnit], meter_id: str, current: int) -> int:
    """The key version one meter holds (`current` for a meter the store has no record of)."""
    with store.transaction() as uow:
        return uow.meter_keys.versions_of([meter_id]).get(meter_id, current)


def key_counts(store: Transactions[KeyCountUnit], current: int) -> dict[int, tuple[int, int]]:
    """Per version: (meters holding it, meters moving to it)."""
    with store.transaction() as uow:
        counts = uow.meter_keys.counts(current)
    out: dict[int, tuple[int, int]] = {}
    for c in counts:
        held, coming = out.get(c.version, (0, 0))
        out[c.version] = (held + c.meters, coming)
        if c.pending is not None:
            held, coming = out.get(c.pending, (0, 0))
            out[c.pending] = (held, coming + c.meters)
    return out
