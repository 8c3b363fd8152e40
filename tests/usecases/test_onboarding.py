"""Onboarding on every store: consumers registered, meters installed on accounts, replaced and
taken off when an account closes; every refusal names its reason and changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bijli.accounts.handlers import close_account, install_meter, onboard, register_consumer, replace_meter
from bijli.accounts.model import (
    AccountStatus,
    AccountTerms,
    Closing,
    Conflict,
    Consumer,
    Installation,
    Installing,
    Language,
    MeterSite,
    NotFound,
    Refused,
    Replacing,
)
from bijli.accounts.onboarding import Row
from bijli.fleet.city import build_city
from bijli.mdm.meters import MeterStatus
from tests.support.world import World
from tests.usecases.conftest import INSTALLED, REGISTER_AT_INSTALLATION, TARIFF, day

TARIFFS = [TARIFF]
NOW = day(3)
AT = day(2)
SITE = MeterSite(meter_id="KNNW0000001", area="Civil Lines", feeder="CL-F09", transformer="CL-F09-DT01", phases=1)
ASHA = Consumer(
    consumer_id="C-1001", name="Asha Verma", mobile="+919812345678", language=Language.ENGLISH, created_at=AT
)


def installing(**changes: Any) -> Installing:
    base = Installing(
        account_no="KESCONW0000001",
        consumer_id=ASHA.consumer_id,
        meter=SITE,
        terms=AccountTerms(tariff_code=TARIFF, sanctioned_load_w=2000),
        installed_at=AT,
        opening_wh_total=12_345,
        opening_balance_paise=50_000,
    )
    return replace(base, **changes)


def records(world: World, account_no: str, meter_id: str) -> tuple[Any, ...]:
    """What a user of the records would see of an account and a meter."""
    with world.store.transaction() as uow:
        account = uow.accounts.accounts([account_no]).get(account_no)
        return (
            account,
            uow.accounts.installations(account_no),
            uow.registry.sites([meter_id]),
            uow.accounts.balance(account_no),
            sorted(uow.accounts.consumers([ASHA.consumer_id]).items()),
            world.probe.ledger(account_no),
            uow.registry.history(meter_id),
        )


def charged_to(world: World, meter_id: str) -> str | None:
    """The account settlement charges the meter's readings to, now."""
    with world.store.transaction() as uow:
        supply = uow.meters.supplies([meter_id]).get(meter_id)
    return None if supply is None or supply.connection is None else supply.connection.account_no


# ---------------------------------------------------------------------------- registering and installing


def test_a_meter_installed_for_a_registered_consumer_is_in_service_on_a_new_account(world: World) -> None:
    register_consumer(world.store, ASHA)

    assert install_meter(world.store, installing(), TARIFFS, NOW, by="fe1") == "created"

    account, installations, sites, balance, _, ledger, _ = records(world, "KESCONW0000001", SITE.meter_id)
    assert account.status is AccountStatus.ACTIVE and account.meter_id == SITE.meter_id
    assert installations == [
        Installation(account_no="KESCONW0000001", meter_id=SITE.meter_id, installed_at=AT, opening_wh_total=12_345)
    ]
    assert sites == {SITE.meter_id: (SITE, MeterStatus.COMMISSIONED.value)}
    assert balance == (50_000, 0)
    assert ledger == [("opening", 50_000, None)]
    assert charged_to(world, SITE.meter_id) == "KESCONW0000001"


def test_arrears_at_onboarding_are_owed_apart_from_the_prepaid_balance(world: World) -> None:
    register_consumer(world.store, ASHA)
    install_meter(world.store, installing(opening_balance_paise=0, arrears_paise=123_456), TARIFFS, NOW, by="fe1")

    _, _, _, balance, _, ledger, _ = records(world, "KESCONW0000001", SITE.meter_id)
    assert balance == (0, 123_456)
    assert ledger == [("arrears", -123_456, None)]


