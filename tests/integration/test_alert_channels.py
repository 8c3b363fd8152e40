"""The alert channels against real servers the tests start: an HTTP SMS gateway (DLT ids on
every text, retries, refusals) and an SMTP server (aiosmtpd), and the file provider."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bijli.adapters.db import engine as db
from bijli.adapters.db.store import Store
from bijli.adapters.mail.smtp import SmtpMail
from bijli.adapters.sms.file import FileSms
from bijli.adapters.sms.gateway import HttpSmsGateway
from bijli.alerts.handlers import LiveFeed, alerts_of, deliver_due
from bijli.alerts.model import AlertKind, Channel, DeliveryState
from bijli.alerts.ports import Message
from bijli.alerts.texts import templates
from tests.conftest import free_port
from tests.support.alerts import NOW, accounts, alert_store, low, set_consumer
from tests.support.mailbox import Mailbox
from tests.support.sms_gateway import Gateway

ENTITY = "1101176500000000001"


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return alert_store(request, db.sqlite_url(tmp_path))


def states(store: Store, account: str) -> dict[Channel, tuple[DeliveryState, int, str]]:
    (record,) = alerts_of(store, account, 1, 0)
    return {d.channel: (d.state, d.attempts, d.last_error) for d in record.deliveries}


def test_the_sms_gateway_gets_the_dlt_ids_and_a_stable_client_reference(store: Store, gateway: Gateway) -> None:
    account = accounts(store)[0]
    set_consumer(store, account, language="hi")
    with store.transaction() as uow:
        (raised,) = uow.alerts.raise_alerts([low(account)], NOW)
    gateway.fail_next = [503, 429]
    sms = HttpSmsGateway(gateway.url, gateway.key, "BIJLIU", ENTITY)

    at = NOW
    while states(store, account)[Channel.SMS][0] is DeliveryState.PENDING:
        deliver_due(store, {Channel.SMS: sms}, at)
        at += timedelta(minutes=30)

    assert states(store, account)[Channel.SMS] == (DeliveryState.SENT, 3, "")
    assert len(gateway.requests) == 3 and len(gateway.delivered) == 1
    body = gateway.delivered[f"bijli-alert-{raised.alert_id}-sms"]
    assert body["dlt_entity_id"] == ENTITY and body["sender"] == "BIJLIU" and body["unicode"] is True
    assert body["dlt_template_id"] == templates()[(AlertKind.LOW_BALANCE, "hi")].template_id
    assert body["to"].startswith("+91") and "₹1,29,366.00" in body["text"]
    assert {r["client_ref"] for r in gateway.requests} == {f"bijli-alert-{raised.alert_id}-sms"}


def test_a_number_the_gateway_refuses_fails_at_once_with_its_answer(store: Store, gateway: Gateway) -> None:
    account = accounts(store)[0]
    set_consumer(store, account, mobile="+919800000099")
    with store.transaction() as uow:
        uow.alerts.raise_alerts([low(account)], NOW)
    gateway.refused_numbers = {"+919800000099"}
    deliver_due(store, {Channel.SMS: HttpSmsGateway(gateway.url, gateway.key, "BIJLIU", ENTITY)}, NOW)
    state, attempts, error = states(store, account)[Channel.SMS]
    assert (state, attempts) == (DeliveryState.FAILED, 1)
    assert error.startswith("SMS gateway answered 400") and "do-not-disturb" in error


def test_an_email_reaches_a_real_smtp_server_once_with_a_stable_message_id(store: Store, mailbox: Mailbox) -> None:
    first, second, _ = accounts(store)
    set_consumer(store, first, email="asha@example.in", language="hi")
    set_consumer(store, second, email="ravi@refused.example", language="en")
    with store.transaction() as uow:
        raised = uow.alerts.raise_alerts([low(first), low(second)], NOW)
    mail = SmtpMail("127.0.0.1", mailbox.port, "alerts@kesco.example", mode="plain")

    report = deliver_due(store, {Channel.EMAIL: mail}, NOW)
    again = deliver_due(store, {Channel.EMAIL: mail}, NOW + timedelta(hours=1))

    assert (report.sent, report.failed, again.claimed) == (1, 1, 0)
    (got,) = mailbox.messages()
    assert got["message_id"] == f"<bijli-alert-{raised[0].alert_id}-email@kesco.example>"
    assert got["to"] == ["asha@example.in"] and got["language"] == "hi"
    assert "खाता" in got["subject"] and "₹1,29,366.00" in got["text"]
    state, attempts, error = states(store, second)[Channel.EMAIL]
    assert (state, attempts) == (DeliveryState.FAILED, 1) and "refused ravi@refused.example" in error


def test_an_email_waits_for_a_relay_that_is_down(store: Store, tmp_path: Path) -> None:
    account = accounts(store)[0]
    set_consumer(store, account, email="asha@example.in")
    with store.transaction() as uow:
        uow.alerts.raise_alerts([low(account)], NOW)
    box = Mailbox(free_port(), tmp_path / "late.jsonl")
    mail = SmtpMail("127.0.0.1", box.port, "alerts@kesco.example", mode="plain", timeout_s=2)

    down = deliver_due(store, {Channel.EMAIL: mail}, NOW)
    box.start()
    try:
        up = deliver_due(store, {Channel.EMAIL: mail}, NOW + timedelta(minutes=1))
    finally:
        box.kill()

    assert (down.retried, up.sent) == (1, 1)
    assert len(box.messages()) == 1
    assert states(store, account)[Channel.EMAIL][:2] == (DeliveryState.SENT, 2)


def test_the_file_provider_writes_each_message_once(tmp_path: Path) -> None:
    path = tmp_path / "alerts" / "sms.jsonl"
    message = Message(
        alert_id=7,
        channel=Channel.SMS,
        message_id="bijli-alert-7-sms",
        to="+919800000001",
        language="en",
        template_id="1107176500000000101",
        subject="s",
        text="bijli: hello",
    )
    FileSms(path).send(message)
    FileSms(path).send(message)  # a worker that restarted sends it again

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(x["message_id"], x["to"], x["text"]) for x in lines] == [
        ("bijli-alert-7-sms", "+919800000001", "bijli: hello")
    ]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_web_feed_holds_an_alert_once_it_is_sent(store: Store) -> None:
    account = accounts(store)[0]
    with store.transaction() as uow:
        (raised,) = uow.alerts.raise_alerts([low(account)], NOW)
    with store.transaction() as uow:
        assert uow.alerts.feed(account, 0, 10) == []
    deliver_due(store, {Channel.WEB: LiveFeed()}, NOW)
    with store.transaction() as uow:
        assert [a.alert_id for a in uow.alerts.feed(account, 0, 10)] == [raised.alert_id]
        assert uow.alerts.feed(account, raised.alert_id, 10) == []
