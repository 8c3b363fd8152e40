"""Rupees, counts and times as the pages show them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bijli.kernel.indian import indian_grouping
from bijli.web.display import count_text, iso_utc, ist_text, rupees_text


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (999, "999"), (1000, "1,000"), (24000, "24,000"), (750000, "7,50,000"), (35000000, "3,50,00,000")],
)
def test_numbers_are_grouped_in_lakhs_and_crores(n: int, text: str) -> None:
    assert indian_grouping(n) == text
    assert count_text(n) == text


@pytest.mark.parametrize(
    ("paise", "text"),
    [(0, "₹0.00"), (5, "₹0.05"), (123450, "₹1,234.50"), (12345678901, "₹12,34,56,789.01"), (-25050, "\u2212₹250.50")],
)
def test_rupees_show_every_paisa(paise: int, text: str) -> None:
    assert rupees_text(paise) == text


def test_unknown_amounts_and_times_show_a_dash() -> None:
    assert rupees_text(None) == "—"
    assert ist_text(None) == "—"


def test_times_are_shown_in_ist_and_marked_up_in_utc() -> None:
    moment = datetime(2026, 11, 2, 18, 30, 20, tzinfo=UTC)
    assert ist_text(moment) == "03 Nov 2026, 00:00"
    assert iso_utc(moment) == "2026-11-02T18:30:20Z"