def test_installing_the_same_meter_again_changes_nothing(world: World) -> None:
    register_consumer(world.store, ASHA)
    install_meter(world.store, installing(), TARIFFS, NOW, by="fe1")
    before = records(world, "KESCONW0000001", SITE.meter_id)

    assert install_meter(world.store, installing(), TARIFFS, NOW, by="fe1") == "unchanged"
    assert records(world, "KESCONW0000001", SITE.meter_id) == before


def test_a_consumer_id_is_registered_once(world: World) -> None:
    register_consumer(world.store, ASHA)
    with pytest.raises(Conflict, match="consumer C-1001 is registered already"):
        register_consumer(world.store, replace(ASHA, name="Someone Else"))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"consumer_id": "C-9999"}, "consumer C-9999 is not registered"),
        ({"meter": replace(SITE, phases=2)}, "phase must be 1 or 3"),
        ({"terms": AccountTerms(tariff_code="XX", sanctioned_load_w=2000)}, "tariff category 'XX' is not one"),
        ({"terms": AccountTerms(tariff_code=TARIFF, sanctioned_load_w=0)}, "sanctioned load must be 1 to"),
        ({"installed_at": NOW + timedelta(days=1)}, "is in the future"),
        ({"opening_wh_total": -1}, "the opening register must be 0 to"),
        ({"arrears_paise": 100}, "give an opening balance or arrears, not both"),
        ({"account_no": "has space"}, "account 'has space' is not an id"),
    ],
)
def test_a_bad_installation_is_refused_with_its_reason_and_changes_nothing(
    world: World, changes: dict[str, Any], reason: str
) -> None:
    register_consumer(world.store, ASHA)
    before = records(world, changes.get("account_no", "KESCONW0000001"), SITE.meter_id)

    with pytest.raises(Refused, match=reason):
        install_meter(world.store, installing(**changes), TARIFFS, NOW, by="fe1")

    assert records(world, changes.get("account_no", "KESCONW0000001"), SITE.meter_id) == before


def test_a_meter_installed_on_one_account_is_refused_for_another(world: World) -> None:
    city = build_city(4)
    register_consumer(world.store, ASHA)
    taken = installing(meter=replace(SITE, meter_id=city[0].meter_id))
    before = records(world, "KESCONW0000001", city[0].meter_id)

    with pytest.raises(Conflict, match=f"meter {city[0].meter_id} is installed on account {city[0].account_no}"):
        install_meter(world.store, taken, TARIFFS, NOW, by="fe1")
    assert records(world, "KESCONW0000001", city[0].meter_id) == before


def test_an_account_with_a_meter_takes_no_second_one(world: World) -> None:
    city = build_city(4)
    second = installing(account_no=city[0].account_no, consumer_id=city[0].account_no)

    with pytest.raises(Conflict, match=f"account {city[0].account_no} has meter {city[0].meter_id} installed"):
        install_meter(world.store, second, TARIFFS, NOW, by="fe1")
    assert charged_to(world, SITE.meter_id) is None


# ---------------------------------------------------------------------------- a batch of rows


def rows_of(n: int) -> list[Row]:
    """n consumers, each with a meter on an account of their own."""
    found = []
    for k in range(1, n + 1):
        person = replace(ASHA, consumer_id=f"C-{k:04d}", mobile=f"+91981234{k:04d}")
        found.append(
            Row(
                number=k + 1,
                consumer=person,
                installing=installing(
                    account_no=f"KESCONW{k:07d}",
                    consumer_id=person.consumer_id,
                    meter=replace(SITE, meter_id=f"KNNW{k:07d}"),
                ),
            )
        )
    return found


