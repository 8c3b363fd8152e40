"""Exact money and energy.

Money is held as integer paise and energy as integer watt-hours wherever it is stored or
sent; `Decimal` is used only inside tariff arithmetic, and rounding to the paisa happens in
one place (`to_paise`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

Paise = int
Wh = int

PAISE_PER_RUPEE = 100
WH_PER_KWH = 1000


def to_paise(rupees: Decimal) -> Paise:
    """Round an exact rupee amount to the nearest paisa (half away from zero)."""
    return int((rupees * PAISE_PER_RUPEE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rupees(paise: Paise) -> Decimal:
    """Paise as a rupee `Decimal` with two places."""
    return (Decimal(paise) / PAISE_PER_RUPEE).quantize(Decimal("0.01"))


def format_rupees(paise: Paise) -> str:
    """Paise as a rupee string with two places, e.g. ``"1234.50"``."""
    return str(rupees(paise))


def kwh(wh: Wh) -> Decimal:
    """Watt-hours as an exact kWh `Decimal`."""
    return Decimal(wh) / WH_PER_KWH
