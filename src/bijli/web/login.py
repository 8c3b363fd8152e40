"""/login for staff (password and, if set up, a TOTP code) and consumers (mobile number and
a one-time code by SMS), and /logout. Every form carries a CSRF token; the session cookie is
HttpOnly, SameSite=Strict, and Secure over HTTPS."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bijli.access import handlers as access
from bijli.access.model import SESSION_LIFETIME
from bijli.access.ports import SmsUnavailable
from bijli.access.secrets import csrf_for, new_token
from bijli.kernel.time import IST
from bijli.web.auth import SESSION_COOKIE, Auth
from bijli.web.context import WebContext

LOGIN_COOKIE = "bijli_login"
"""A random value set with the login page; its forms' CSRF token is derived from it."""

Message = tuple[str, str]
WRONG_PASSWORD: Message = (
    "Wrong user name, password or code.",
    "उपयोगकर्ता नाम, पासवर्ड या कोड गलत है।",
)
WRONG_CODE: Message = ("Wrong or expired code. Ask for a new one.", "कोड गलत है या उसकी अवधि समाप्त हो गई। नया कोड मँगाएँ।")
CODE_SENT: Message = (
    "If an account has this number, a code is on its way by SMS. It works once, for 5 minutes.",
    "यदि यह नंबर किसी खाते से जुड़ा है, तो SMS से कोड भेजा गया है। यह 5 मिनट तक, एक ही बार काम करेगा।",
)
NOT_A_MOBILE: Message = (
    "That is not a mobile number: ten digits, starting with 6, 7, 8 or 9.",
    "यह मोबाइल नंबर नहीं है: 6, 7, 8 या 9 से शुरू होने वाले दस अंक लिखें।",
)
NO_SMS: Message = (
    "Login by SMS code is not available right now. Please contact the utility's office.",
    "SMS कोड से लॉगिन अभी उपलब्ध नहीं है। कृपया बिजली कार्यालय से संपर्क करें।",
)
STALE_FORM: Message = ("The form had expired. Please try again.", "फ़ॉर्म की अवधि समाप्त हो गई थी। कृपया फिर से प्रयास करें।")


def locked(until: datetime) -> Message:
    at = until.astimezone(IST).strftime("%H:%M")
    return (f"Too many attempts. Try again after {at} IST.", f"बहुत अधिक प्रयास। {at} IST के बाद फिर से प्रयास करें।")


def local_path(target: str | None) -> str:
    """Where to go after login: a path on this site, never elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The login and logout routes over one platform."""
    pages = APIRouter(include_in_schema=False)
    public = [Depends(Auth(ctx).public())]
    store = ctx.platform.store

    def secure(request: Request) -> bool:
        configured = ctx.platform.settings.secure_cookies
        return request.url.scheme == "https" if configured is None else configured

    def page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        key = request.cookies.get(LOGIN_COOKIE) or new_token()
        values.setdefault("next", "/")
        response = templates.TemplateResponse(
            request, "login.html", {"csrf": csrf_for(key), "now": ctx.clock.now(), **values}, status_code=status
        )
        response.headers["Cache-Control"] = "no-store"
        if LOGIN_COOKIE not in request.cookies:
            response.set_cookie(
                LOGIN_COOKIE, key, httponly=True, samesite="strict", secure=secure(request), path="/login"
            )
        return response

    def form_ok(request: Request, csrf: str) -> bool:
        key = request.cookies.get(LOGIN_COOKIE)
        return key is not None and hmac.compare_digest(csrf, csrf_for(key))

    def signed_in(request: Request, key: str, target: str) -> RedirectResponse:
        response = RedirectResponse(local_path(target), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            key,
            max_age=int(SESSION_LIFETIME.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path="/",
        )
        return response

    @pages.get("/login", response_class=HTMLResponse, dependencies=public)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return page(request, next=local_path(next))

    @pages.post("/login/staff", dependencies=public)
    def staff(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=256)],
        csrf: Annotated[str, Form(max_length=128)],
        totp: Annotated[str, Form(max_length=16)] = "",
        next: Annotated[str, Form(max_length=512)] = "/",
    ) -> Response:
        if not form_ok(request, csrf):
            return page(request, 403, error=STALE_FORM, next=next, username=username)
        try:
            key = access.staff_login(store, username, password, totp, client_address(request), ctx.clock.now())
        except access.TooManyAttempts as e:
            return page(request, 429, error=locked(e.until), next=next, username=username)
        except access.LoginRefused:
            return page(request, 401, error=WRONG_PASSWORD, next=next, username=username)
        return signed_in(request, key, next)

    @pages.post("/login/code", dependencies=public)
    def send_code(
        request: Request,
        mobile: Annotated[str, Form(max_length=32)],
        csrf: Annotated[str, Form(max_length=128)],
        next: Annotated[str, Form(max_length=512)] = "/",
    ) -> Response:
        if not form_ok(request, csrf):
            return page(request, 403, error=STALE_FORM, next=next)
        try:
            sent_to = access.send_code(store, ctx.platform.sms, mobile, client_address(request), ctx.clock.now())
        except access.AccessError:
            return page(request, 422, error=NOT_A_MOBILE, next=next, mobile=mobile)
        except access.TooManyAttempts as e:
            return page(request, 429, error=locked(e.until), next=next, mobile=mobile)
        except SmsUnavailable:
            return page(request, 503, error=NO_SMS, next=next, mobile=mobile)
        return page(request, notice=CODE_SENT, next=next, sent_to=sent_to)

    @pages.post("/login/consumer", dependencies=public)
    def consumer(
        request: Request,
        mobile: Annotated[str, Form(max_length=32)],
        code: Annotated[str, Form(max_length=16)],
        csrf: Annotated[str, Form(max_length=128)],
        next: Annotated[str, Form(max_length=512)] = "/",
    ) -> Response:
        if not form_ok(request, csrf):
            return page(request, 403, error=STALE_FORM, next=next, sent_to=mobile)
        try:
            key = access.consumer_login(store, mobile, code, client_address(request), ctx.clock.now())
        except access.TooManyAttempts as e:
            return page(request, 429, error=locked(e.until), next=next, sent_to=mobile)
        except access.LoginRefused:
            return page(request, 401, error=WRONG_CODE, next=next, sent_to=mobile)
        return signed_in(request, key, next)

    @pages.post("/logout", dependencies=public)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)]) -> Response:
        key = request.cookies.get(SESSION_COOKIE)
        if key and not hmac.compare_digest(csrf, csrf_for(key)):
            return page(request, 403, error=STALE_FORM)
        if key:
            access.logout(store, key)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure(request))
        return response

    return pages
