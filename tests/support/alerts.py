"""What the alert tests share: a store with a small city, alerts to raise, a recording provider."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bijli.adapters.db import schema as t
from bijli.adapters.db.store import Store
from bijli.alerts.model import Alert, AlertKind
from bijli.alerts.ports import Message, SendFailed
from bijli.fleet.city import build_city
from tests.support.sites import commissioned_store

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
INSTALLED = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def alert_store(request: pytest.FixtureRequest, url: str) -> Store:
    """A store at `url` with a city of three consumers, disposed of after the test."""
    s = commissioned_store(url, build_city(3), INSTALLED)
    request.addfinalizer(s.engine.dispose)
    return s


class Recorder:
    """A provider that keeps what it was given, and can be told to fail."""

    def __init__(self, fail: str | None = None, final: bool = False) -> None:
        self.sent: list[Message] = []
        self.fail = fail
        self.final = final

    def send(self, message: Message) -> str:
        if self.fail is not None:
            raise SendFailed(self.fail, final=self.final)
        self.sent.append(message)
        return f"ref-{message.message_id}"


def accounts(store: Store) -> list[str]:
    with store.transaction() as uow:
        return sorted(uow.conn.execute(sa.select(t.accounts.c.account_no)).scalars())


def low(account_no: str, ref: str = "r1", level: int = 30) -> Alert:
    return Alert(
        account_no=account_no,
        kind=AlertKind.LOW_BALANCE,
        fact_key=f"low_balance:{level}:{account_no}:{ref}",
        facts={"level_pct": level, "balance_paise": 12_936_600},
        raised_at=NOW,
    )


def set_consumer(store: Store, account_no: str, **values: str | None) -> None:
    with store.transaction() as uow:
        consumer = uow.conn.execute(
            sa.select(t.accounts.c.consumer_id).where(t.accounts.c.account_no == account_no)
        ).scalar_one()
        uow.conn.execute(t.consumers.update().where(t.consumers.c.consumer_id == consumer).values(**values))
