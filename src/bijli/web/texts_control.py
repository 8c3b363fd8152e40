"""The control room's words in Hindi and English, one language at a time (texts/control.toml),
and which language a request asks for (`?lang=`, then the language cookie)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from fastapi import Request
from fastapi.responses import Response

from bijli.web.language import Catalogue

Lang = Literal["en", "hi"]
LANGS: tuple[Lang, ...] = ("en", "hi")
LANG_COOKIE = "bijli_lang"
CATALOGUE = Path(__file__).parent / "texts" / "control.toml"


@cache
def catalogue() -> Catalogue:
    """Every text of the site (web/texts/*.toml merged: the control room's keys beside the
    shared ``common.*`` ones the base page uses)."""
    return Catalogue.load(CATALOGUE.parent)


class Texts:
    """The words of one language: ``t("fleet")``; ``t("of", n=3, total=9)`` fills ``{n}`` and ``{total}``."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str, **values: object) -> str:
        return catalogue().text(key, self.lang, **values)


def language_of(request: Request) -> Lang:
    """The language asked for by `?lang=`, else remembered in the cookie, else English."""
    for asked in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        for lang in LANGS:
            if asked == lang:
                return lang
    return "en"


def remember_language(request: Request, response: Response) -> None:
    """Keep a language chosen with `?lang=` for the next pages."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax", httponly=True)
