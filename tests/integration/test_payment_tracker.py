"""The payment tracker on both stores, and its route: each step appears as its facts arrive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.headend.command_records import CommandRecord, CommandRequest, CommandState, new_command
from bijli.headend.commands import Status, Step
from bijli.headend.records import MeterEvent, TokenRedemption
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import epoch
from bijli.payments.handlers import take_webhook, tracked
from bijli.payments.model import PaymentEvent, PaymentStatus, event_body, sign
from bijli.payments.tracker import State, reconnect_key
from bijli.protocol.events import EventCode
from bijli.web.app import create_app
from tests.support.access import bearer
from tests.support.ingest import receive_events
from tests.support.sites import commissioned_platform
from tests.web.conftest import TestClient

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(2)
ME = CITY[0]


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=3), database_url=database_url)
    yield p
    p.store.dispose()


def pay(p: Platform, payment_id: str, at: datetime = NOW) -> None:
    event = PaymentEvent(
        event_id=f"evt-{payment_id}",
        payment_id=payment_id,
        account_no=ME.account_no,
        amount_paise=50_000,
        status=PaymentStatus.CAPTURED,
        at=at,
    )
    body = event_body(event)
    secret = p.settings.payment_secret
    assert secret is not None
    take_webhook(p.store, body, sign(secret, body), secret, 1, at)


def advance(p: Platform, command: CommandRecord, status: Status, at: datetime) -> CommandRecord:
    with p.store.transaction() as uow:
        current = uow.commands.by_key(command.idempotency_key)
        assert current is not None
        state = CommandState(current.command_id, current.meter_id, current.action, current.status, current.attempts)
        assert uow.commands.move(state, Step(status, f"test: {status.value}"), at)
        moved = uow.commands.by_key(command.idempotency_key)
    assert moved is not None
    return moved


def steps(p: Platform, payment_id: str) -> list[tuple[str, str, datetime | None]]:
    found = tracked(p.store, payment_id)
    assert found is not None
    return [(s.stage.value, s.state.value, s.at) for s in found.steps]


def test_a_disconnected_meter_s_payment_is_tracked_to_its_power_restored(platform: Platform) -> None:
    two_days_ago = NOW - timedelta(days=2)  # the supply service cut the meter
    receive_events(platform.store, two_days_ago, (ME.meter_id, EventCode.LOAD_SWITCH_DISCONNECTED, two_days_ago))
    pay(platform, "pay-t1")
    assert steps(platform, "pay-t1") == [
        ("received", "done", NOW),
        ("credited", "pending", None),
        ("reconnect_sent", "pending", None),
        ("power_restored", "pending", None),
    ]
    with platform.store.transaction() as uow:
        credit = uow.commands.by_key("payment:pay-t1")
        assert credit is not None
    credit = advance(platform, credit, Status.SENT, NOW + timedelta(seconds=1))
    advance(platform, credit, Status.CONFIRMED, NOW + timedelta(seconds=2))
    request = CommandRequest(
        meter_id=ME.meter_id,
        action="relay_connect",
        args={},
        reason="payment pay-t1 brought the balance back to zero or above",
        requested_by="supply",
        idempotency_key=reconnect_key("pay-t1"),
        expires_in=timedelta(hours=1),
    )
    with platform.store.transaction() as uow:
        uow.commands.add(new_command(request, NOW + timedelta(seconds=3)))
        reconnect = uow.commands.by_key(reconnect_key("pay-t1"))
    assert reconnect is not None
    reconnect = advance(platform, reconnect, Status.SENT, NOW + timedelta(seconds=4))
    reconnect = advance(platform, reconnect, Status.ACKNOWLEDGED, NOW + timedelta(seconds=6))
    advance(platform, reconnect, Status.CONFIRMED, NOW + timedelta(seconds=8))
    assert steps(platform, "pay-t1") == [
        ("received", "done", NOW),
        ("credited", "done", NOW + timedelta(seconds=2)),
        ("reconnect_sent", "done", NOW + timedelta(seconds=4)),
        ("power_restored", "done", NOW + timedelta(seconds=8)),
    ]
    found = tracked(platform.store, "pay-t1")
    assert found is not None and found.power_back_s == 8

    api = TestClient(
        create_app(platform, clock=SimulatedClock(NOW + timedelta(minutes=1))), base_url="http://localhost"
    )
    api.headers.update(bearer(platform, Role.BILLING, "tracker"))
    shown = api.get("/api/v1/payments/pay-t1").json()
    assert shown["amount"] == "500.00" and shown["status"] == "captured"
    assert [(s["step"], s["state"], s["at_ist"]) for s in shown["steps"]] == [
        ("received", "done", "04 Dec 2026, 12:00"),
        ("credited", "done", "04 Dec 2026, 12:00"),
        ("reconnect_sent", "done", "04 Dec 2026, 12:00"),
        ("power_restored", "done", "04 Dec 2026, 12:00"),
    ]
    assert shown["steps"][3]["at"] == "2026-12-04T06:30:08Z"
    assert shown["power_back_s"] == 8
    assert api.get("/api/v1/payments/pay-none").status_code == 404


def test_a_token_typed_at_an_offline_meter_credits_it_and_its_own_reconnection_restores_power(
    platform: Platform,
) -> None:
    an_hour_ago = NOW - timedelta(hours=1)
    receive_events(platform.store, an_hour_ago, (ME.meter_id, EventCode.LOAD_SWITCH_DISCONNECTED, an_hour_ago))
    pay(platform, "pay-t2")
    found = tracked(platform.store, "pay-t2")
    assert found is not None
    typed = NOW + timedelta(minutes=20)
    with platform.store.transaction() as uow:
        token = uow.token_register.of_payment("pay-t2")[0]
        uow.received.add_redemptions(
            [
                TokenRedemption(
                    meter_id=ME.meter_id,
                    token_id=token.token_id,
                    status=0,
                    amount_paise=50_000,
                    redeemed_at=epoch(typed),
                )
            ],
            typed + timedelta(minutes=5),  # heard of when the meter came back online
        )
        uow.received.add_events(
            [MeterEvent(meter_id=ME.meter_id, code=EventCode.LOAD_SWITCH_CONNECTED, occurred_at=epoch(typed) + 1)],
            typed + timedelta(minutes=5),
        )
    assert steps(platform, "pay-t2") == [
        ("received", "done", NOW),
        ("credited", "done", typed + timedelta(minutes=5)),
        ("reconnect_sent", "not_needed", None),
        ("power_restored", "done", typed + timedelta(seconds=1)),
    ]


def test_a_payment_while_supply_is_on_needs_no_reconnect(platform: Platform) -> None:
    pay(platform, "pay-t3")
    found = tracked(platform.store, "pay-t3")
    assert found is not None
    assert found.steps[2].state is State.NOT_NEEDED and found.steps[2].detail == "supply was on"
    assert tracked(platform.store, "pay-unknown") is None


def test_a_retried_reconnect_is_the_one_tracked(platform: Platform) -> None:
    receive_events(platform.store, NOW, (ME.meter_id, EventCode.LOAD_SWITCH_DISCONNECTED, NOW - timedelta(minutes=1)))
    pay(platform, "pay-t4")
    first, retry = (
        CommandRequest(
            meter_id=ME.meter_id,
            action="relay_connect",
            args={},
            reason="back in credit",
            requested_by="supply",
            idempotency_key=key,
            expires_in=timedelta(hours=1),
        )
        for key in (reconnect_key("pay-t4"), reconnect_key("pay-t4") + ":2")
    )
    with platform.store.transaction() as uow:
        uow.commands.add(new_command(first, NOW))
        uow.commands.add(new_command(retry, NOW + timedelta(minutes=1)))
        failed = uow.commands.by_key(first.idempotency_key)
    assert failed is not None
    advance(platform, failed, Status.EXPIRED, NOW + timedelta(seconds=30))
    stored = tracked(platform.store, "pay-t4")
    assert stored is not None and "queued" in stored.steps[2].detail
    with platform.store.transaction() as uow:
        second = uow.commands.by_key(retry.idempotency_key)
    assert second is not None
    second = advance(platform, second, Status.SENT, NOW + timedelta(minutes=2))
    second = advance(platform, second, Status.ACKNOWLEDGED, NOW + timedelta(minutes=2, seconds=1))
    advance(platform, second, Status.CONFIRMED, NOW + timedelta(minutes=2, seconds=2))
    assert steps(platform, "pay-t4")[2:] == [
        ("reconnect_sent", "done", NOW + timedelta(minutes=2)),
        ("power_restored", "done", NOW + timedelta(minutes=2, seconds=2)),
    ]
