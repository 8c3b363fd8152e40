"""The alerts outbox on SQLite and PostgreSQL: an alert is written with its fact or not at all,
goes out once per channel, retries with backoff to a final state, and survives a worker that
dies holding its lease."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.adapters.db import engine as db
from bijli.adapters.db import schema as t
from bijli.adapters.db.store import Store
from bijli.alerts.handlers import LiveFeed, alerts_of, deliver_due, feed_of
from bijli.alerts.model import (
    LEASE,
    MAX_ATTEMPTS,
    AlertKind,
    Channel,
    DeliveryState,
    Due,
    Outcome,
    Result,
    SentWarning,
)
from bijli.fleet.city import build_city
from tests.support.alerts import INSTALLED, NOW, Recorder, accounts, alert_store, low, set_consumer
from tests.support.sites import commissioned_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else db.sqlite_url(tmp_path)
    return alert_store(request, url)


def test_an_alert_is_written_once_per_fact_with_a_delivery_per_channel(store: Store) -> None:
    account = accounts(store)[0]
    with store.transaction() as uow:
        first = uow.alerts.raise_alerts([low(account), low(account)], NOW)
    with store.transaction() as uow:
        again = uow.alerts.raise_alerts([low(account)], NOW + timedelta(minutes=5))

    assert [(r.kind, r.channels) for r in first] == [
        (
            AlertKind.LOW_BALANCE,
            {
                Channel.SMS: DeliveryState.PENDING,
                Channel.EMAIL: DeliveryState.SKIPPED,
                Channel.WEB: DeliveryState.PENDING,
            },
        )
    ]
    assert again == []
    listed = alerts_of(store, account, 10, 0)
    assert [a.alert_id for a in listed] == [first[0].alert_id]
    assert {d.channel: d.state for d in listed[0].deliveries} == first[0].channels
    assert listed[0].facts == {"level_pct": 30, "balance_paise": 12_936_600}


def test_no_alert_for_a_fact_that_was_rolled_back(store: Store) -> None:
    account = accounts(store)[0]
    with pytest.raises(RuntimeError), store.transaction() as uow:
        uow.alerts.raise_alerts([low(account)], NOW)
        raise RuntimeError("the fact's transaction fails after the alert was raised")
    sms, web = Recorder(), Recorder()

    report = deliver_due(store, {Channel.SMS: sms, Channel.WEB: web}, NOW + timedelta(hours=1))

    assert report.claimed == 0 and sms.sent == [] and web.sent == []
    assert alerts_of(store, account, 10, 0) == []


def test_each_alert_goes_out_once_per_channel_in_the_consumers_language(store: Store) -> None:
    first, second, third = accounts(store)
    set_consumer(store, first, language="hi", email="asha@example.in")
    set_consumer(store, second, language="en")
    with store.transaction() as uow:
        raised = uow.alerts.raise_alerts([low(first), low(second), low(third, level=10)], NOW)
    sms, mail = Recorder(), Recorder()
    senders = {Channel.SMS: sms, Channel.EMAIL: mail, Channel.WEB: LiveFeed()}

    one = deliver_due(store, senders, NOW)
    two = deliver_due(store, senders, NOW + timedelta(hours=3))

    assert (one.claimed, one.sent, two.claimed) == (7, 7, 0)
    assert Counter(m.alert_id for m in sms.sent) == {r.alert_id: 1 for r in raised}
    assert [m.to for m in mail.sent] == ["asha@example.in"]
    hindi = next(m for m in sms.sent if m.alert_id == raised[0].alert_id)
    english = next(m for m in sms.sent if m.alert_id == raised[1].alert_id)
    assert "₹1,29,366.00" in hindi.text and "बचे हैं" in hindi.text and hindi.language == "hi"
    assert "₹1,29,366.00 left, 30% of your last recharge" in english.text
    assert hindi.template_id != english.template_id
    assert hindi.message_id == f"bijli-alert-{raised[0].alert_id}-sms"
    assert [a.alert_id for a in feed_of(store, first, 0)] == [raised[0].alert_id]
    sent = {a: [(w.kind, w.channel) for w in ws] for a, ws in _warnings(store, [first, second]).items()}
    assert sorted(sent[first]) == [
        (AlertKind.LOW_BALANCE, Channel.EMAIL),
        (AlertKind.LOW_BALANCE, Channel.SMS),
        (AlertKind.LOW_BALANCE, Channel.WEB),
    ]
    assert sorted(sent[second]) == [(AlertKind.LOW_BALANCE, Channel.SMS), (AlertKind.LOW_BALANCE, Channel.WEB)]


def _warnings(store: Store, account_nos: list[str]) -> dict[str, list[SentWarning]]:
    with store.transaction() as uow:
        return uow.alerts.warnings_sent(account_nos, NOW - timedelta(days=1))


def test_a_failing_channel_is_retried_with_backoff_then_failed_with_the_reason(store: Store) -> None:
    account = accounts(store)[0]
    with store.transaction() as uow:
        uow.alerts.raise_alerts([low(account)], NOW)
    down = Recorder(fail="gateway answered 503")
    at = NOW
    tries = 0
    while True:
        report = deliver_due(store, {Channel.SMS: down, Channel.WEB: LiveFeed()}, at)
        tries += report.retried + report.failed
        (record,) = alerts_of(store, account, 1, 0)
        sms = next(d for d in record.deliveries if d.channel is Channel.SMS)
        if sms.state is not DeliveryState.PENDING:
            break
        assert sms.next_try_at is not None and sms.next_try_at > at
        assert deliver_due(store, {Channel.SMS: down}, sms.next_try_at - timedelta(seconds=1)).claimed == 0
        at = sms.next_try_at

    assert tries == MAX_ATTEMPTS
    assert sms.state is DeliveryState.FAILED and sms.attempts == MAX_ATTEMPTS
    assert sms.last_error == f"gave up after {MAX_ATTEMPTS} attempts: gateway answered 503"
    assert {d.channel: d.state for d in record.deliveries}[Channel.WEB] is DeliveryState.SENT
    assert _warnings(store, [account])[account][0].channel is Channel.WEB


def test_a_refused_message_fails_at_once(store: Store) -> None:
    account = accounts(store)[0]
    with store.transaction() as uow:
        uow.alerts.raise_alerts([low(account)], NOW)
    deliver_due(store, {Channel.SMS: Recorder(fail="number is on the do-not-disturb list", final=True)}, NOW)
    (record,) = alerts_of(store, account, 1, 0)
    sms = next(d for d in record.deliveries if d.channel is Channel.SMS)
    assert (sms.state, sms.attempts, sms.last_error) == (
        DeliveryState.FAILED,
        1,
        "number is on the do-not-disturb list",
    )


def test_a_delivery_a_dead_worker_held_goes_out_once_its_lease_ends(store: Store) -> None:
    account = accounts(store)[0]
    with store.transaction() as uow:
        uow.alerts.raise_alerts([low(account)], NOW)
        held = uow.alerts.claim(NOW, 10, list(Channel), LEASE)  # the worker dies here, before sending anything
    assert len(held) == 2
    sms = Recorder()

    early = deliver_due(store, {Channel.SMS: sms, Channel.WEB: LiveFeed()}, NOW + LEASE - timedelta(seconds=1))
    late = deliver_due(store, {Channel.SMS: sms, Channel.WEB: LiveFeed()}, NOW + LEASE)
    with store.transaction() as uow:  # the dead worker's word, had it come back, changes nothing
        stale = uow.alerts.finish([_sent(held[0])])

    assert (early.claimed, late.sent, stale) == (0, 2, 0)
    assert len(sms.sent) == 1
    (record,) = alerts_of(store, account, 1, 0)
    assert {d.channel: (d.state, d.attempts) for d in record.deliveries} == {
        Channel.SMS: (DeliveryState.SENT, 2),
        Channel.EMAIL: (DeliveryState.SKIPPED, 0),
        Channel.WEB: (DeliveryState.SENT, 2),
    }


def _sent(due: Due) -> Result:
    return Result(alert_id=due.alert_id, channel=due.channel, attempts=due.attempts, outcome=Outcome.SENT, at=NOW)


@pytest.mark.postgres
def test_two_workers_never_claim_the_same_delivery(pg_url: str) -> None:
    store = commissioned_store(pg_url, build_city(3), INSTALLED)
    try:
        with store.transaction() as uow:
            uow.alerts.raise_alerts([low(a) for a in accounts(store)], NOW)
        with store.transaction() as one, store.transaction() as two:
            first = one.alerts.claim(NOW, 4, list(Channel), LEASE)
            second = two.alerts.claim(NOW, 100, list(Channel), LEASE)  # while the first still holds its rows
        assert len(first) == 4 and len(second) == 2
        assert not {(d.alert_id, d.channel) for d in first} & {(d.alert_id, d.channel) for d in second}
    finally:
        store.engine.dispose()


def test_the_alert_tables_come_and_go_with_their_migration(store: Store) -> None:
    account = accounts(store)[0]
    with store.transaction() as uow:
        uow.alerts.raise_alerts([low(account)], NOW)
    db.downgrade(store.engine, "0014")
    with store.engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert not inspector.has_table("alerts") and not inspector.has_table("alert_deliveries")
        assert "email" not in {c["name"] for c in inspector.get_columns("consumers")}
    db.upgrade(store.engine)
    assert alerts_of(store, account, 10, 0) == []
    with store.transaction() as uow:
        assert len(uow.alerts.raise_alerts([low(account)], NOW)) == 1


def test_balances_are_the_ledger_with_its_running_days(store: Store) -> None:
    account = accounts(store)[0]
    with store.transaction() as uow:
        balances = uow.alerts.balances([account, "NO-SUCH-ACCOUNT"])
        posted = uow.conn.execute(
            sa.select(sa.func.sum(t.ledger.c.amount_paise)).where(t.ledger.c.account_no == account)
        ).scalar_one()
    assert balances == {account: int(posted or 0)}
