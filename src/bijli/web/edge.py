"""The web's edge: which Host names it answers, the headers every response carries, and how
large a request body may be. Pure ASGI, in front of everything else: a refused request
never reaches a route, and a body too large is refused while it streams in, not after.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 64 * 1024
"""Bytes a request body may carry: a command or a status change is well under 1 KiB."""
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
"""Bind addresses that are not a name a browser sends in Host."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Everything from bijli itself, nothing inline, nothing from elsewhere, never in a frame."""
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
NO_STORE = (b"cache-control", b"no-store")
CACHED_PREFIXES = ("/static/",)
"""Paths whose responses hold nothing personal (the style sheet, fonts, icons) and may be cached."""


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names the web answers: loopback, the address it binds (unless a wildcard), and `extra`."""
    names = set(LOOPBACK) | {host_name(h) for h in extra if h.strip()}
    if bind_host not in WILDCARDS:
        names.add(host_name(bind_host))
    return frozenset(names)


def host_name(host: str) -> str:
    """A Host header's name, without its port and brackets, in lower case: ``[::1]:8000`` is ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:  # name:port; more than one colon is a bare IPv6 address
        return host.split(":", 1)[0]
    return host


class BodyTooLarge(Exception):
    """The request body went past the limit while it was being read."""


class Edge:
    """ASGI middleware: Host allow-list, security headers, request body limit."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str], max_body: int = MAX_BODY) -> None:
        self.app = app
        self.hosts = hosts
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.hosts:
            shown = host[:80] or "(none)"
            await _refuse(send, 400, f"host {shown!r} is not served here; see docs/operations.md (allowed hosts)")
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _refuse(send, 413, f"the request body may be at most {self.max_body} bytes")
            return
        cacheable = scope["path"].startswith(CACHED_PREFIXES)
        state = {"read": 0, "too_large": False, "started": False}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > self.max_body:
                    state["too_large"] = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["too_large"]:  # whatever the app made of the cut body, the answer is 413
                if not state["started"]:
                    state["started"] = True
                    await _refuse(send, 413, f"the request body may be at most {self.max_body} bytes")
                return
            if message["type"] == "http.response.start":
                state["started"] = True
                message["headers"] = _with_edge_headers(message.get("headers", []), cacheable)
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            if not state["started"]:
                await _refuse(send, 413, f"the request body may be at most {self.max_body} bytes")


def _with_edge_headers(headers: Iterable[tuple[bytes, bytes]], cacheable: bool) -> list[tuple[bytes, bytes]]:
    out = list(headers)
    present = {name.lower() for name, _ in out}
    extra = SECURITY_HEADERS if cacheable else (*SECURITY_HEADERS, NO_STORE)
    out.extend((name, value) for name, value in extra if name not in present)
    return out


async def _refuse(send: Send, status: int, detail: str) -> None:
    """A JSON problem (`{"detail": ...}`) with the edge's headers; the connection closes after it."""
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": _with_edge_headers(headers, False)})
    await send({"type": "http.response.body", "body": body})
