"""How numbers and times read on the pages: rupees and counts grouped the Indian way, times in IST."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bijli.kernel.indian import MINUS, MONTHS_HI, indian_grouping
from bijli.kernel.time import IST
from bijli.kernel.units import format_rupees

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
"""Not strftime's %b, which follows the process's locale."""


def rupees_text(paise: int | None) -> str:
    """Paise as ``₹1,23,456.50`` (a true minus sign when negative); a dash when unknown."""
    if paise is None:
        return "—"
    whole, fraction = format_rupees(abs(paise)).split(".")
    sign = MINUS if paise < 0 else ""
    return f"{sign}₹{indian_grouping(int(whole))}.{fraction}"


def count_text(n: int) -> str:
    """A count with Indian grouping: 24000 -> ``24,000``, 750000 -> ``7,50,000``."""
    return indian_grouping(n) if n >= 0 else MINUS + indian_grouping(-n)


def kwh_text(energy: Decimal, places: int = 3) -> str:
    """kWh with a fixed number of places."""
    return f"{energy.quantize(Decimal(1).scaleb(-places))}"


def wh_text(wh: int) -> str:
    """Watt-hours as kWh to the Wh: 1250 -> ``1.250``."""
    return kwh_text(Decimal(wh) / 1000)


def ist_text(moment: datetime | None, lang: str = "en") -> str:
    """A moment as ``03 Nov 2026, 14:05`` in IST (``03 नवंबर 2026, 14:05`` in Hindi); a dash when unknown."""
    if moment is None:
        return "—"
    local = moment.astimezone(IST)
    return f"{day_text(local.date(), lang)}, {local:%H:%M}"


def iso_utc(moment: datetime | None) -> str:
    """A moment as ISO 8601 UTC, for `<time datetime=…>`."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day_text(day: date, lang: str = "en") -> str:
    """A day as ``04 Dec 2026`` (``04 दिसंबर 2026`` in Hindi)."""
    if lang == "hi":
        return f"{day.day:02d} {MONTHS_HI[day.month - 1]} {day.year}"
    return f"{day.day:02d} {MONTHS_EN[day.month - 1]} {day.year}"


def month_text(day: date, lang: str = "en") -> str:
    """The month of `day` as ``November 2026`` (``नवंबर 2026`` in Hindi)."""
    if lang == "hi":
        return f"{MONTHS_HI[day.month - 1]} {day.year}"
    return day.strftime("%B %Y")
