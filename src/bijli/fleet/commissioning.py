"""The simulated city put into service through onboarding, as a utility's own rows would be:
each consumer registered, their meter installed on their account with its opening register
and opening balance; and the transformers' meters registered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bijli.accounts.handlers import onboard, register_meters, registered
from bijli.accounts.model import AccountTerms, Consumer, Installing, MeterSite
from bijli.accounts.onboarding import Row
from bijli.accounts.ports import OnboardingUnit
from bijli.fleet import city as fleet_city
from bijli.fleet.city import TransformerMeter
from bijli.kernel.unit import Transactions

CHUNK = 5000
"""Rows taken in one unit of work."""
COMMISSIONED_BY = "commissioning"


def rows(city: Sequence[fleet_city.Consumer], at: datetime, tariff_code: str) -> list[Row]:
    """The city's consumers as onboarding rows: one consumer per account (its id is the
    account number), installed `at`."""
    return [
        Row(
            number=n,
            consumer=Consumer(consumer_id=c.account_no, name=c.consumer_name, mobile=c.mobile, created_at=at),
            installing=Installing(
                account_no=c.account_no,
                consumer_id=c.account_no,
                meter=MeterSite(
                    meter_id=c.meter_id, area=c.area, feeder=c.feeder, transformer=c.transformer, phases=c.phases
                ),
                terms=AccountTerms(tariff_code=tariff_code, sanctioned_load_w=c.sanctioned_load_w),
                installed_at=at,
                opening_wh_total=c.initial_register_wh,
                opening_balance_paise=c.opening_balance_paise,
            ),
        )
        for n, c in enumerate(city, start=1)
    ]


def site(d: TransformerMeter) -> MeterSite:
    """A transformer's meter (three-phase) where it sits."""
    return MeterSite(meter_id=d.meter_id, area=d.area, feeder=d.feeder, transformer=d.transformer, phases=3)


def commission_city(
    store: Transactions[OnboardingUnit],
    tariff_code: str,
    city: Sequence[fleet_city.Consumer],
    at: datetime,
    transformers: Sequence[TransformerMeter] = (),
) -> int:
    """Put the city's meters into service with their opening balances; meters registered
    already are kept as they are (a bigger city draws other openings for the same meters).
    How many were new. A row onboarding refuses is a bug in the simulator: `ValueError`."""
    new = register_meters(
        store,
        [
            MeterSite(meter_id=d.meter_id, area=d.area, feeder=d.feeder, transformer=d.transformer, phases=3)
            for d in transformers
        ],
        at,
    )
    known = registered(store, [c.meter_id for c in city])
    every = rows([c for c in city if c.meter_id not in known], at, tariff_code)
    for start in range(0, len(every), CHUNK):
        outcome = onboard(store, every[start : start + CHUNK], [tariff_code], at, by=COMMISSIONED_BY)
        if outcome.rejected:
            number, refused = outcome.rejected[0]
            raise ValueError(f"the simulated city's consumer {number} was refused: {refused}")
        new += len(outcome.created)
    return new
