"""Monthly statements and the account ledger: JSON, the printable page and the PDF, Hindi and English."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pypdf
import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.kernel.time import IST
from bijli.prepaid.model import fixed_price
from bijli.prepaid.tariff import builtin_tariffs
from tests.support.access import log_in_consumer
from tests.web.conftest import DEMO_METERS, SMS, MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

CITY = build_city(DEMO_METERS)
MINE, THEIRS = CITY[0], CITY[1]


def rupees(text: str) -> Decimal:
    return Decimal(text)


def statement(api: TestClient, account_no: str, month: str = "2026-11") -> dict[str, object]:
    r = api.get(f"/api/v1/accounts/{account_no}/statements/{month}")
    assert r.status_code == 200, r.text
    found: dict[str, object] = r.json()
    return found


def consumer_client(platform: Platform, make_client: MakeClient, mobile: str) -> TestClient:
    client = make_client(platform, role=None)
    log_in_consumer(client, mobile, SMS)
    return client


def test_a_statement_ties_out_to_the_ledger_balance(api: TestClient) -> None:
    for c in CITY:
        s = statement(api, c.account_no)
        balance = api.get(f"/api/v1/meters/{c.meter_id}/balance").json()
        moved = sum(rupees(e["amount"]) for e in s["entries"])  # type: ignore[attr-defined]
        charges = rupees(s["energy_charge"]) + rupees(s["fixed_charge"]) + rupees(s["duty"])  # type: ignore[arg-type]

        assert s["closing_balance"] == balance["balance"]
        assert rupees(s["charges"]) == charges  # type: ignore[arg-type]
        assert rupees(s["opening_balance"]) + moved - charges == rupees(s["closing_balance"])  # type: ignore[arg-type]
        slabs = s["slabs"]
        assert sum(rupees(x["amount"]) for x in slabs) == rupees(s["energy_charge"])  # type: ignore[attr-defined,arg-type]
        assert sum(rupees(x["kwh"]) for x in slabs) == rupees(s["energy_kwh"])  # type: ignore[attr-defined,arg-type]
        assert s["slab_difference"] == "0.00"
        assert s["days_charged"] == 1
        assert [m["meter_id"] for m in s["meters"]] == [c.meter_id]  # type: ignore[attr-defined]


def test_one_months_closing_is_the_next_months_opening(api: TestClient) -> None:
    before = statement(api, MINE.account_no, "2026-10")
    november = statement(api, MINE.account_no, "2026-11")
    after = statement(api, MINE.account_no, "2026-12")

    assert before["opening_balance"] == before["closing_balance"] == "0.00"
    assert november["opening_balance"] == before["closing_balance"]
    assert after["opening_balance"] == after["closing_balance"] == november["closing_balance"]
    assert after["slabs"] == [] and after["charges"] == "0.00"


def test_every_ledger_line_traces_to_its_interval_and_the_window_adds_up(api: TestClient) -> None:
    s = statement(api, MINE.account_no)
    path = str(s["ledger"])
    lines: list[dict[str, object]] = []
    offset: int | None = 0
    while offset is not None:
        page = api.get(f"{path}&limit=40&offset={offset}").json()
        lines += page["items"]
        offset = page["next_offset"]

    moved = sum(rupees(str(x["amount"])) for x in lines)
    assert rupees(page["balance_before"]) + moved == rupees(page["balance_after"])
    assert page["balance_after"] == s["closing_balance"]
    days = [x for x in lines if x["kind"] == "day_charge"]
    assert len(days) == 1  # one debit for the day (running: not closed yet, so not on the ledger)
    [day] = days
    intervals: list[dict[str, str]] = day["intervals"]  # type: ignore[assignment]
    assert len(intervals) == 96 and {i["meter_id"] for i in intervals} == {MINE.meter_id}
    assert all(i["tariff_version"] == "UPERC-TO-2019-20" for i in intervals)
    on = datetime.fromisoformat(str(day["for_time"])).astimezone(IST).date()
    fixed = fixed_price(builtin_tariffs()["UP-LMV1-DU"], MINE.sanctioned_load_w, on).total_paise
    derived = sum(rupees(i["energy"]) + rupees(i["duty"]) for i in intervals)
    assert derived + Decimal(fixed) / 100 == -rupees(str(day["amount"]))  # the day's intervals and its fixed charge
    assert sum(rupees(i["kwh"]) for i in intervals) == rupees(str(day["kwh"])) == rupees(str(s["energy_kwh"]))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/accounts/KESCOXX9999999/statements/2026-11", 404),
        ("/api/v1/accounts/KESCOCL0000001/statements/2026-13", 422),
        ("/api/v1/accounts/KESCOCL0000001/statements/1999-12", 422),
        ("/api/v1/accounts/KESCOCL0000001/ledger?start=2026-11-01T00:00Z&end=2026-12-15T00:00Z", 422),
        ("/api/v1/accounts/KESCOCL0000001/ledger?start=2026-11-01T00:00&end=2026-11-02T00:00Z", 422),
        ("/api/v1/accounts/KESCOXX9999999/ledger?start=2026-11-01T00:00Z&end=2026-11-02T00:00Z", 404),
    ],
)
def test_bad_statement_and_ledger_requests_are_refused_clearly(api: TestClient, path: str, status: int) -> None:
    r = api.get(path)
    assert r.status_code == status
    assert r.json()["detail"]


def test_a_consumer_sees_their_own_statement_and_not_anothers(platform: Platform, make_client: MakeClient) -> None:
    client = consumer_client(platform, make_client, MINE.mobile)

    assert client.get(f"/api/v1/accounts/{MINE.account_no}/statements/2026-11").status_code == 200
    for path in (
        f"/api/v1/accounts/{THEIRS.account_no}/statements/2026-11",
        f"/accounts/{THEIRS.account_no}/statements/2026-11",
        f"/accounts/{THEIRS.account_no}/statements/2026-11/pdf",
    ):
        r = client.get(path)
        assert r.status_code == 404 and THEIRS.consumer_name not in r.text
    page = client.get(f"/consumer/{MINE.meter_id}")
    assert f'href="/accounts/{MINE.account_no}/statements/2026-11"' in page.text


def test_a_field_engineer_may_not_read_statements(platform: Platform, make_client: MakeClient) -> None:
    r = make_client(platform, role=Role.FIELD_ENGINEER).get(f"/api/v1/accounts/{MINE.account_no}/statements/2026-11")
    assert r.status_code == 403


def test_the_printable_page_is_wholly_in_the_language_chosen(api: TestClient) -> None:
    s = statement(api, MINE.account_no)
    chosen = api.get(f"/accounts/{MINE.account_no}/statements/2026-11").text  # the consumer's: Hindi
    english = api.get(f"/accounts/{MINE.account_no}/statements/2026-11", params={"lang": "en"}).text
    remembered = api.get(f"/accounts/{MINE.account_no}/statements/2026-11").text  # the reader's choice now
    hindi = api.get(f"/accounts/{MINE.account_no}/statements/2026-11", params={"lang": "hi"}).text

    assert '<html lang="en">' in english and '<html lang="hi">' in hindi
    assert chosen == hindi and remembered == english
    assert "Monthly statement" in english and "November 2026" in english and "01 Nov 2026" in english
    assert "मासिक विवरण" in hindi and "नवंबर 2026" in hindi and "अंतिम शेष" in hindi
    assert "Closing balance" not in hindi and "अंतिम शेष" not in english
    closing = f"₹{s['closing_balance']}"
    assert closing in english and closing in hindi
    assert api.get(f"/accounts/{MINE.account_no}/statements/2026-11", params={"lang": "fr"}).status_code == 400


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)


def shaped_clusters(body: bytes) -> list[str]:
    """The text the PDF's fonts map single glyphs to where one glyph stands for several
    characters: Devanagari conjuncts exist only where the text was shaped."""
    found: list[str] = []
    for page in pypdf.PdfReader(io.BytesIO(body)).pages:
        fonts = page["/Resources"]["/Font"]
        for ref in fonts.values():
            cmap = ref.get_object()["/ToUnicode"].get_object().get_data().decode()
            for hexes in re.findall(r"<[0-9A-F]{4}> <([0-9A-F]{8,})>", cmap):
                found.append("".join(chr(int(hexes[i : i + 4], 16)) for i in range(0, len(hexes), 4)))
    return found


def test_the_pdf_is_the_same_statement_with_its_hindi_shaped(api: TestClient) -> None:
    s = statement(api, MINE.account_no)
    hindi = api.get(f"/accounts/{MINE.account_no}/statements/2026-11/pdf", params={"lang": "hi"})
    english = api.get(f"/accounts/{MINE.account_no}/statements/2026-11/pdf", params={"lang": "en"})

    assert hindi.headers["content-type"] == "application/pdf"
    assert hindi.content.startswith(b"%PDF-")
    closing = f"₹{s['closing_balance']}"
    hindi_text, english_text = pdf_text(hindi.content), pdf_text(english.content)
    assert closing in hindi_text and closing in english_text
    assert MINE.account_no in hindi_text and MINE.meter_id in english_text
    assert "Monthly statement · November 2026" in english_text
    for words in ("उपभोक्ता", "खाता संख्या", "स्थायी शुल्क", "नवंबर 2026"):
        assert words in hindi_text
    clusters = shaped_clusters(hindi.content)
    assert any("\u094d" in c for c in clusters), "no conjunct: the Devanagari was not shaped"
    assert not [c for c in shaped_clusters(english.content) if "\u094d" in c]


def test_statements_made_on_several_threads_at_once_are_the_statement_made_alone(api: TestClient) -> None:
    url = f"/accounts/{MINE.account_no}/statements/2026-11/pdf"
    langs = ["hi", "en"] * 4
    alone = {lang: api.get(url, params={"lang": lang}).content for lang in ("hi", "en")}
    with ThreadPoolExecutor(4) as pool:  # each thread shapes with its own HarfBuzz font over the shared parse
        together = list(pool.map(lambda lang: api.get(url, params={"lang": lang}).content, langs))
    assert [pdf_text(body) for body in together] == [pdf_text(alone[lang]) for lang in langs]
    assert [shaped_clusters(body) for body in together] == [shaped_clusters(alone[lang]) for lang in langs]
