"""One language at a time on every page, Hindi or English: the reader's choice (``?lang=hi``,
then remembered in a cookie), the texts as data (``web/texts/*.toml``, every file merged, one
file per part of the site), and the template helpers that speak it (``t``, ``bi``, dates with
the month named in the page's language)."""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Final, Literal, cast
from urllib.parse import parse_qsl, urlencode

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from bijli.web.display import day_text, ist_text, month_text

Lang = Literal["en", "hi"]
LANGS: Final[tuple[Lang, ...]] = ("en", "hi")
DEFAULT: Final[Lang] = "en"
COOKIE: Final = "bijli_lang"
COOKIE_AGE: Final = 400 * 24 * 3600
"""A year and more: a household's choice outlives its logins."""
TEXTS: Final = Path(__file__).parent / "texts"
NAMES: Final[dict[Lang, str]] = {"en": "English", "hi": "हिन्दी"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CatalogueError(ValueError):
    """A texts file that cannot be used: bad TOML, a text without both languages, a key twice."""


@dataclass(frozen=True, slots=True)
class Text:
    """One text of the site in both languages (``{name}`` fields filled in when shown)."""

    en: str
    hi: str

    def of(self, lang: str) -> str:
        return self.hi if lang == "hi" else self.en


class Catalogue:
    """Every text of the site by key (``consumer.balance``), from every ``*.toml`` of a folder."""

    def __init__(self, texts: Mapping[str, Text]) -> None:
        self._texts = dict(texts)

    @classmethod
    def load(cls, folder: Path = TEXTS) -> Catalogue:
        """Merge every file of `folder`; a key may be defined once in all of them."""
        merged: dict[str, Text] = {}
        where: dict[str, str] = {}
        for path in sorted(folder.glob("*.toml")):
            try:
                tree = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise CatalogueError(f"{path.name}: {e}") from None
            for key, text in _texts_of(tree, path.name):
                if key in merged:
                    raise CatalogueError(f"{path.name}: text {key!r} is already defined in {where[key]}")
                merged[key] = text
                where[key] = path.name
        return cls(merged)

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def __len__(self) -> int:
        return len(self._texts)

    def names(self) -> list[str]:
        return sorted(self._texts)

    def text(self, key: str, lang: str, **fields: object) -> str:
        """The text `key` in `lang`, its ``{fields}`` filled in; an unknown key is an error, not a blank."""
        try:
            found = self._texts[key]
        except KeyError:
            raise KeyError(f"no text {key!r} in web/texts") from None
        shown = found.of(lang)
        return shown.format(**fields) if fields else shown


def _texts_of(tree: Mapping[str, Any], source: str, prefix: str = "") -> Iterator[tuple[str, Text]]:
    """The texts of one file: a table holding ``en`` and ``hi`` strings is a text; other tables nest."""
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if not isinstance(value, dict):
            raise CatalogueError(f"{source}: {key!r} is not a table of en and hi")
        if "en" in value or "hi" in value:
            en, hi = value.get("en"), value.get("hi")
            if not isinstance(en, str) or not isinstance(hi, str) or set(value) != {"en", "hi"}:
                raise CatalogueError(f"{source}: text {key!r} needs exactly en and hi, both strings")
            yield key, Text(en=en, hi=hi)
        else:
            yield from _texts_of(value, source, key + ".")


def chosen(query: str, cookie_header: str | None) -> tuple[Lang | None, Lang | None]:
    """The language asked for in the query (``lang=``) and the one remembered in the cookie.

    Raises ValueError for a query asking for a language the site does not speak."""
    asked = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "lang"]
    from_query: Lang | None = None
    if asked:
        if asked[-1] not in LANGS:
            raise ValueError(f"lang {asked[-1][:20]!r} is not a language of this site: en or hi")
        from_query = asked[-1]
    remembered: Lang | None = None
    if cookie_header:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header)
        except Exception:  # a garbled Cookie header only loses the remembered choice
            jar = SimpleCookie()
        morsel = jar.get(COOKIE)
        if morsel is not None and morsel.value in LANGS:
            remembered = cast(Lang, morsel.value)
    return from_query, remembered


class Language:
    """ASGI middleware: puts the reader's language in ``request.state.lang`` (the query's
    ``lang=``, else the cookie's, else English) and remembers a ``lang=`` in the cookie.
    ``request.state.lang_chosen`` says whether the reader chose it (a page may then prefer
    the account's own language). The API (``/api/``) takes no part."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cookie = headers.get(b"cookie", b"").decode("latin-1") or None
        try:
            asked, remembered = chosen(scope.get("query_string", b"").decode("latin-1"), cookie)
        except ValueError as e:
            body = f"{e}\n".encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", b"%d" % len(body)),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        state = scope.setdefault("state", {})
        state["lang"] = asked or remembered or DEFAULT
        state["lang_chosen"] = (asked or remembered) is not None
        if asked is None or asked == remembered:
            await self.app(scope, receive, send)
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        set_cookie = f"{COOKIE}={asked}; Path=/; Max-Age={COOKIE_AGE}; HttpOnly; SameSite=Lax{secure}".encode()

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", set_cookie)]
            await send(message)

        await self.app(scope, receive, remember)


def lang_of(request: Any) -> Lang:
    """The language a request's page is shown in."""
    lang = getattr(request.state, "lang", DEFAULT)
    return cast(Lang, lang) if lang in LANGS else DEFAULT


def page_lang(context: Mapping[str, Any] | Context) -> Lang:
    """The language a template renders in: its own ``lang`` if given (a statement in the
    account's language), else the reader's."""
    own = context.get("lang")
    if own in LANGS:
        return cast(Lang, own)
    request = context.get("request")
    return lang_of(request) if request is not None else DEFAULT


def install(templates: Jinja2Templates, catalogue: Catalogue) -> None:
    """Give `templates` the language helpers: ``t(key, **fields)``, ``bi(en, hi)`` (the one of
    the page's language), ``page_lang()``, ``lang_url(code)``, and the filters ``ist`` and
    ``day`` (Indian dates, the month in the page's language)."""

    @pass_context
    def t(context: Context, key: str, **fields: object) -> str:
        return catalogue.text(key, page_lang(context), **fields)

    @pass_context
    def bi(context: Context, en: str, hi: str) -> str:
        return hi if page_lang(context) == "hi" else en

    @pass_context
    def current(context: Context) -> str:
        return page_lang(context)

    @pass_context
    def lang_url(context: Context, code: str) -> str:
        """This page's address in language `code` (its other query parameters kept)."""
        request = context["request"]
        query = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "lang"]
        return f"{request.url.path}?{urlencode([*query, ('lang', code)])}"

    @pass_context
    def ist(context: Context, moment: datetime | None) -> str:
        return ist_text(moment, page_lang(context))

    @pass_context
    def day(context: Context, value: date | None) -> str:
        return "—" if value is None else day_text(value, page_lang(context))

    @pass_context
    def month_name(context: Context, value: date) -> str:
        return month_text(value, page_lang(context))

    templates.env.globals.update(
        t=t, bi=bi, page_lang=current, lang_url=lang_url, lang_names=NAMES, month_name=month_name
    )
    templates.env.filters.update(ist=ist, day=day)
