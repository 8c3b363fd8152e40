"""Tariffs as data: the shipped UP LMV-1 rates, and tariff files that must be refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bijli.prepaid.tariff import Tariff, TariffError, builtin_tariffs, parse_tariff


@pytest.fixture(scope="module")
def lmv1() -> Tariff:
    return builtin_tariffs()["UP-LMV1-DU"]


@pytest.mark.parametrize(
    ("kwh", "rupees"),
    [
        (0, "0"),
        (1, "5.50"),
        (100, "550.00"),
        (150, "825.00"),
        (151, "831.00"),
        (300, "1725.00"),
        (301, "1731.50"),
        (500, "3025.00"),
        (501, "3032.00"),
        (600, "3725.00"),
    ],
)
def test_lmv1_energy_cost_follows_the_month_to_date_slabs(lmv1: Tariff, kwh: int, rupees: str) -> None:
    assert lmv1.on(date(2026, 1, 15)).energy_cost(kwh * 1000) == Decimal(rupees)


def test_lmv1_energy_cost_is_exact_to_the_watt_hour(lmv1: Tariff) -> None:
    rates = lmv1.on(date(2026, 1, 15))

    assert rates.energy_cost(1) == Decimal("0.0055")
    assert rates.energy_cost(150_001) == Decimal("825.006")
    assert rates.energy_cost(300_001) == Decimal("1725.0065")
    assert rates.energy_cost(500_001) == Decimal("3025.007")


def test_lmv1_names_its_version_and_the_public_order_it_comes_from(lmv1: Tariff) -> None:
    rates = lmv1.on(date(2026, 1, 15))

    assert rates.label == "UPERC-TO-2019-20"
    assert "UPERC" in rates.source and "FY 2019-20" in rates.source and "LMV-1(b)" in rates.source
    assert [s.up_to_wh for s in rates.slabs] == [150_000, 300_000, 500_000, None]


def test_lmv1_rates_are_in_force_from_the_orders_date(lmv1: Tariff) -> None:
    assert lmv1.on(date(2019, 9, 12)).label == "UPERC-TO-2019-20"
    with pytest.raises(TariffError, match="no rates in force"):
        lmv1.on(date(2019, 9, 11))


def test_lmv1_fixed_charge_and_duty(lmv1: Tariff) -> None:
    rates = lmv1.on(date(2026, 1, 15))

    assert rates.fixed_per_kw_month == Decimal("110.00")
    assert rates.duty_rate == Decimal("0.05")


def test_builtin_tariffs_are_keyed_by_their_code() -> None:
    assert all(code == tariff.code for code, tariff in builtin_tariffs().items())


def tariff_text(slabs: str, *, fixed: str = '"110"', duty: str = '"5"', versions: str = "") -> str:
    return f"""
code = "TEST"
name = "test tariff"

