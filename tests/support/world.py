"""One use-case suite, three stores: what a test reads back, whichever store it ran on.

`World` holds a store (the in-memory fake, SQLite or PostgreSQL), a key ring and the small
city the tests commission; its probe answers what a user would look at (readings, balances,
the quarantine, commands) straight from that store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from bijli.adapters.db import commands as sql_commands
from bijli.adapters.db import schema
from bijli.adapters.db.queries import Queries
from bijli.adapters.db.readings import SqlReadings
from bijli.adapters.db.store import Store
from bijli.headend.command_records import CommandRecord
from bijli.headend.commands import Status
from bijli.headend.model import KeyRing
from bijli.headend.ports import Delivery
from bijli.kernel.unit import Transactions
from bijli.mdm.model import StoredReading
from tests.fakes.store import MemoryStore, running_charges
from tests.support.frames import reading
from tests.support.keys import SITE

SECRET = SITE
EVER = (datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


class Probe(Protocol):
    def readings(self, meter_id: str) -> list[StoredReading]: ...
    def balance(self, account_no: str) -> int: ...
    def ledger(self, account_no: str) -> list[tuple[str, int, int | None]]:
        """(kind, amount, duty) of the account's entries, in reference order."""
        ...

    def days(self, account_no: str) -> list[tuple[date, int, int, int]]:
        """(day, charge, energy in Wh, posted) of the account's running day charges, by day."""
        ...

    def quarantine(self) -> list[str]: ...
    def reprocessed(self) -> list[tuple[str, str | None]]:
        """(reason, outcome) of every kept frame (outcome None: not reprocessed), in id order."""
        ...

    def queued(self) -> int: ...
    def edits(self, meter_id: str) -> list[tuple[datetime, str, str]]: ...
    def daily_wh(self, meter_id: str) -> int: ...
    def command(self, command_id: str) -> CommandRecord: ...
    def commands(self) -> int: ...
    def relay(self, meter_id: str) -> int | None: ...
    def events(self, meter_id: str) -> list[int]: ...
    def sent(self, command_id: str, now: datetime) -> None:
        """Mark a queued command sent once, as the dispatcher's claim does (the use-case suite
        has no broker to send it over)."""
        ...


class MemoryProbe:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def readings(self, meter_id: str) -> list[StoredReading]:
        return [r for (m, _), r in sorted(self.store.state.readings.items()) if m == meter_id]

    def balance(self, account_no: str) -> int:
        posted = sum(e.amount_paise for e in self.store.state.ledger.values() if e.account_no == account_no)
        return posted - running_charges(self.store.state, account_no)

    def ledger(self, account_no: str) -> list[tuple[str, int, int | None]]:
        entries = sorted(self.store.state.ledger.values(), key=lambda e: e.reference)
        return [(e.kind.value, e.amount_paise, e.duty_paise) for e in entries if e.account_no == account_no]

    def days(self, account_no: str) -> list[tuple[date, int, int, int]]:
        return [
            (d.day, d.charge_paise, d.energy_wh, d.posted_paise)
            for (a, _), d in sorted(self.store.state.days.items())
            if a == account_no
        ]

    def quarantine(self) -> list[str]:
        return sorted(q.reason for q in self.store.state.quarantine)

    def reprocessed(self) -> list[tuple[str, str | None]]:
        return [(q.reason, q.outcome) for q in self.store.state.quarantine]

    def queued(self) -> int:
        return len(self.store.state.queue)

    def edits(self, meter_id: str) -> list[tuple[datetime, str, str]]:
        return [(e.interval_start, e.action.value, e.reason) for e in self.store.state.edits if e.meter_id == meter_id]

    def daily_wh(self, meter_id: str) -> int:
        return sum(d.wh for (m, _), d in self.store.state.daily.items() if m == meter_id)

    def command(self, command_id: str) -> CommandRecord:
        return self.store.state.commands[command_id]

    def commands(self) -> int:
        return len(self.store.state.commands)

    def relay(self, meter_id: str) -> int | None:
        report = self.store.state.meters[meter_id].status_report
        return None if report is None else report.relay

    def events(self, meter_id: str) -> list[int]:
        return sorted(code for (m, code, _) in self.store.state.events if m == meter_id)

    def sent(self, command_id: str, now: datetime) -> None:
        c = self.store.state.commands[command_id]
        self.store.state.commands[command_id] = replace(
            c, status=Status.SENT, attempts=c.attempts + 1, last_sent_at=now, updated_at=now
        )


