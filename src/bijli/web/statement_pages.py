"""The printable monthly statement and its PDF, in Hindi or English (the reader's choice)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from bijli.prepaid.statement import Statement, month_start, next_month
from bijli.web.accounts_api import find_statement, statement_out
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.language import lang_of
from bijli.web.limits import MONTH_PATTERN, in_calendar
from bijli.web.statement_pdf import statement_pdf
from bijli.web.statement_view import LANG_NAMES, LANGS, Lang, statement_view

AccountId = Annotated[str, Path(max_length=32)]
Month = Annotated[str, Path(pattern=MONTH_PATTERN)]
Language = Annotated[
    Lang | None, Query(description="en (English) or hi (Hindi); the consumer's language if not given.")
]


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


def language_of(request: Request, found: Statement) -> Lang:
    """The language the reader chose on the site (``?lang=`` or remembered), else the one the
    account's consumer chose, English when unknown."""
    if getattr(request.state, "lang_chosen", False):
        return lang_of(request)
    return "hi" if found.holder.language == "hi" else "en"


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The statement's page and PDF over one platform."""
    pages = APIRouter(include_in_schema=False)
    one_account = [Depends(Auth(ctx).account())]

    @pages.get("/accounts/{account_id}/statements/{month}", response_class=HTMLResponse, dependencies=one_account)
    def statement_page(request: Request, account_id: AccountId, month: Month, lang: Language = None) -> HTMLResponse:
        found = find_statement(ctx, account_id, month)
        lang = lang or language_of(request, found)
        first = month_start(month)
        previous = (
            first.replace(year=first.year - 1, month=12) if first.month == 1 else first.replace(month=first.month - 1)
        )
        following = next_month(first)
        return templates.TemplateResponse(
            request,
            "statement.html",
            {
                "view": statement_view(found, lang),
                "statement": statement_out(found),
                "lang": lang,
                "langs": [(code, LANG_NAMES[code]) for code in LANGS],
                "account_no": account_id,
                "month": month,
                "previous": _month(previous) if in_calendar(previous) else None,
                "following": _month(following) if in_calendar(following) else None,
                "now": ctx.clock.now(),
            },
        )

    @pages.get("/accounts/{account_id}/statements/{month}/pdf", dependencies=one_account)
    def statement_document(request: Request, account_id: AccountId, month: Month, lang: Language = None) -> Response:
        found = find_statement(ctx, account_id, month)
        lang = lang or language_of(request, found)
        body = statement_pdf(statement_view(found, lang))
        name = f"statement-{account_id}-{month}-{lang}.pdf"
        return Response(
            body, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'}
        )

    return pages