[[versions]]
label = "TEST-1"
source = "made up for a test"
effective_from = 2024-04-01
fixed_per_kw_month = {fixed}
duty_percent = {duty}
slabs = {slabs}
{versions}
"""


def test_a_well_formed_tariff_parses() -> None:
    tariff = parse_tariff(tariff_text('[{ up_to_kwh = 100, rate = "3" }, { rate = "4" }]'))

    assert tariff.on(date(2024, 4, 1)).energy_cost(150_000) == Decimal("500")


@pytest.mark.parametrize(
    ("slabs", "fixed", "duty", "complaint"),
    [
        ('[{ rate = "3" }, { up_to_kwh = 100, rate = "4" }]', '"110"', '"5"', "open-ended"),
        ('[{ up_to_kwh = 100, rate = "3" }, { rate = "4" }, { rate = "5" }]', '"110"', '"5"', "open-ended"),
        ('[{ up_to_kwh = 100, rate = "3" }, { up_to_kwh = 200, rate = "4" }]', '"110"', '"5"', "open-ended"),
        ("[]", '"110"', '"5"', "open-ended"),
        (
            '[{ up_to_kwh = 200, rate = "3" }, { up_to_kwh = 100, rate = "4" }, { rate = "5" }]',
            '"110"',
            '"5"',
            "increase",
        ),
        (
            '[{ up_to_kwh = 100, rate = "3" }, { up_to_kwh = 100, rate = "4" }, { rate = "5" }]',
            '"110"',
            '"5"',
            "increase",
        ),
        ('[{ up_to_kwh = 100, rate = "-3" }, { rate = "4" }]', '"110"', '"5"', "negative"),
        ('[{ up_to_kwh = 100, rate = "3" }, { rate = "4" }]', '"-110"', '"5"', "negative"),
        ('[{ up_to_kwh = 100, rate = "3" }, { rate = "4" }]', '"110"', '"-5"', "negative"),
        ('[{ up_to_kwh = 100, rate = "three" }, { rate = "4" }]', '"110"', '"5"', "not usable"),
        ('[{ up_to_kwh = 100 }, { rate = "4" }]', '"110"', '"5"', "not usable"),
    ],
    ids=[
        "open-first-slab",
        "two-open-slabs",
        "no-open-slab",
        "no-slabs",
        "decreasing-edges",
        "repeated-edge",
        "negative-rate",
        "negative-fixed",
        "negative-duty",
        "rate-not-a-number",
        "rate-missing",
    ],
)
def test_unusable_tariff_is_refused_with_a_reason(slabs: str, fixed: str, duty: str, complaint: str) -> None:
    with pytest.raises(TariffError, match=complaint):
        parse_tariff(tariff_text(slabs, fixed=fixed, duty=duty))


def test_tariff_without_versions_is_refused() -> None:
    with pytest.raises(TariffError):
        parse_tariff('code = "TEST"\nname = "test"\nversions = []\n')


def test_tariff_that_is_not_toml_is_refused() -> None:
    with pytest.raises(TariffError):
        parse_tariff("code = ")


def test_tariff_versions_out_of_date_order_are_refused() -> None:
    later_first = tariff_text(
        '[{ rate = "4" }]',
        versions='[[versions]]\nlabel = "TEST-0"\nsource = "test"\n'
        'effective_from = 2023-04-01\nfixed_per_kw_month = "100"\nduty_percent = "5"\n'
        'slabs = [{ rate = "3" }]\n',
    )

    with pytest.raises(TariffError, match="oldest first"):
        parse_tariff(later_first)


@pytest.fixture(scope="module")
def revised() -> Tariff:
    return parse_tariff(
        tariff_text(
            '[{ rate = "5" }]',
            versions='[[versions]]\nlabel = "TEST-2"\nsource = "test"\n'
            'effective_from = 2025-04-01\nfixed_per_kw_month = "120"\nduty_percent = "5"\n'
            'slabs = [{ rate = "6" }]\n',
        )
    )


@pytest.mark.parametrize(
    ("day", "rate_per_kwh"),
    [
        (date(2024, 4, 1), "5"),
        (date(2025, 3, 31), "5"),
        (date(2025, 4, 1), "6"),
        (date(2030, 1, 1), "6"),
    ],
)
def test_tariff_on_a_day_uses_the_version_in_force(revised: Tariff, day: date, rate_per_kwh: str) -> None:
    assert revised.on(day).energy_cost(1000) == Decimal(rate_per_kwh)


def test_tariff_before_its_first_version_has_no_rates(revised: Tariff) -> None:
    with pytest.raises(TariffError, match="no rates in force"):
        revised.on(date(2024, 3, 31))


def test_float_rate_in_a_tariff_file_is_refused_or_exact() -> None:
    try:
        tariff = parse_tariff(tariff_text("[{ rate = 5.1 }]"))
    except TariffError:
        return
    assert tariff.on(date(2024, 4, 1)).energy_cost(1000) == Decimal("5.1")


def test_fractional_slab_edge_is_refused_or_kept() -> None:
    try:
        tariff = parse_tariff(tariff_text('[{ up_to_kwh = 100.5, rate = "5" }, { rate = "6" }]'))
    except TariffError:
        return
    assert tariff.on(date(2024, 4, 1)).slabs[0].up_to_wh == 100_500


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (('label = "TEST-1"\n', ""), "not usable"),
        (('source = "made up for a test"\n', ""), "not usable"),
        (('label = "TEST-1"', 'label = "a label with spaces"'), "not usable"),
        (('label = "TEST-1"', f'label = "{"X" * 33}"'), "not usable"),
    ],
    ids=["no-label", "no-source", "label-with-spaces", "label-too-long"],
)
def test_a_version_without_a_plain_label_or_a_source_is_refused(change: tuple[str, str], complaint: str) -> None:
    with pytest.raises(TariffError, match=complaint):
        parse_tariff(tariff_text('[{ rate = "5" }]').replace(*change))


def test_two_versions_with_one_label_are_refused() -> None:
    twice = tariff_text(
        '[{ rate = "4" }]',
        versions='[[versions]]\nlabel = "TEST-1"\nsource = "test"\neffective_from = 2025-04-01\n'
        'fixed_per_kw_month = "100"\nduty_percent = "5"\nslabs = [{ rate = "3" }]\n',
    )

    with pytest.raises(TariffError, match="label of its own"):
        parse_tariff(twice)


def test_effective_date_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(TariffError):
        parse_tariff(tariff_text('[{ rate = "5" }]').replace("2024-04-01", '"2024-04-01"'))
