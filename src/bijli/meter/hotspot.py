"""The meters' hotspots as one local HTTP endpoint in front of many meters.

A real meter opens a Wi-Fi hotspot for a few minutes when its button is pressed; a phone that
joins it gets a page to type a recharge token into, or an app posts the token. Here one
server fronts every meter behind it (`HotspotMeters`: the fleet twin is one), and the meter id
in the path says which meter's hotspot a request reaches:

- ``POST /meters/{id}/button``: the consumer presses the button; the hotspot opens.
- ``GET /meters/{id}/hotspot``: the page a phone on the meter's Wi-Fi sees (403 while closed).
- ``POST /meters/{id}/hotspot/token``: a token, as JSON ``{"token": "..."}`` from an app or
  form-encoded ``token=...`` from the page (which then gets the page back with the answer).
- ``GET /health``.

Choices:

- **A refused token is a 200 answer with its status code**, like a real meter's display that
  shows "wrong token" rather than going dark: the meter heard the token and answered. HTTP
  errors mean the meter could not take a token at all: unknown meter (404; transformer
  meters have no recharge hotspot either), hotspot closed (409), token entry locked (429),
  or a request that does not carry a token (422).
- **Lockout** (protocol 11.4 rule 5): after `MAX_FAILED_ATTEMPTS` FORMAT or AUTHENTICATION
  refusals in a row a meter locks token entry for `LOCKOUT_S` of the twin's time. Only an
  accepted token resets the count; other refusals (USED, EXPIRED, ...) neither count nor
  reset it, because anyone holding an old receipt could otherwise type it between guesses
  and guess forever. The counters are the app's state (``app.state.token_entry``), per meter.
- **Time is the simulation's**: `clock()` gives the twin's now as an epoch float. Every
  endpoint is ``async def`` so it runs on the simulation's event loop, never in a worker
  thread, because the twin is not thread-safe.
- Form bodies are read with the standard library, so the page needs no multipart package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from bijli.kernel.time import IST
from bijli.kernel.units import Paise, format_rupees
from bijli.protocol import tokens
from bijli.protocol.tokens import MAX_FAILED_ATTEMPTS, TokenStatus

LOCKOUT_S: Final = 600
"""How long a meter's token entry stays locked after too many wrong tokens."""
COUNTED: Final = frozenset({TokenStatus.FORMAT, TokenStatus.AUTHENTICATION})
"""The refusals that count towards the lockout: the ones a guesser gets."""
MAX_TOKEN_CHARS: Final = 64
"""More than any way of writing 20 digits with separators; longer input is not a token."""
FORM: Final = "application/x-www-form-urlencoded"
FONT: Final = Path(__file__).parent / "fonts" / "hotspot-devanagari.woff"
"""The Devanagari the page uses (31 KB, made by fonts/make_subset.py), served by the hotspot
itself: a phone on the meter's Wi-Fi reaches nothing else, and many have no Hindi font."""
FONT_PATH: Final = "/hotspot-devanagari.woff"

VALIDITY_DAYS: Final = tokens.DEFAULT_VALIDITY.days
MESSAGES: Final[dict[TokenStatus, tuple[str, str]]] = {
    TokenStatus.ACCEPTED: (
        "Token accepted: ₹{amount} added. Balance ₹{balance}.",
        "टोकन स्वीकार: ₹{amount} जोड़े गए। बैलेंस ₹{balance}।",
    ),
    TokenStatus.FORMAT: (
        "That is not a token: type the 20 digits exactly as printed.",
        "यह टोकन नहीं है: छपे हुए 20 अंक ठीक वैसे ही लिखें।",
    ),
    TokenStatus.AUTHENTICATION: (
        "This token is not for this meter, or a digit is wrong: check the meter number and the digits.",
        "यह टोकन इस मीटर का नहीं है या कोई अंक गलत है: मीटर नंबर और अंक जाँचें।",
    ),
    TokenStatus.USED: (
        "This token has already been used on this meter.",
        "यह टोकन इस मीटर पर पहले ही इस्तेमाल हो चुका है।",
    ),
    TokenStatus.OLD: (
        "This token is older than the tokens the meter remembers: ask for a new one.",
        "यह टोकन बहुत पुराना है: नया टोकन लें।",
    ),
    TokenStatus.EXPIRED: (
        f"This token has expired (tokens are good for {VALIDITY_DAYS} days): ask for a new one.",
        f"इस टोकन की अवधि समाप्त हो चुकी है (टोकन {VALIDITY_DAYS} दिन तक मान्य है): नया टोकन लें।",
    ),
    TokenStatus.RANGE: (
        "This recharge would take the meter above its credit limit.",
        "इस रिचार्ज से मीटर की क्रेडिट सीमा पार हो जाएगी।",
    ),
    TokenStatus.FUTURE: (
        "This token is dated ahead of the meter's clock: try again later, or have the meter's clock set.",
        "मीटर की घड़ी के अनुसार यह टोकन आगे की तारीख का है: बाद में कोशिश करें या मीटर की घड़ी ठीक करवाएँ।",
    ),
}
CLOSED: Final = ("hotspot closed — press the button on the meter", "हॉटस्पॉट बंद है — मीटर पर बटन दबाएँ")
LOCKED: Final = (
    "Too many wrong tokens: token entry is locked until {until} IST.",
    "बहुत सारे गलत टोकन: {until} IST तक टोकन नहीं डाला जा सकता।",
)


