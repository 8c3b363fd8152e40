"""The control room's words in Hindi and English, one language at a time (texts/control.toml),
and which language a request asks for (`?lang=`, then the language cookie)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from fastapi import Request
from fastapi.responses import Response

Lang = Literal["en", "hi"]
LANGS: tuple[Lang, ...] = ("en", "hi")
LANG_COOKIE = "bijli_lang"
CATALOGUE = Path(__file__).parent / "texts" / "control.toml"


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every key with its text per language (a key missing a language is an error at load)."""
    raw = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    found: dict[str, dict[str, str]] = {}
    for key, texts in raw.items():
        if not isinstance(texts, dict) or set(texts) != set(LANGS):
            raise ValueError(f"{CATALOGUE.name}: {key} needs exactly en and hi")
        found[key] = {str(k): str(v) for k, v in texts.items()}
    return found


class Texts:
    """The words of one language: ``t("fleet")``; ``t("of", n=3, total=9)`` fills ``{n}`` and ``{total}``."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str, **values: object) -> str:
        text = catalogue()[key][self.lang]
        return text.format(**values) if values else text


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
