"""The supply service on SQLite and PostgreSQL: the due queue, decisions as relay commands with
their reasons and keys, the relay shown as the confirmed command left it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bijli.adapters.db import alert_tables, supply_tables
from bijli.adapters.db import engine as db
from bijli.adapters.db import schema as t
from bijli.adapters.db.store import Store
from bijli.alerts.handlers import LiveFeed, deliver_due
from bijli.alerts.model import Channel
from bijli.alerts.ports import Message
from bijli.fleet.city import build_city
from bijli.headend.command_records import CommandRecord
from bijli.headend.commands import Status, Step
from bijli.kernel.time import IST, epoch
from bijli.prepaid.charging import DayCharge
from bijli.prepaid.model import EntryKind, LedgerEntry
from bijli.prepaid.policy import uppcl
from bijli.supply.handlers import decide_all_due, decide_due
from tests.support.sites import commissioned_store

INSTALLED = datetime(2026, 1, 5, 4, 30, tzinfo=UTC)  # a Monday, 10:00 IST
CITY = build_city(4)


class Taker:
    """An SMS provider that takes every message."""

    def send(self, message: Message) -> str:
        return message.message_id


def deliver(store: Store, now: datetime) -> int:
    """The delivery worker's round: SMS and the web feed take everything."""
    return deliver_due(store, {Channel.SMS: Taker(), Channel.WEB: LiveFeed()}, now).claimed


def kinds(store: Store, account: str) -> list[str]:
    with store.engine.connect() as conn:
        a = alert_tables.alerts.c
        return list(conn.execute(sa.select(a.kind).where(a.account_no == account).order_by(a.alert_id)).scalars())


def decide(store: Store, now: datetime) -> None:
    """Supply decides for what is due, and the deliveries go out at once."""
    decide_all_due(store, uppcl(), now)
    deliver(store, now)


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> Iterator[Store]:
    store = commissioned_store(database_url or db.sqlite_url(tmp_path), CITY, INSTALLED - timedelta(days=400))
    yield store
    store.engine.dispose()


def account_of(store: Store, meter_id: str) -> str:
    with store.engine.connect() as conn:
        a = t.accounts.c
        return str(conn.execute(sa.select(a.account_no).where(a.meter_id == meter_id)).scalar_one())


def post(store: Store, account: str, kind: EntryKind, paise: int, ref: str, now: datetime) -> None:
    with store.transaction() as uow:
        uow.ledger.post([LedgerEntry(account_no=account, kind=kind, amount_paise=paise, reference=ref)], now)


def balance(store: Store, account: str) -> int:
    with store.engine.connect() as conn:
        lg = t.ledger.c
        q = sa.select(sa.func.sum(lg.amount_paise)).where(lg.account_no == account, lg.kind.not_in(["arrears"]))
        return int(conn.execute(q).scalar_one())


def commands(store: Store, meter_id: str) -> list[Any]:
    with store.engine.connect() as conn:
        c = t.commands.c
        return list(conn.execute(sa.select(t.commands).where(c.meter_id == meter_id).order_by(c.created_at)))


def confirm(store: Store, command_id: str, now: datetime) -> None:
    with store.transaction() as uow:
        state = uow.commands.states([command_id])[command_id]
        for step in (Step(Status.SENT, "attempt 1"), Step(Status.CONFIRMED, "event reported by the meter")):
            assert uow.commands.move(state, step, now)
            state = dataclasses.replace(state, status=step.status)


def relay(store: Store, meter_id: str) -> int | None:
    with store.engine.connect() as conn:
        ms = t.meter_state.c
        return conn.execute(sa.select(ms.relay).where(ms.meter_id == meter_id)).scalar_one()  # type: ignore[no-any-return]


def due_at(store: Store, account: str) -> datetime | None:
    with store.engine.connect() as conn:
        s = supply_tables.supply_state.c
        return conn.execute(sa.select(s.next_check_at).where(s.account_no == account)).scalar_one()  # type: ignore[no-any-return]


