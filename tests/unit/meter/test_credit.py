"""The meter's credit mirror charges, to the paisa, what the server's Decimal model charges."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.kernel.units import to_paise
from bijli.meter.credit import MirrorTariff
from bijli.prepaid.model import energy_price, fixed_price
from bijli.prepaid.tariff import Slab, Tariff, TariffVersion, builtin_tariffs

LMV1 = builtin_tariffs()["UP-LMV1-DU"]
# Rates with all four decimal places the meter holds, and a duty that is not a round percentage.
AWKWARD = Tariff(
    code="TEST-AWKWARD",
    name="awkward rates",
    versions=(
        TariffVersion(
            effective_from=date(2024, 4, 1),
            slabs=(
                Slab(50_000, Decimal("3.1234")),
                Slab(200_000, Decimal("4.0075")),
                Slab(None, Decimal("7.9999")),
            ),
            fixed_per_kw_month=Decimal("97.3719"),
            duty_rate=Decimal("0.0725"),
        ),
    ),
)
TARIFFS = {"lmv1": LMV1, "awkward": AWKWARD}
DAY = date(2026, 3, 17)
N = 3000


def month_to_date(rng: np.random.Generator, edges: list[int]) -> np.ndarray:
    """Random month-to-date energy, a third of it within a few Wh of a slab edge."""
    anywhere = rng.integers(0, 800_000, size=N)
    near_edge = rng.choice(edges, size=N) + rng.integers(-6_000, 6_000, size=N)
    return np.where(rng.random(N) < 1 / 3, np.maximum(near_edge, 0), anywhere).astype(np.int64)


@pytest.mark.parametrize("name", list(TARIFFS))
def test_interval_charge_equals_the_decimal_model(name: str) -> None:
    tariff = TARIFFS[name]
    version = tariff.on(DAY)
    edges = [s.up_to_wh for s in version.slabs if s.up_to_wh is not None]
    rng = np.random.default_rng(15959)
    before = month_to_date(rng, edges)
    wh = np.where(rng.random(N) < 0.05, 0, rng.integers(0, 7_000, size=N)).astype(np.int64)
    start = ist_midnight(DAY) + 40 * INTERVAL

    mirror = MirrorTariff(version).interval_charge(before, wh)

    model = [energy_price(tariff, start, int(b), int(w)).total_paise for b, w in zip(before, wh, strict=True)]
    assert mirror.dtype == np.int64
    assert mirror.tolist() == model


@pytest.mark.parametrize("name", list(TARIFFS))
@pytest.mark.parametrize("edge", [100_000, 150_000, 300_000, 500_000, 50_000, 200_000])
def test_interval_charge_across_each_slab_edge_equals_the_decimal_model(name: str, edge: int) -> None:
    tariff = TARIFFS[name]
    before = np.array([edge - w for w in range(0, 1001, 7)] + [edge, edge + 1], dtype=np.int64)
    wh = np.full(before.shape, 1000, dtype=np.int64)

    mirror = MirrorTariff(tariff.on(DAY)).interval_charge(before, wh)

    model = [energy_price(tariff, ist_midnight(DAY), int(b), 1000).total_paise for b in before]
    assert mirror.tolist() == model


@pytest.mark.parametrize("name", list(TARIFFS))
def test_fixed_charge_equals_the_decimal_model_every_day_of_a_year_and_a_leap_february(name: str) -> None:
    tariff = TARIFFS[name]
    rng = np.random.default_rng(62055)
    loads = np.concatenate([[0, 1, 999, 1000, 1001], rng.integers(0, 50_000, size=60)]).astype(np.int64)
    days = [date(2026, 1, 1) + timedelta(days=k) for k in range(365)]
    days += [date(2028, 2, 1) + timedelta(days=k) for k in range(29)]

    for day in days:
        mirror = MirrorTariff(tariff.on(day)).fixed_charge(loads, day)
        model = [fixed_price(tariff, int(w), day).total_paise for w in loads]
        assert mirror.tolist() == model, day


def test_a_months_fixed_charges_add_up_to_the_monthly_charge_and_its_duty() -> None:
    loads = np.array([1000, 2000, 3333, 7000], dtype=np.int64)
    mirror = MirrorTariff(AWKWARD.on(DAY))

    month = np.sum([mirror.fixed_charge(loads, date(2026, 2, d)) for d in range(1, 29)], axis=0)

    monthly = [Decimal("97.3719") * int(w) / 1000 for w in loads]
    assert month.tolist() == [to_paise(m) + to_paise(m * Decimal("0.0725")) for m in monthly]


def version_with(
    rate: str = "5.50", fixed: str = "110.00", duty: str = "0.05", edge_rate: str = "6.00"
) -> TariffVersion:
    return TariffVersion(
        effective_from=date(2024, 4, 1),
        slabs=(Slab(100_000, Decimal(rate)), Slab(None, Decimal(edge_rate))),
        fixed_per_kw_month=Decimal(fixed),
        duty_rate=Decimal(duty),
    )


@pytest.mark.parametrize(
    "version",
    [
        version_with(rate="5.12345"),
        version_with(edge_rate="6.00001"),
        version_with(fixed="110.00001"),
        version_with(duty="0.05125"),  # 5.125 percent
    ],
    ids=["slab-rate", "last-slab-rate", "fixed-charge", "duty"],
)
def test_rates_with_more_than_four_decimal_places_are_refused(version: TariffVersion) -> None:
    with pytest.raises(ValueError, match="more than four decimal places"):
        MirrorTariff(version)


def test_rates_with_four_decimal_places_are_held_exactly() -> None:
    version = version_with(rate="5.1234", fixed="110.0001", duty="0.0513")
    tariff = Tariff("X", "x", (version,))

    mirror = MirrorTariff(version)

    assert mirror.interval_charge(np.array([99_000]), np.array([2_345])).tolist() == [
        energy_price(tariff, ist_midnight(DAY), 99_000, 2_345).total_paise
    ]
