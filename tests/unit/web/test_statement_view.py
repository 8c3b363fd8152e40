"""A statement in words: each language whole, the meters of a month, arrears apart."""

from __future__ import annotations

from datetime import UTC, datetime

from bijli.prepaid.statement import Fitted, Holder, Posted, monthly_statement
from bijli.prepaid.tariff import builtin_tariffs
from bijli.web.statement_view import statement_view

LMV1 = builtin_tariffs()["UP-LMV1-DU"]
SWAPPED = datetime(2026, 11, 12, 6, 30, tzinfo=UTC)  # 12:00 IST


def holder(*meters: Fitted) -> Holder:
    return Holder(
        account_no="KESCOCL0000001",
        consumer_name="Asha Verma",
        meter_id=meters[-1].meter_id if meters else None,
        sanctioned_load_w=2000,
        tariff=LMV1,
        meters=meters,
    )


def test_a_meter_replaced_in_the_month_is_named_with_its_days() -> None:
    old = Fitted(meter_id="KNCL0000001", installed_at=datetime(2025, 1, 1, tzinfo=UTC), removed_at=SWAPPED)
    new = Fitted(meter_id="KNCL0000099", installed_at=SWAPPED)
    s = monthly_statement(holder(old, new), "2026-11", 0, [])

    en, hi = dict(statement_view(s, "en").facts), dict(statement_view(s, "hi").facts)

    assert en["Meter"] == "KNCL0000001 (01 Nov 2026 \u2013 12 Nov 2026), KNCL0000099 (12 Nov 2026 \u2013)"
    assert hi["मीटर"] == "KNCL0000001 (01 नवंबर 2026 \u2013 12 नवंबर 2026), KNCL0000099 (12 नवंबर 2026 \u2013)"


def test_a_closed_account_without_a_meter_says_so() -> None:
    s = monthly_statement(holder(), "2026-11", 0, [])
    assert dict(statement_view(s, "en").facts)["Meter"] == "no meter installed"


def test_arrears_show_apart_only_when_there_are_some() -> None:
    at = datetime(2026, 11, 5, tzinfo=UTC)
    recovered = Posted(kind="arrears_recovery", amount_paise=-2_000, reference="r", at=at, posted_at=at)
    with_arrears = statement_view(monthly_statement(holder(), "2026-11", 0, [recovered], arrears_paise=9_000), "en")
    without = statement_view(monthly_statement(holder(), "2026-11", 0, []), "en")

    assert [(line.label, line.amount) for line in with_arrears.arrears] == [
        ("Owed at the start of the month", "₹90.00"),
        ("Arrears added", "₹0.00"),
        ("Recovered from recharges", "₹20.00"),
        ("Still owed", "₹70.00"),
    ]
    assert [line.key for line in with_arrears.summary] == ["opening", "arrears_recovery", "energy", "fixed", "duty"]
    assert without.arrears == []