def test_a_batch_takes_the_good_rows_names_the_bad_ones_and_taken_again_duplicates_nothing(world: World) -> None:
    rows = rows_of(5)
    rows[1] = replace(rows[1], consumer=replace(rows[1].consumer, mobile="12345"))  # type: ignore[arg-type]
    rows[3] = replace(rows[3], installing=replace(rows[3].installing, meter=rows[0].installing.meter))

    first = onboard(world.store, rows, TARIFFS, NOW)
    again = onboard(world.store, rows, TARIFFS, NOW)

    assert (first.created, first.updated, first.unchanged) == ([2, 4, 6], [], [])
    assert [(n, str(r)) for n, r in first.rejected] == [
        (3, "mobile '12345' is not an Indian mobile number (+91 and ten digits)"),
        (5, "meter KNNW0000001 is installed on account KESCONW0000001"),
    ]
    assert (again.created, again.updated, again.unchanged) == ([], [], [2, 4, 6])
    assert [n for n, _ in again.rejected] == [3, 5]
    assert [charged_to(world, f"KNNW{k:07d}") for k in range(1, 6)] == [
        "KESCONW0000001",
        None,
        "KESCONW0000003",
        None,
        "KESCONW0000005",
    ]
    assert world.probe.ledger("KESCONW0000001") == [("opening", 50_000, None)]


def test_a_row_taken_again_with_new_details_updates_them(world: World) -> None:
    [row] = rows_of(1)
    onboard(world.store, [row], TARIFFS, NOW)
    moved = replace(
        row,
        consumer=replace(ASHA, consumer_id="C-0001", name="Asha Verma Singh", mobile="+919812340001"),
        installing=replace(
            row.installing,
            terms=AccountTerms(tariff_code=TARIFF, sanctioned_load_w=3000, arrears_share_pct=20),
            meter=replace(row.installing.meter, transformer="CL-F09-DT02"),
        ),
    )

    outcome = onboard(world.store, [moved], TARIFFS, NOW)

    assert outcome.updated == [2]
    with world.store.transaction() as uow:
        account = uow.accounts.accounts(["KESCONW0000001"])["KESCONW0000001"]
        assert account.terms == AccountTerms(tariff_code=TARIFF, sanctioned_load_w=3000, arrears_share_pct=20)
        assert uow.accounts.consumers(["C-0001"])["C-0001"].name == "Asha Verma Singh"
        assert uow.registry.sites(["KNNW0000001"])["KNNW0000001"][0].transformer == "CL-F09-DT02"


def test_a_row_that_contradicts_what_charges_count_from_is_refused(world: World) -> None:
    [row] = rows_of(1)
    onboard(world.store, [row], TARIFFS, NOW)
    other_register = replace(row, installing=replace(row.installing, opening_wh_total=99))
    other_opening = replace(row, installing=replace(row.installing, opening_balance_paise=70_000))

    outcome = onboard(world.store, [other_register, other_opening], TARIFFS, NOW)

    assert [str(r) for _, r in outcome.rejected] == [
        "meter KNNW0000001 went on account KESCONW0000001 at 03 Nov 2026 12:00 IST reading 12,345 Wh; the row says "
        "03 Nov 2026 12:00 IST, 99 Wh (charges count from the record: it is not changed here)",
        "account KESCONW0000001 has its opening balance of ₹500.00 posted already; the row says ₹700.00 "
        "(post an adjustment to correct it)",
    ]


# ---------------------------------------------------------------------------- replacing and closing


def test_a_replaced_meter_closes_its_installation_and_the_new_one_carries_the_account_on(world: World) -> None:
    old = build_city(4)[0]
    new = replace(SITE, meter_id="KNNW0000009")
    at = day(5)

    installed = replace_meter(
        world.store,
        Replacing(
            old_meter_id=old.meter_id,
            closing_wh_total=REGISTER_AT_INSTALLATION + 40_000,
            new=new,
            opening_wh_total=7,
            at=at,
            reason="display dead",
        ),
        at,
        by="fe1",
    )

    assert installed == Installation(
        account_no=old.account_no, meter_id=new.meter_id, installed_at=at, opening_wh_total=7
    )
    with world.store.transaction() as uow:
        history = uow.accounts.installations(old.account_no)
        window = uow.registry.installations_for([old.meter_id, new.meter_id], INSTALLED, at + timedelta(days=1))
        status = {m: s for m, (_, s) in uow.registry.sites([old.meter_id, new.meter_id]).items()}
    assert [(i.meter_id, i.removed_at, i.closing_wh_total) for i in history] == [
        (old.meter_id, at, REGISTER_AT_INSTALLATION + 40_000),
        (new.meter_id, None, None),
    ]
    assert history[0].reason == "replaced by KNNW0000009: display dead"
    assert [i.covers(at - timedelta(minutes=15)) for i in window[old.meter_id]] == [True]
    assert [i.covers(at) for i in window[old.meter_id]] == [False]
    assert [i.covers(at) for i in window[new.meter_id]] == [True]
    assert status == {old.meter_id: "decommissioned", new.meter_id: "commissioned"}
    assert (charged_to(world, old.meter_id), charged_to(world, new.meter_id)) == (None, old.account_no)


