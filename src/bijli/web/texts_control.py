"""The control room's words, one language at a time: its keys (``control.*`` in
``web/texts/control.toml``) read from the site's catalogue in the page's language (`bijli.web.language`)."""

from __future__ import annotations

from functools import cache

from fastapi import Request

from bijli.web.language import Catalogue, Lang, lang_of

PREFIX = "control."


@cache
def catalogue() -> Catalogue:
    """The site's texts, every file of web/texts merged (read once)."""
    return Catalogue.load()


class Texts:
    """The control room's words (and the base page's full keys) in one language: ``t("fleet")``;
    ``t("n_of_total", first=1, ...)`` fills the fields."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str, **values: object) -> str:
        return catalogue().text(_full(key), self.lang, **values)

    def __contains__(self, key: str) -> bool:
        return _full(key) in catalogue()


def _full(key: str) -> str:
    """A control-room key (``fleet``) under its prefix; a full key (``common.skip``, the base page's) as it is."""
    return key if "." in key else PREFIX + key


def language_of(request: Request) -> Lang:
    """The language the page is shown in (``?lang=``, else the cookie; `bijli.web.language.Language`)."""
    return lang_of(request)
