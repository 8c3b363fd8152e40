"""The web application: REST API v1, the pages and their static files, over one platform."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

import bijli
from bijli.access.secrets import csrf_for
from bijli.adapters.db.faults import DRIVER_ERRORS, is_transient
from bijli.bootstrap import Platform
from bijli.kernel.clock import Clock, SystemClock
from bijli.web import (
    access_api,
    accounts_api,
    alerts_api,
    anomalies_api,
    api,
    cases_api,
    commands_api,
    consumer_pages,
    control,
    control_cases,
    control_disputes,
    deductions,
    display,
    disputes,
    energy_api,
    events_api,
    language,
    login,
    meters_api,
    my_data,
    onboarding_api,
    pages,
    payments_api,
    ready,
    recharge,
    reports_api,
    sharing,
    statement_pages,
    statement_pdf,
)
from bijli.web.auth import Auth, SignInRequired, secure
from bijli.web.context import WebContext
from bijli.web.edge import Edge, allowed_hosts

HERE = Path(__file__).parent
STATUS_TITLES = {
    400: ("Bad request", "गलत अनुरोध"),
    403: ("Not allowed", "अनुमति नहीं है"),
    404: ("Not found", "नहीं मिला"),
    413: ("Request too large", "अनुरोध बहुत बड़ा"),
    422: ("Bad request", "गलत अनुरोध"),
    503: ("Busy, try again", "व्यस्त, फिर से कोशिश करें"),
}


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(
        rupees=display.rupees_text,
        count=display.count_text,
        kwh=display.kwh_text,
        wh=display.wh_text,
        iso=display.iso_utc,
    )
    language.install(templates, language.Catalogue.load())
    templates.env.globals["csrf_token"] = _csrf_token
    return templates


def _csrf_token(request: Request) -> str:
    """The form token of the request's session (for the logout form)."""
    key = getattr(request.state, "session_key", None)
    return csrf_for(key) if key else ""


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(api.PREFIX + "/") or request.url.path == "/openapi.json"


def create_app(platform: Platform, *, clock: Clock | None = None, warm: bool = False) -> FastAPI:
    """The ASGI app over `platform`, behind its edge (`bijli.web.edge`: the Host names of the
    settings, security headers, body limit); `clock` (default: the wall clock) decides who is online.

    The statement PDF's libraries and fonts are taken in once a process, in the background;
    `warm` (`bijli serve`) does that before returning, compiles every page's template too and
    works out the figures the dashboard and the control room keep (`ready.keep_ready`), so that
    no page's first view waits for any of them. `app.state.keep_ready` works those figures out
    again (`bijli serve` does, every half minute)."""
    ctx = WebContext(platform=platform, clock=clock or SystemClock())
    templates = _templates()
    if warm:
        statement_pdf.warm()
        for name in templates.env.list_templates(extensions=["html"]):
            templates.env.get_template(name)
        ready.keep_ready(ctx)
    else:
        statement_pdf.warm_later()
    app = FastAPI(
        title="bijli",
        version=bijli.__version__,
        description="Operate smart prepaid electricity meters. REST API v1 for other utility systems.",
        # Served by a route of its own below, so that it too declares who may read it.
        openapi_url=None,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN; bijli loads nothing from elsewhere.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(api.router(ctx))
    app.include_router(access_api.router(ctx))  # before /commands/{command_id}: /commands/bulk is its own
    app.include_router(commands_api.router(ctx))
    app.include_router(meters_api.router(ctx))
    app.include_router(onboarding_api.router(ctx))
    app.include_router(reports_api.router(ctx))
    app.include_router(energy_api.router(ctx))
    app.include_router(anomalies_api.router(ctx))
    app.include_router(payments_api.router(ctx))
    app.include_router(accounts_api.router(ctx))
    app.include_router(alerts_api.router(ctx))
    app.include_router(events_api.router(ctx))
    app.include_router(cases_api.router(ctx))
    app.include_router(pages.router(ctx, templates))
    app.include_router(consumer_pages.router(ctx, templates))
    app.include_router(my_data.router(ctx))
    app.include_router(deductions.router(ctx, templates))
    app.include_router(disputes.router(ctx))
    app.include_router(sharing.router(ctx, templates))
    app.include_router(control.router(ctx, templates))
    app.include_router(control_cases.router(ctx, templates))
    app.include_router(control_disputes.router(ctx, templates))
    app.include_router(recharge.router(ctx, templates))
    app.include_router(statement_pages.router(ctx, templates))
    app.include_router(login.router(ctx, templates))

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(Auth(ctx).signed_in())])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    app.state.keep_ready = functools.partial(ready.keep_ready, ctx)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    settings = platform.settings
    app.add_middleware(language.Language)
    app.add_middleware(Edge, hosts=allowed_hosts(settings.host, settings.allowed_hosts))

    def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
        title, title_hi = STATUS_TITLES.get(status, ("Something went wrong", "कुछ गड़बड़ हुई"))
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "title": title, "title_hi": title_hi, "detail": detail},
            status_code=status,
        )

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": "not signed in: send a bearer token (Authorization: Bearer …) or log in at /login"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:  # Starlette names only the first route's methods for the path
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed(app, request.url.path))}
        if _wants_json(request):
            return await http_exception_handler(request, exc)
        return error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return await request_validation_exception_handler(request, exc)
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return error_page(request, 422, detail)

    async def store_busy(request: Request, exc: Exception) -> Response:
        """A statement cut at the statement timeout, or a store that does not answer: 503, at once."""
        if not is_transient(exc):
            raise exc
        busy = StarletteHTTPException(503, "the database did not answer in time; try again", {"Retry-After": "5"})
        return await http_error(request, busy)

    for error in DRIVER_ERRORS:
        app.add_exception_handler(error, store_busy)

    secure(app)
    return app


def _allowed(app: FastAPI, path: str) -> list[str]:
    """The methods some route of `app` takes at `path`."""

    def takes(method: str) -> bool:
        asked = {"type": "http", "path": path, "root_path": "", "method": method}
        return any(route.matches(asked)[0] == Match.FULL for route in app.routes)

    return [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE") if takes(m)]
