"""Consumers, accounts and installations as records: the migration that brings them, and
the query charging uses to find the account an interval is charged to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.accounts.model import Installation
from bijli.adapters.db import engine as db
from bijli.adapters.db import schema as t
from bijli.adapters.db.store import Store
from bijli.fleet.city import build_city
from tests.support.sites import commissioned_store

INSTALLED = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else db.sqlite_url(tmp_path)
    s = commissioned_store(url, build_city(3), INSTALLED)
    request.addfinalizer(s.engine.dispose)
    return s


def test_existing_accounts_get_a_consumer_and_an_installation_when_the_store_is_upgraded(store: Store) -> None:
    city = build_city(3)
    db.downgrade(store.engine, "0010")
    with store.engine.connect() as conn:
        assert not sa.inspect(conn).has_table("installations")
    db.upgrade(store.engine)
    with store.transaction() as uow:
        found = uow.registry.installations_for([c.meter_id for c in city], INSTALLED, INSTALLED + timedelta(days=1))
        people = uow.conn.execute(sa.select(t.consumers.c.consumer_id, t.consumers.c.name)).all()
        accounts = uow.conn.execute(sa.select(t.accounts.c.consumer_id, t.accounts.c.status)).all()
    assert found == {
        c.meter_id: [
            Installation(
                account_no=c.account_no,
                meter_id=c.meter_id,
                installed_at=INSTALLED,
                opening_wh_total=c.initial_register_wh,
            )
        ]
        for c in city
    }
    assert sorted(people) == sorted((c.account_no, c.consumer_name) for c in city)
    assert sorted(accounts) == sorted((c.account_no, "active") for c in city)


def test_an_interval_is_charged_to_the_installation_that_covers_it(store: Store) -> None:
    meter = build_city(1)[0].meter_id
    with store.transaction() as uow:
        before = uow.registry.installations_for([meter], INSTALLED - timedelta(days=2), INSTALLED)
        during = uow.registry.installations_for([meter], INSTALLED, INSTALLED + timedelta(minutes=15))
    assert before == {}
    [installation] = during[meter]
    assert installation.covers(INSTALLED) and not installation.covers(INSTALLED - timedelta(minutes=15))


def test_an_account_may_lose_its_meter_once_closed(store: Store) -> None:
    account = build_city(1)[0].account_no
    with store.transaction() as uow:
        uow.conn.execute(
            t.accounts.update().where(t.accounts.c.account_no == account).values(meter_id=None, status="closed")
        )
    with store.transaction() as uow:
        left = uow.conn.execute(sa.select(t.accounts.c.meter_id).where(t.accounts.c.account_no == account)).scalar()
    assert left is None
