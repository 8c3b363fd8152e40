"""The alerts' texts: every kind in English and Hindi with its own DLT template, rupees in
lakhs and times in IST, the same text on every try."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bijli.alerts.model import (
    FIRST_RETRY,
    LONGEST_RETRY,
    MAX_ATTEMPTS,
    STAFF_KINDS,
    Addresses,
    AlertKind,
    Channel,
    DeliveryState,
    Due,
    Outcome,
    after_failure,
    first_states,
    retry_at,
)
from bijli.alerts.texts import LANGUAGES, lakhs, render, rupees_text, templates

AT = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)  # 18:00 IST
FACTS = {
    "level_pct": 10,
    "balance_paise": 12_936_600,
    "days_left": "3",
    "cut_after": int((AT + timedelta(days=1)).timestamp()),
    "payment_id": "pay-1",
    "amount_paise": 50_000,
}


def test_every_kind_has_a_text_in_each_language_with_a_template_of_its_own() -> None:
    assert set(templates()) == {(k, lang) for k in AlertKind for lang in LANGUAGES}
    ids = [t.template_id for t in templates().values()]
    assert len(set(ids)) == len(ids) and all(len(i) == 19 and i.isdigit() for i in ids)


@pytest.mark.parametrize("kind", sorted(set(AlertKind) - STAFF_KINDS))
def test_a_text_fills_every_field(kind: AlertKind) -> None:
    for lang in LANGUAGES:
        text = render(kind, FACTS, lang, "KESCOCL0000001", AT)
        assert "{" not in text.text and "}" not in text.text and "KESCOCL0000001" in text.text + text.subject
        assert text.template_id == templates()[(kind, lang)].template_id


CASE = {
    "case_id": "C-0A1B2C3D4E5F",
    "subject_id": "KNCL0000001",
    "case_kind": "magnet",
    "severity": "high",
    "place": "Civil Lines, CL-F01-DT01",
    "path": "/operations/cases/C-0A1B2C3D4E5F",
    "what_en": "a magnet held against the meter",
    "what_hi": "मीटर पर चुंबक",
}


@pytest.mark.parametrize("kind", sorted(STAFF_KINDS))
def test_a_staff_text_names_the_case_its_meter_place_severity_and_page(kind: AlertKind) -> None:
    en, hi = (render(kind, CASE, lang, None, AT) for lang in ("en", "hi"))
    for text in (en, hi):
        assert "{" not in text.text and "}" not in text.text
        assert all(CASE[f] in text.text for f in ("case_id", "subject_id", "place", "path"))
    assert (
        "a magnet held against the meter" in en.text and "high severity" in en.text and "04 Dec 2026, 18:00" in en.text
    )
    assert "मीटर पर चुंबक" in hi.text and "उच्च" in hi.text and "04 दिसंबर 2026, 18:00" in hi.text


def test_amounts_read_in_lakhs_and_times_in_ist() -> None:
    assert [lakhs(n) for n in (0, 999, 1000, 129366, 12345678)] == ["0", "999", "1,000", "1,29,366", "1,23,45,678"]
    assert rupees_text(12_936_600) == "₹1,29,366.00" and rupees_text(-146_905) == "\u2212₹1,469.05"
    en = render(AlertKind.DISCONNECT_NOTICE, FACTS, "en", "KESCOCL0000001", AT).text
    hi = render(AlertKind.DISCONNECT_NOTICE, FACTS, "hi", "KESCOCL0000001", AT).text
    assert "₹1,29,366.00" in en and "after 05 Dec 2026, 18:00" in en
    assert "05 दिसंबर 2026, 18:00 के बाद" in hi and "बिजली काटी जा सकती है" in hi


def test_low_balance_says_the_days_left_when_known() -> None:
    text = render(AlertKind.LOW_BALANCE, FACTS, "en", "A1", AT).text
    assert "10% of your last recharge, enough for about 3 days." in text
    bare = render(AlertKind.LOW_BALANCE, {"level_pct": 30, "balance_paise": 100}, "en", "A1", AT).text
    assert "30% of your last recharge. Recharge soon" in bare and "₹1.00" in bare


def test_a_language_without_texts_reads_english() -> None:
    assert render(AlertKind.RECONNECTED, FACTS, "ta", "A1", AT) == render(AlertKind.RECONNECTED, FACTS, "en", "A1", AT)


def test_channels_without_an_address_are_skipped() -> None:
    assert first_states(Addresses(mobile="+919800000001", email=None, language="hi")) == {
        Channel.SMS: DeliveryState.PENDING,
        Channel.EMAIL: DeliveryState.SKIPPED,
        Channel.WEB: DeliveryState.PENDING,
    }
    assert first_states(Addresses(mobile=None, email="a@b.in", language="en"))[Channel.SMS] is DeliveryState.SKIPPED


def test_retries_back_off_to_a_ceiling_then_fail_with_the_reason() -> None:
    waits = [retry_at(n, AT) - AT for n in range(1, 10)]
    assert waits[0] == FIRST_RETRY and waits[1] == 2 * FIRST_RETRY and waits[-1] == LONGEST_RETRY
    due = Due(
        alert_id=1,
        channel=Channel.SMS,
        attempts=MAX_ATTEMPTS,
        account_no="A1",
        kind=AlertKind.LOW_BALANCE,
        facts={},
        language="en",
        raised_at=AT,
        to="+919800000001",
    )
    last = after_failure(due, "timed out", False, AT)
    assert (last.outcome, last.error) == (Outcome.FAILED, f"gave up after {MAX_ATTEMPTS} attempts: timed out")
    assert after_failure(due, "bad number", True, AT).error == "bad number"