class HotspotMeters(Protocol):
    """The meters behind the hotspots, as this server needs them; times are epoch seconds."""

    def has_hotspot(self, meter_id: str) -> bool:
        """Whether the meter is here and has a recharge hotspot (a transformer's meter has none)."""
        ...

    def hotspot_count(self) -> int:
        """How many meters here have a recharge hotspot."""
        ...

    def press_button(self, meter_id: str, at: float) -> float:
        """The consumer presses the meter's button; until when its hotspot is open."""
        ...

    def hotspot_open(self, meter_id: str, at: float) -> bool: ...

    def hotspot_open_until(self, meter_id: str) -> float:
        """When the window of the meter's last button press ends."""
        ...

    def hotspot_window_s(self, meter_id: str) -> int:
        """How long the meter's hotspot stays open after a press."""
        ...

    def balance_paise(self, meter_id: str) -> int:
        """The meter's own credit balance."""
        ...

    def redeem(self, meter_id: str, digits: str, at: float) -> tokens.Redemption:
        """The meter's answer to a typed token (crediting itself when it accepts it)."""
        ...


@dataclass(slots=True)
class TokenEntryLock:
    """Each meter's wrong tokens in a row and, once there are too many, until when it takes none."""

    refusals: dict[str, int] = field(default_factory=dict)
    locked_until: dict[str, float] = field(default_factory=dict)

    def until(self, meter_id: str, now: float) -> float | None:
        """Until when the meter's token entry is locked, or None when it takes tokens."""
        until = self.locked_until.get(meter_id)
        if until is None:
            return None
        if now >= until:
            # The lock has run out: the meter starts counting afresh.
            del self.locked_until[meter_id]
            self.refusals.pop(meter_id, None)
            return None
        return until

    def record(self, meter_id: str, status: TokenStatus, now: float) -> float | None:
        """Count the meter's answer to a token; the end of the lock if this answer starts one."""
        if status == TokenStatus.ACCEPTED:
            self.refusals.pop(meter_id, None)
            return None
        if status not in COUNTED:
            return None
        count = self.refusals[meter_id] = self.refusals.get(meter_id, 0) + 1
        if count < MAX_FAILED_ATTEMPTS:
            return None
        until = self.locked_until[meter_id] = now + LOCKOUT_S
        return until


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A message the page shows above the form, in both languages."""

    kind: str
    """``ok``, ``refused`` or ``closed``: only its colour."""
    en: str
    hi: str


def hotspot_app(meters: HotspotMeters, clock: Callable[[], float]) -> FastAPI:
    """The hotspots of every meter behind `meters`; `clock()` is the meters' now (epoch seconds)."""
    app = FastAPI(title="bijli meter hotspots", docs_url=None, redoc_url=None, openapi_url=None)
    lock = app.state.token_entry = TokenEntryLock()

    def known(meter_id: str) -> None:
        if not meters.has_hotspot(meter_id):
            raise HTTPException(404, f"no meter {meter_id!r} with a recharge hotspot here")

    def page(request: Request, meter_id: str, notice: Notice | None, status_code: int) -> HTMLResponse:
        now = float(clock())
        is_open = meters.hotspot_open(meter_id, now)
        takes_tokens = is_open and lock.until(meter_id, now) is None
        html = _render(
            meter_id,
            action=request.url_for("enter_token", meter_id=meter_id).path if takes_tokens else None,
            notice=notice,
            balance=format_rupees(meters.balance_paise(meter_id)),
            open_until=meters.hotspot_open_until(meter_id) if is_open else None,
        )
        return HTMLResponse(html, status_code=status_code)

    def cannot_take(meter_id: str, now: float) -> tuple[int, Notice, dict[str, Any]] | None:
        """Why the meter takes no token now (status, notice, JSON body), or None when it does."""
        if not meters.hotspot_open(meter_id, now):
            body = {"meter_id": meter_id, "status": "closed", "message": CLOSED[0], "message_hi": CLOSED[1]}
            return 409, Notice(kind="closed", en=CLOSED[0], hi=CLOSED[1]), body
        until = lock.until(meter_id, now)
        if until is not None:
            notice = _locked_notice(until)
            body = {
                "meter_id": meter_id,
                "status": "locked",
                "until": _iso(until),
                "message": notice.en,
                "message_hi": notice.hi,
            }
            return 429, notice, body
        return None

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "meters": meters.hotspot_count(), "now": _iso(float(clock()))}

    @app.get(FONT_PATH)
    async def font() -> FileResponse:
        return FileResponse(FONT, media_type="font/woff", headers={"Cache-Control": "public, max-age=86400"})

    @app.post("/meters/{meter_id}/button")
    async def press_button(meter_id: str) -> dict[str, Any]:
        known(meter_id)
        open_until = meters.press_button(meter_id, float(clock()))
        return {
            "meter_id": meter_id,
            "open_until": _iso(open_until),
            "window_s": meters.hotspot_window_s(meter_id),
        }

    @app.get("/meters/{meter_id}/hotspot", response_class=HTMLResponse)
    async def hotspot_page(request: Request, meter_id: str) -> HTMLResponse:
        known(meter_id)
        refused = cannot_take(meter_id, float(clock()))
        if refused is None:
            return page(request, meter_id, None, 200)
        status_code, notice, _ = refused
        # A closed hotspot is a page the phone may not see (403); the API's 409 is for a posted token.
        return page(request, meter_id, notice, 403 if status_code == 409 else status_code)

    @app.post("/meters/{meter_id}/hotspot/token", name="enter_token")
    async def enter_token(request: Request, meter_id: str) -> Response:
        known(meter_id)
        from_page = request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM
        digits = _token_from(await request.body(), from_page)
        now = float(clock())
        refused = cannot_take(meter_id, now)
        if refused is not None:
            status_code, notice, body = refused
            if from_page:
                return page(request, meter_id, notice, status_code)
            return JSONResponse(body, status_code=status_code)

        result = meters.redeem(meter_id, digits, now)
        answer = _answer(meter_id, result, meters.balance_paise(meter_id), lock.record(meter_id, result.status, now))
        if from_page:
            kind = "ok" if result.status == TokenStatus.ACCEPTED else "refused"
            return page(request, meter_id, Notice(kind=kind, en=answer["message"], hi=answer["message_hi"]), 200)
        return JSONResponse(answer)

    return app


