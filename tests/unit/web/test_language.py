"""The language machinery: the texts catalogue, the reader's choice, dates in either language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bijli.web.display import day_text, ist_text
from bijli.web.language import Catalogue, CatalogueError, chosen


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_every_file_of_the_folder_is_merged_into_one_catalogue(tmp_path: Path) -> None:
    write(tmp_path, "consumer.toml", '[consumer.balance]\nen = "Balance"\nhi = "शेष राशि"\n')
    write(tmp_path, "control.toml", '[control.fleet]\nen = "Fleet of {n}"\nhi = "{n} मीटर"\n')
    texts = Catalogue.load(tmp_path)
    assert texts.names() == ["consumer.balance", "control.fleet"]
    assert texts.text("consumer.balance", "hi") == "शेष राशि"
    assert texts.text("control.fleet", "en", n="24,000") == "Fleet of 24,000"


def test_a_key_in_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[x]\nen = "One"\nhi = "एक"\n')
    write(tmp_path, "b.toml", '[x]\nen = "Two"\nhi = "दो"\n')
    with pytest.raises(CatalogueError, match=r"b.toml: text 'x' is already defined in a.toml"):
        Catalogue.load(tmp_path)


@pytest.mark.parametrize(
    "body",
    ['[x]\nen = "Only English"\n', '[x]\nen = "A"\nhi = "ए"\nfr = "Un"\n', '[x]\nen = 1\nhi = "ए"\n', 'x = "bare"\n'],
)
def test_a_text_without_exactly_both_languages_is_refused(tmp_path: Path, body: str) -> None:
    write(tmp_path, "bad.toml", body)
    with pytest.raises(CatalogueError, match=r"bad\.toml"):
        Catalogue.load(tmp_path)


def test_an_unknown_key_is_an_error_not_a_blank(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no text 'nowhere'"):
        Catalogue.load(tmp_path).text("nowhere", "en")


def test_the_shipped_catalogue_loads_and_every_text_has_devanagari_in_hindi() -> None:
    texts = Catalogue.load()
    assert len(texts) > 0
    for key in texts.names():
        hindi = texts.text(key, "hi")
        # A Hindi text that is only Latin letters is an untranslated one (numbers and units aside).
        assert any("\u0900" <= ch <= "\u097f" for ch in hindi) or not any(ch.isalpha() for ch in hindi), key


def test_the_query_overrides_the_cookie_and_a_bad_language_is_refused() -> None:
    assert chosen("", None) == (None, None)
    assert chosen("lang=hi", "bijli_lang=en") == ("hi", "en")
    assert chosen("day=2026-11-02", "bijli_session=x; bijli_lang=hi") == (None, "hi")
    assert chosen("", "bijli_lang=fr") == (None, None)  # a stale cookie is forgotten, not an error
    with pytest.raises(ValueError, match="lang 'fr' is not a language of this site: en or hi"):
        chosen("lang=fr", None)


def test_dates_read_the_indian_way_with_the_month_named_in_the_language() -> None:
    assert day_text(date(2026, 12, 4)) == "04 Dec 2026"
    assert day_text(date(2026, 12, 4), "hi") == "04 दिसंबर 2026"
    moment = datetime(2026, 12, 4, 8, 35, tzinfo=UTC)  # 14:05 IST
    assert ist_text(moment) == "04 Dec 2026, 14:05"
    assert ist_text(moment, "hi") == "04 दिसंबर 2026, 14:05"
    assert ist_text(None) == "—"
