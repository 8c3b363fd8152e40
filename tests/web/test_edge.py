"""The web's edge: which Host names it answers, the headers on every response, the body limit."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import TYPE_CHECKING, Any

import pytest

from bijli.bootstrap import Platform
from bijli.web.app import create_app
from bijli.web.edge import CSP, MAX_BODY, Edge, allowed_hosts, host_name
from tests.web.conftest import MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient  # imported at run time by conftest, quietly


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("LOCALHOST:8000", "localhost"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("bijli.kesco.example", "bijli.kesco.example"),
    ],
)
def test_a_host_header_is_read_without_its_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_loopback_the_bound_address_and_the_named_hosts_are_allowed_and_no_wildcard() -> None:
    assert allowed_hosts("127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts("10.0.0.5", ["bijli.kesco.example", " "]) == {
        "localhost",
        "127.0.0.1",
        "::1",
        "10.0.0.5",
        "bijli.kesco.example",
    }
    assert "0.0.0.0" not in allowed_hosts("0.0.0.0")


@pytest.mark.parametrize("host", ["evil.example", "testserver", "127.0.0.2", ""])
def test_a_foreign_host_gets_400_and_no_data(api: TestClient, host: str) -> None:
    r = api.get("/api/v1/meters", headers={"Host": host})
    assert r.status_code == 400
    assert "is not served here" in r.json()["detail"]
    assert "items" not in r.text
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "[::1]:8000"])
def test_loopback_hosts_are_answered(api: TestClient, host: str) -> None:
    assert api.get("/api/v1/health", headers={"Host": host}).status_code == 200


def test_a_host_named_in_the_settings_is_answered(platform: Platform, make_client: MakeClient) -> None:
    named = dataclasses.replace(
        platform, settings=dataclasses.replace(platform.settings, allowed_hosts=("bijli.kesco.example",))
    )
    client = make_client(named)
    assert client.get("/api/v1/health", headers={"Host": "bijli.kesco.example:443"}).status_code == 200
    assert client.get("/api/v1/health", headers={"Host": "other.example"}).status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/meters", "/operations", "/api/v1/meters/KNXX9999999", "/openapi.json"])
def test_every_response_carries_the_security_headers_and_no_store(api: TestClient, path: str) -> None:
    r = api.get(path)
    assert r.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "http" not in CSP and "unsafe-inline" not in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"


def test_the_consumer_page_is_not_stored(api: TestClient) -> None:
    meter_id = api.get("/api/v1/meters").json()["items"][0]["meter_id"]
    r = api.get(f"/consumer/{meter_id}")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script[^>]*>", r.text)
    assert all(" src=" in tag for tag in scripts) and " style=" not in r.text  # nothing inline for the CSP to refuse


def test_static_files_may_be_cached_and_still_carry_the_security_headers(api: TestClient) -> None:
    r = api.get("/static/bijli.css")
    assert r.status_code == 200
    assert "cache-control" not in r.headers or "no-store" not in r.headers["cache-control"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_body_declared_too_large_is_refused_before_it_is_read(api: TestClient) -> None:
    meter_id = api.get("/api/v1/meters").json()["items"][0]["meter_id"]
    before = api.get(f"/api/v1/meters/{meter_id}/commands").json()["items"]
    r = api.post(
        f"/api/v1/meters/{meter_id}/commands",
        content=b'{"action": "read_now", "reason": "check"}' + b" " * MAX_BODY,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json() == {"detail": f"the request body may be at most {MAX_BODY} bytes"}
    assert api.get(f"/api/v1/meters/{meter_id}/commands").json()["items"] == before


def test_a_body_just_under_the_limit_is_read(api: TestClient) -> None:
    meter_id = api.get("/api/v1/meters").json()["items"][0]["meter_id"]
    padded = api.post(
        f"/api/v1/meters/{meter_id}/commands",
        content=(b'{"action": "read_now", "reason": "check"}' + b" " * (MAX_BODY - 100)),
        headers={"content-type": "application/json"},
    )
    assert padded.status_code == 202


def test_a_streamed_body_is_cut_at_the_limit_and_answered_413() -> None:
    """A body without a declared length (chunked) is counted as it arrives: the app sees no
    more than the limit and a chunk, and the answer is 413 whatever the app made of it."""
    chunk = b"x" * 16 * 1024
    sent = {"chunks": 0}
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got = 0
        try:
            while True:
                message = await receive()
                got += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
        finally:
            seen.append(got)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        sent["chunks"] += 1
        return {"type": "http.request", "body": chunk, "more_body": sent["chunks"] < 12_800}  # 200 MB

    answers: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    scope = {"type": "http", "path": "/api/v1/meters/X/commands", "headers": [(b"host", b"localhost")]}
    asyncio.run(Edge(app, hosts=allowed_hosts("127.0.0.1"))(scope, receive, send))

    assert answers[0]["status"] == 413
    assert sent["chunks"] * len(chunk) <= MAX_BODY + len(chunk)
    assert seen == [MAX_BODY]


def test_a_method_not_allowed_names_every_method_the_path_takes(api: TestClient) -> None:
    meter_id = api.get("/api/v1/meters").json()["items"][0]["meter_id"]
    r = api.delete(f"/api/v1/meters/{meter_id}/commands")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"


def test_the_app_is_built_behind_its_edge(platform: Platform) -> None:
    app = create_app(platform)
    assert any(m.cls is Edge for m in app.user_middleware)


def test_the_login_page_carries_the_headers_and_nothing_inline(platform: Platform, make_client: MakeClient) -> None:
    r = make_client(platform, role=None).get("/login")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text and " style=" not in r.text