def _token_from(body: bytes, from_page: bool) -> str:
    """The typed digits from a form or JSON body; 422 when the body carries no token."""
    if from_page:
        values = parse_qs(body.decode("utf-8", errors="replace")).get("token", [""])
        token: object = values[0]
    else:
        try:
            parsed = json.loads(body)
        except ValueError:
            raise HTTPException(422, 'the body is not JSON; send {"token": "20 digits"}') from None
        token = parsed.get("token") if isinstance(parsed, dict) else None
    if not isinstance(token, str):
        raise HTTPException(422, 'send {"token": "20 digits"} (spaces and hyphens allowed)')
    if len(token) > MAX_TOKEN_CHARS:
        raise HTTPException(422, f"a token is 20 digits; this is {len(token)} characters")
    return token


def _answer(
    meter_id: str, result: tokens.Redemption, balance_paise: Paise, locks_until: float | None
) -> dict[str, Any]:
    """The meter's answer to a token, as the JSON body (and the page's message)."""
    accepted = result.status == TokenStatus.ACCEPTED
    amount = format_rupees(result.amount_paise) if accepted and result.amount_paise is not None else None
    balance = format_rupees(balance_paise)
    en, hi = MESSAGES[result.status]
    answer: dict[str, Any] = {
        "meter_id": meter_id,
        "code": int(result.status),
        "status": result.status.name.lower(),
        "message": en.format(amount=amount, balance=balance),
        "message_hi": hi.format(amount=amount, balance=balance),
        "amount": amount,
        "balance": balance,
    }
    if locks_until is not None:
        notice = _locked_notice(locks_until)
        answer["locked_until"] = _iso(locks_until)
        answer["message"] += " " + notice.en
        answer["message_hi"] += " " + notice.hi
    return answer