class SqlProbe:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def _all(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())

    def readings(self, meter_id: str) -> list[StoredReading]:
        with self.engine.connect() as conn:
            return SqlReadings(conn).between([meter_id], EVER[0], EVER[1]).get(meter_id, [])

    def balance(self, account_no: str) -> int:
        posted = self._all("SELECT coalesce(sum(amount_paise), 0) FROM ledger WHERE account_no = :a", a=account_no)
        running = self._all(
            "SELECT coalesce(sum(charge_paise - posted_paise), 0) FROM day_charges WHERE account_no = :a", a=account_no
        )
        return int(posted[0][0]) - int(running[0][0])

    def ledger(self, account_no: str) -> list[tuple[str, int, int | None]]:
        rows = self._all(
            "SELECT kind, amount_paise, duty_paise FROM ledger WHERE account_no = :a ORDER BY reference", a=account_no
        )
        return [(k, int(a), None if d is None else int(d)) for k, a, d in rows]

    def days(self, account_no: str) -> list[tuple[date, int, int, int]]:
        rows = self._all(
            "SELECT day, charge_paise, energy_wh, posted_paise FROM day_charges WHERE account_no = :a ORDER BY day",
            a=account_no,
        )
        return [(d if isinstance(d, date) else date.fromisoformat(d), int(c), int(e), int(p)) for d, c, e, p in rows]

    def quarantine(self) -> list[str]:
        return sorted(r for (r,) in self._all("SELECT reason FROM quarantine"))

    def reprocessed(self) -> list[tuple[str, str | None]]:
        return [(r, o) for r, o in self._all("SELECT reason, outcome FROM quarantine ORDER BY id")]

    def queued(self) -> int:
        return int(self._all("SELECT count(*) FROM settlement_queue")[0][0])

    def edits(self, meter_id: str) -> list[tuple[datetime, str, str]]:
        every = Queries(self.engine).edits(meter_id, *EVER)
        return [(e.interval_start, e.action, e.reason) for e in every]

    def daily_wh(self, meter_id: str) -> int:
        return int(self._all("SELECT coalesce(sum(wh), 0) FROM meter_daily WHERE meter_id = :m", m=meter_id)[0][0])

    def command(self, command_id: str) -> CommandRecord:
        with self.engine.connect() as conn:
            found = sql_commands.find(conn, command_id)
        assert found is not None
        return found

    def commands(self) -> int:
        return int(self._all("SELECT count(*) FROM commands")[0][0])

    def relay(self, meter_id: str) -> int | None:
        found = self._all("SELECT relay FROM meter_state WHERE meter_id = :m", m=meter_id)[0][0]
        return None if found is None else int(found)

    def events(self, meter_id: str) -> list[int]:
        return sorted(int(c) for (c,) in self._all("SELECT code FROM events WHERE meter_id = :m", m=meter_id))

    def sent(self, command_id: str, now: datetime) -> None:
        c = schema.commands.c
        with self.engine.begin() as conn:
            conn.execute(
                schema.commands.update()
                .where(c.command_id == command_id)
                .values(status=Status.SENT.value, attempts=c.attempts + 1, last_sent_at=now, updated_at=now)
            )


@dataclass
class World:
    """A store of one kind, what the tests need beside it, and how to look into it."""

    kind: str
    store: Transactions[Any]
    probe: Probe
    ring: KeyRing
    fail: Callable[..., None]
    """fail(repository, method, when=..., error=...): make that port method raise `error()`
    (by default a RuntimeError) whenever `when`, given the call's arguments, says so, until
    the test ends."""
    outage: Callable[[], Exception]
    """The error this kind of store's driver raises when the store cannot be reached (the
    connection lost, PostgreSQL shutting down, SQLite locked): give it to `fail` as `error`."""

    def frames(self, meter_id: str, first_fc: int, starts: Sequence[datetime], wh: int = 100) -> list[Delivery]:
        """One sealed reading frame per interval start, counters from `first_fc`, the register
        rising by `wh` each interval."""
        out = []
        for n, start in enumerate(starts):
            topic, payload = reading(SECRET, meter_id, first_fc + n, start, wh=wh, total=1_000_000 + wh * (n + 1))
            out.append(Delivery(topic, payload))
        return out