def test_a_consumer_out_of_credit_is_warned_cut_after_the_rule_and_reconnected_by_the_payment(store: Store) -> None:
    meter = CITY[0].meter_id
    account = account_of(store, meter)
    now = INSTALLED
    post(store, account, EntryKind.RECHARGE, 50_000, "payment:pay-first", now)
    decide(store, now)
    # Charges take the balance below zero: warnings, then the notice.
    post(store, account, EntryKind.DAY_CHARGE, -(balance(store, account) + 1_000), "day:1", now + timedelta(hours=1))
    assert due_at(store, account) == now + timedelta(hours=1)
    negative = now + timedelta(hours=1)
    decide(store, negative)
    assert kinds(store, account) == ["low_balance", "disconnect_notice"]
    assert commands(store, meter) == []
    # A day on, only two warnings were sent: a reminder (and so three). Once it was sent, a
    # permit for the meter to cut itself if it is offline when emergency credit ends.
    day_on = due_at(store, account)
    assert day_on == negative + timedelta(hours=24)
    decide(store, day_on)
    assert kinds(store, account) == ["low_balance", "disconnect_notice", "disconnect_notice"]
    assert commands(store, meter) == []
    assert due_at(store, account) == day_on + timedelta(hours=24)
    decide(store, day_on + timedelta(hours=24))
    (permit,) = commands(store, meter)
    assert permit.args == f'{{"after":{epoch(negative + timedelta(days=3))}}}'
    # Thursday 11:00 IST: emergency credit is over, the warnings complete: the cut.
    wake = due_at(store, account)
    assert wake == negative + timedelta(days=3)
    decide(store, wake)
    permit, cut = commands(store, meter)
    assert (permit.action, permit.requested_by) == ("cutoff_permit", "supply")
    assert cut.action == "relay_disconnect" and cut.requested_by == "supply"
    assert cut.idempotency_key == f"supply:disconnect:{account}:{epoch(negative)}"
    assert "below zero" in cut.reason and "warned 3 times on 2 channels" in cut.reason
    assert cut.expires_at == datetime(2026, 1, 8, 17, 55, tzinfo=IST)  # before 18:00 IST
    assert cut.args == f'{{"for_credit":1,"until":{epoch(cut.expires_at)}}}'
    # The meter confirms: the relay shows open at once, and the consumer hears of it.
    confirm(store, cut.command_id, wake + timedelta(minutes=1))
    assert relay(store, meter) == 0
    decide(store, wake + timedelta(minutes=1))
    assert kinds(store, account)[-1] == "disconnected"
    # The payment: reconnect under the payment's key.
    paid = wake + timedelta(hours=2)
    post(store, account, EntryKind.RECHARGE, 100_000, "payment:pay-back", paid)
    decide(store, paid)
    reconnect = commands(store, meter)[-1]
    assert (reconnect.action, reconnect.idempotency_key) == ("relay_connect", "supply:reconnect:pay-back")
    confirm(store, reconnect.command_id, paid + timedelta(seconds=20))
    assert relay(store, meter) == 1
    decide(store, paid + timedelta(seconds=20))
    assert kinds(store, account)[-1] == "reconnected"


def test_accounts_that_are_not_due_are_not_looked_at(store: Store) -> None:
    now = INSTALLED
    first = decide_all_due(store, uppcl(), now)
    again = decide_due(store, uppcl(), now + timedelta(minutes=1))

    assert first.accounts == len(CITY)
    assert again.accounts == 0
    post(store, account_of(store, CITY[1].meter_id), EntryKind.RECHARGE, 10_000, "payment:p", now)
    assert decide_due(store, uppcl(), now + timedelta(minutes=2)).accounts == 1


