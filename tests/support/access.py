"""Signing in from tests: bearer tokens, and staff and households logged in through /login as a
browser would."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime

import httpx

from bijli.access.handlers import add_staff, create_token
from bijli.access.model import Role
from bijli.access.secrets import csrf_for
from bijli.bootstrap import Platform
from bijli.web.auth import CSRF_HEADER, SESSION_COOKIE

PASSWORD = "kesco-control-room-2026"
MADE = datetime(2026, 11, 1, tzinfo=UTC)


def bearer(platform: Platform, role: Role, name: str | None = None) -> dict[str, str]:
    """The Authorization header of a new bearer token with this role (named `name`, or made up)."""
    name = name or f"test-{role.value.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    return {"Authorization": f"Bearer {create_token(platform.store, name, role, 'tests', MADE)}"}


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in_staff(client: httpx.Client, platform: Platform, username: str, role: Role, root: str = "") -> None:
    """Add a staff member and log `client` in as them through /login (`root`: the site's address
    when the client's base is elsewhere); its later unsafe requests carry the session's form
    token, as a page's forms would."""
    add_staff(platform.store, username, role, PASSWORD, MADE)
    csrf = form_token(client.get(f"{root}/login").text)
    r = client.post(
        f"{root}/login/staff", data={"username": username, "password": PASSWORD, "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    client.headers[CSRF_HEADER] = csrf_for(client.cookies[SESSION_COOKIE])


def log_in_consumer(client: httpx.Client, mobile: str, outbox: ConsoleOutbox) -> None:
    """Log `client` in as the household with `mobile` through /login, with the code that the
    console SMS provider printed to `outbox`."""
    csrf = form_token(client.get("/login").text)
    sent = client.post("/login/code", data={"mobile": mobile, "csrf": csrf})
    assert sent.status_code == 200, sent.text
    code = outbox.last_code(mobile)
    done = client.post("/login/consumer", data={"mobile": mobile, "code": code, "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303, done.text


class ConsoleOutbox(io.StringIO):
    """Where the console SMS provider prints, in tests: the consumers' login codes."""

    def last_code(self, mobile: str) -> str:
        """The newest login code printed for this mobile number."""
        codes = re.findall(rf"SMS to {re.escape(mobile)}: bijli: your login code is (\d{{6}})", self.getvalue())
        assert codes, f"no code was sent to {mobile}"
        return str(codes[-1])
