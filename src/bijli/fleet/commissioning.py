"""The simulated city put into service: its meters, consumers' accounts and opening balances."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bijli.accounts.handlers import commission
from bijli.accounts.model import MeterRegistration
from bijli.accounts.ports import CommissionUnit
from bijli.fleet.city import Consumer, TransformerMeter
from bijli.kernel.unit import Transactions
from bijli.prepaid.model import opening


def registrations(
    city: Sequence[Consumer], at: datetime, tariff_code: str, transformers: Sequence[TransformerMeter] = ()
) -> list[MeterRegistration]:
    """The city's meters with their consumers' accounts, and its transformers' meters (which
    have no account), installed `at`."""
    regs = [
        MeterRegistration(
            meter_id=c.meter_id,
            area=c.area,
            feeder=c.feeder,
            transformer=c.transformer,
            phases=c.phases,
            account_no=c.account_no,
            consumer_name=c.consumer_name,
            mobile=c.mobile,
            tariff_code=tariff_code,
            sanctioned_load_w=c.sanctioned_load_w,
            installed_at=at,
            initial_register_wh=c.initial_register_wh,
        )
        for c in city
    ]
    regs += [
        MeterRegistration(
            meter_id=d.meter_id, area=d.area, feeder=d.feeder, transformer=d.transformer, phases=3, installed_at=at
        )
        for d in transformers
    ]
    return regs


def commission_city(
    store: Transactions[CommissionUnit],
    tariff_code: str,
    city: Sequence[Consumer],
    at: datetime,
    transformers: Sequence[TransformerMeter] = (),
) -> int:
    """Put the city's meters into service with their opening balances; meters already
    registered are kept as they are. How many were new."""
    openings = [opening(c.account_no, c.opening_balance_paise) for c in city]
    return commission(store, registrations(city, at, tariff_code, transformers), openings, at)