def test_an_operators_confirmed_reconnect_shows_the_relay_closed_at_once(store: Store) -> None:
    meter = CITY[2].meter_id
    with store.engine.begin() as conn:
        conn.execute(t.meter_state.update().where(t.meter_state.c.meter_id == meter).values(relay=0))
    from bijli.headend.command_records import CommandRequest
    from bijli.headend.handlers import submit_command

    command, _ = submit_command(
        store,
        CommandRequest(
            meter_id=meter,
            action="relay_connect",
            args={},
            reason="paid at the office",
            requested_by="sharma",
            idempotency_key="k",
            expires_in=timedelta(hours=1),
        ),
        INSTALLED,
    )
    assert isinstance(command, CommandRecord)
    confirm(store, command.command_id, INSTALLED + timedelta(seconds=30))

    assert relay(store, meter) == 1


def test_the_supply_table_comes_and_goes_with_its_migration_and_starts_every_account_due(store: Store) -> None:
    decide_all_due(store, uppcl(), INSTALLED)
    db.downgrade(store.engine, "0015")
    with store.engine.connect() as conn:
        assert not sa.inspect(conn).has_table("supply_state")
    db.upgrade(store.engine)

    with store.engine.connect() as conn:
        s = supply_tables.supply_state.c
        due = conn.execute(sa.select(sa.func.count()).where(s.next_check_at.is_not(None))).scalar_one()
    assert due == len(CITY)
    assert decide_due(store, uppcl(), datetime.now(UTC) + timedelta(minutes=1)).accounts == len(CITY)


def test_a_low_balance_warning_tells_the_days_of_credit_left_at_the_consumers_pace(store: Store) -> None:
    account = account_of(store, CITY[3].meter_id)
    today = INSTALLED.astimezone(IST).date()
    with store.engine.begin() as conn:  # two weeks of ₹100 days, all on the ledger
        conn.execute(
            t.day_charges.insert(),
            [
                {
                    "account_no": account,
                    "day": today - timedelta(days=k),
                    "charge_paise": 10_000,
                    "duty_paise": 0,
                    "energy_wh": 15_000,
                    "tariff_version": "v",
                    "posted_paise": 10_000,
                    "posted_duty_paise": 0,
                    "posted_energy_wh": 15_000,
                    "pending": False,
                }
                for k in range(1, 15)
            ],
        )
    post(store, account, EntryKind.RECHARGE, 100_000, "payment:pay-x", INSTALLED)
    post(store, account, EntryKind.DAY_CHARGE, -(balance(store, account) - 25_000), "day:x", INSTALLED)

    decide(store, INSTALLED)

    with store.engine.connect() as conn:
        a = alert_tables.alerts.c
        (facts,) = conn.execute(sa.select(a.facts).where(a.account_no == account, a.kind == "low_balance")).scalars()
    facts = json.loads(facts) if isinstance(facts, str) else facts
    assert (facts["level_pct"], facts["balance_paise"]) == (30, 25_000)
    assert facts["days_left"] == "2.5"


def charge(store: Store, account: str, paise: int, now: datetime) -> None:
    """A settlement's running charge for the day grows by `paise`."""
    day = DayCharge(
        account_no=account,
        day=now.astimezone(IST).date(),
        charge_paise=paise,
        duty_paise=0,
        energy_wh=0,
        tariff_version="test",
    )
    with store.transaction() as uow:
        uow.day_charges.add([day], now)