def test_a_replacement_whose_final_reading_is_below_the_opening_one_is_refused(world: World) -> None:
    old = build_city(4)[0]
    before = records(world, old.account_no, old.meter_id)
    bad = Replacing(
        old_meter_id=old.meter_id,
        closing_wh_total=REGISTER_AT_INSTALLATION - 5,
        new=SITE,
        opening_wh_total=0,
        at=AT,
        reason="burnt",
    )
    with pytest.raises(Refused, match="is below the opening register"):
        replace_meter(world.store, bad, NOW, by="fe1")
    with pytest.raises(NotFound, match="meter KNXX0000001 not found"):
        replace_meter(world.store, replace(bad, old_meter_id="KNXX0000001"), NOW, by="fe1")
    assert records(world, old.account_no, old.meter_id) == before


def test_a_closed_account_settles_its_balance_once_and_takes_no_meter(world: World) -> None:
    person = build_city(4)[1]
    closing = Closing(
        account_no=person.account_no, closing_wh_total=REGISTER_AT_INSTALLATION + 1000, at=AT, reason="moved"
    )

    statement = close_account(world.store, closing, NOW, by="billing1")

    assert (statement.balance_paise, statement.arrears_paise) == (person.opening_balance_paise, 0)
    assert statement.settlement_paise == person.opening_balance_paise  # refunded
    account, installations, sites, balance, *_ = records(world, person.account_no, person.meter_id)
    assert (account.status, account.meter_id, account.closed_at) == (AccountStatus.CLOSED, None, AT)
    assert installations[0].removed_at == AT
    assert sites[person.meter_id][1] == "decommissioned"
    assert balance == (0, 0)
    assert world.probe.ledger(person.account_no) == [
        ("final_settlement", -person.opening_balance_paise, None),
        ("opening", person.opening_balance_paise, None),
    ]
    after = records(world, person.account_no, person.meter_id)
    with pytest.raises(Conflict, match=f"account {person.account_no} is closed already"):
        close_account(world.store, closing, NOW, by="billing1")
    with pytest.raises(Conflict, match=f"account {person.account_no} was closed on 03 Nov 2026 12:00 IST"):
        install_meter(
            world.store,
            installing(account_no=person.account_no, consumer_id=person.account_no),
            TARIFFS,
            NOW,
            by="fe1",
        )
    assert records(world, person.account_no, person.meter_id) == after


def test_a_meter_taken_off_a_closed_account_can_serve_a_new_one(world: World) -> None:
    person = build_city(4)[1]
    close_account(
        world.store,
        Closing(account_no=person.account_no, closing_wh_total=REGISTER_AT_INSTALLATION, at=AT, reason="moved"),
        NOW,
        by="billing1",
    )
    register_consumer(world.store, ASHA)
    site = MeterSite(
        meter_id=person.meter_id, area=person.area, feeder=person.feeder, transformer=person.transformer, phases=1
    )

    install_meter(world.store, installing(meter=site, installed_at=AT + timedelta(hours=1)), TARIFFS, NOW, by="fe1")

    assert charged_to(world, person.meter_id) == "KESCONW0000001"
    with world.store.transaction() as uow:
        assert uow.registry.sites([person.meter_id])[person.meter_id][1] == "commissioned"