def _locked_notice(until: float) -> Notice:
    at = _ist_time(until)
    return Notice(kind="refused", en=LOCKED[0].format(until=at), hi=LOCKED[1].format(until=at))


def _iso(t: float) -> str:
    """Epoch seconds as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ist_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(IST).strftime("%H:%M")


STYLE: Final = (
    (
        '@font-face{font-family:"hotspot Devanagari";font-display:swap;'
        f'src:url("{FONT_PATH}") format("woff");unicode-range:U+0900-097F,U+200C-200D,U+20B9,U+25CC}}'
    )
    + """
body{margin:0;font:17px/1.45 "hotspot Devanagari",system-ui,-apple-system,"Noto Sans",sans-serif;
background:#f3f5f7;color:#1b1f23}
main{max-width:26rem;margin:0 auto;padding:1rem}
h1{font-size:1.2rem;margin:.25rem 0 1rem}
.id{font-family:ui-monospace,monospace;letter-spacing:.04em}
.notice{padding:.75rem 1rem;border-radius:.5rem;margin:0 0 1rem;border:1px solid}
.notice p{margin:.2rem 0}
.ok{background:#e6f4ea;border-color:#2e7d32}
.refused{background:#fdecea;border-color:#c62828}
.closed{background:#fff4e5;border-color:#b26a00}
form{display:grid;gap:.6rem;margin:0 0 1rem}
input{font:1.3rem ui-monospace,monospace;padding:.65rem;border:1px solid #7a848e;border-radius:.5rem}
button{font-size:1.1rem;padding:.75rem;border:0;border-radius:.5rem;background:#0b5cad;color:#fff}
.en{color:#454d55}
.small{font-size:.9rem;color:#5a636b}
"""
)


def _render(meter_id: str, *, action: str | None, notice: Notice | None, balance: str, open_until: float | None) -> str:
    """The hotspot page: self-contained, since a phone on the meter's Wi-Fi reaches nothing else."""
    parts = [
        '<!doctype html><html lang="hi"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>मीटर {escape(meter_id)} — रिचार्ज / Recharge</title><style>{STYLE}</style></head><body><main>",
        f'<h1>बिजली मीटर <span lang="en">/ Electricity meter</span> <span class="id">{escape(meter_id)}</span></h1>',
    ]
    if notice is not None:
        parts.append(
            f'<div class="notice {notice.kind}" role="status"><p>{escape(notice.hi)}</p>'
            f'<p class="en" lang="en">{escape(notice.en)}</p></div>'
        )
    if action is not None:
        parts.append(
            f'<form method="post" action="{escape(action)}">'
            '<label for="token">20 अंकों का टोकन <span class="en" lang="en">/ 20-digit token</span></label>'
            '<input id="token" name="token" inputmode="numeric" autocomplete="off" required '
            f'maxlength="{MAX_TOKEN_CHARS}" placeholder="1234 5678 9012 3456 7890">'
            '<button type="submit">रिचार्ज करें / Recharge</button></form>'
        )
    parts.append(f'<p>बैलेंस <span class="en" lang="en">/ Balance</span>: <b>₹{escape(balance)}</b></p>')
    if open_until is not None:
        at = _ist_time(open_until)
        parts.append(f'<p class="small">हॉटस्पॉट {at} IST तक खुला / <span lang="en">Open until {at} IST</span></p>')
    parts.append("</main></body></html>")
    return "".join(parts)