def test_running_charges_wake_an_account_only_once_they_use_up_its_headroom(store: Store) -> None:
    account = account_of(store, CITY[0].meter_id)
    now = INSTALLED
    post(store, account, EntryKind.RECHARGE, 10_000, "payment:p1", now)
    decide_all_due(store, uppcl(), now)
    room = balance(store, account) - 3_000  # down to 30 % of the ₹100 recharge
    with store.engine.connect() as conn:
        s = supply_tables.supply_state.c
        assert conn.execute(sa.select(s.headroom_paise).where(s.account_no == account)).scalar_one() == room

    charge(store, account, room - 1, now + timedelta(minutes=15))
    assert decide_due(store, uppcl(), now + timedelta(minutes=16)).accounts == 0
    charge(store, account, 1, now + timedelta(minutes=30))  # the balance reaches ₹30
    assert due_at(store, account) == now + timedelta(minutes=30)
    decide(store, now + timedelta(minutes=31))
    assert kinds(store, account) == ["low_balance"]
    # Below zero: the spell starts; then lower still, nothing wakes it but time.
    charge(store, account, 3_001, now + timedelta(minutes=45))
    decide(store, now + timedelta(minutes=46))
    assert kinds(store, account) == ["low_balance", "low_balance", "disconnect_notice"]
    wake = due_at(store, account)
    charge(store, account, 50_000, now + timedelta(minutes=60))
    assert due_at(store, account) == wake and decide_due(store, uppcl(), now + timedelta(minutes=61)).accounts == 0
    # A charge taken back, or a ledger post, wakes it at once.
    charge(store, account, -100, now + timedelta(minutes=75))
    assert due_at(store, account) == now + timedelta(minutes=75)


def cut_ordered(store: Store, meter: str, account: str) -> datetime:
    """Drive an account from credit to supply's disconnect order (warned, emergency credit
    over); when it was ordered."""
    now = INSTALLED
    post(store, account, EntryKind.RECHARGE, 50_000, "payment:pay-first", now)
    decide(store, now)
    post(store, account, EntryKind.DAY_CHARGE, -(balance(store, account) + 1_000), "day:1", now + timedelta(hours=1))
    decided = now + timedelta(hours=1)
    decide(store, decided)
    while (wake := due_at(store, account)) is not None:
        decide(store, wake)
        decided = wake
    assert [c.action for c in commands(store, meter)] == ["cutoff_permit", "relay_disconnect"]
    return decided


def test_a_disconnect_not_yet_sent_is_called_off_when_a_payment_lands(store: Store) -> None:
    meter = CITY[0].meter_id
    account = account_of(store, meter)
    ordered = cut_ordered(store, meter, account)  # the meter is offline: nothing was sent
    paid = ordered + timedelta(minutes=20)
    post(store, account, EntryKind.RECHARGE, 100_000, "payment:pay-back", paid)
    decide(store, paid)

    _, cut = commands(store, meter)
    assert cut.status == "failed"
    assert cut.detail.startswith("called off: prepaid balance back to ₹") and "after payment pay-back" in cut.detail
    assert [c.action for c in commands(store, meter)] == ["cutoff_permit", "relay_disconnect"]  # nothing to reconnect
    assert relay(store, meter) != 0 and "disconnected" not in kinds(store, account)
    with store.engine.connect() as conn:
        s = supply_tables.supply_state.c
        row = conn.execute(sa.select(supply_tables.supply_state).where(s.account_no == account)).one()
    assert (row.cut_command_id, row.cut, row.negative_since) == (None, False, None)


def test_a_disconnect_already_sent_when_a_payment_lands_settles_first(store: Store) -> None:
    meter = CITY[0].meter_id
    account = account_of(store, meter)
    ordered = cut_ordered(store, meter, account)
    _, cut = commands(store, meter)
    with store.transaction() as uow:
        state = uow.commands.states([cut.command_id])[cut.command_id]
        assert uow.commands.move(state, Step(Status.SENT, "attempt 1"), ordered)
    paid = ordered + timedelta(minutes=20)
    post(store, account, EntryKind.RECHARGE, 100_000, "payment:pay-back", paid)
    decide(store, paid)

    assert commands(store, meter)[1].status == "sent"
    with store.engine.connect() as conn:
        s = supply_tables.supply_state.c
        assert conn.execute(sa.select(s.cut_command_id).where(s.account_no == account)).scalar_one() == cut.command_id
