"""Every route, with every role and with none, held to the role table in docs/api.md."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bijli.access.handlers import create_token
from bijli.access.model import ACTION_PERMISSION, CASE_STEP_PERMISSION, Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.kernel.clock import SimulatedClock
from bijli.payments.model import SIGNATURE_HEADER, PaymentEvent, PaymentStatus, event_body, sign
from bijli.vigilance.handlers import open_cases
from bijli.web.app import create_app
from bijli.web.auth import CSRF_HEADER, SESSION_COOKIE, route_rules
from tests.support.access import ConsoleOutbox, form_token, log_in_consumer
from tests.support.cases import tamper
from tests.support.sites import commissioned_platform
from tests.web.conftest import TestClient

if TYPE_CHECKING:
    from fastapi import FastAPI

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
COLUMNS = ["anonymous", *(r.value for r in Role)]
NOW = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
CITY = build_city(4)
MINE, THEIRS = CITY[0], CITY[1]
"""The consumer signed in is MINE's; everyone else works on THEIRS's meter."""
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)`(?: `(\w+)`)? \| (.+) \|$")
QUERY = {
    "/api/v1/meters/{meter_id}/readings": {"start": "2026-11-01T00:00+05:30", "end": "2026-11-02T00:00+05:30"},
    "/api/v1/meters/{meter_id}/edits": {"start": "2026-11-01T00:00+05:30", "end": "2026-11-02T00:00+05:30"},
    "/api/v1/usage": {"day": "2026-11-01"},
    "/api/v1/accounts/{account_id}/ledger": {"start": "2026-11-01T00:00+05:30", "end": "2026-11-02T00:00+05:30"},
    "/accounts/{account_id}/alerts/live": {"wait": "0"},
    "/api/v1/cases/live": {"wait": "0"},
    "/api/v1/outages/live": {"wait": "0"},
    "/consumer/{meter_id}/data.csv": {"month": "2026-11"},
    "/consumer/{meter_id}/data.xml": {"month": "2026-11"},
}
ACCOUNTS = {c.meter_id: c.account_no for c in CITY}
Op = tuple[str, str, str | None]
"""(method, path, command action or None)."""


def role_table() -> dict[Op, dict[str, str]]:
    """The table of docs/api.md, "Who may call what"."""
    rows: dict[Op, dict[str, str]] = {}
    section = DOC.read_text().split("### Who may call what", 1)[1].split("\n#", 1)[0]
    for line in section.splitlines():
        found = ROW.match(line)
        if found:
            method, path, action, cells = found.groups()
            values = [c.strip() for c in cells.split("|")]
            assert len(values) == len(COLUMNS), line
            assert set(values) <= {"yes", "own", "—", "signed"}, line
            rows[(method, path, action)] = dict(zip(COLUMNS, values, strict=True))
    return rows


def app_operations(app: FastAPI) -> set[Op]:
    ops: set[Op] = set()
    for route, rule in route_rules(app):
        assert rule is not None
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            actions: list[str | None] = (
                list(ACTION_PERMISSION) if rule.command else list(CASE_STEP_PERMISSION) if rule.case_step else [None]
            )
            path = str(getattr(route, "path_format", getattr(route, "path", "")))  # {id:convertor} as {id}
            ops |= {(method, path, a) for a in actions}
    return ops


class Site:
    """A store of its own (the walk changes it), a client per identity, and the ids to call with."""

    def __init__(self, tmp: Path) -> None:
        self.outbox = ConsoleOutbox()
        from bijli.adapters.sms.console import ConsoleSms

        self.platform: Platform = commissioned_platform(
            tmp, CITY, NOW - timedelta(days=30), sms=ConsoleSms(self.outbox)
        )
        self.app = create_app(self.platform, clock=SimulatedClock(NOW))
        self.clients = {"anonymous": TestClient(self.app, base_url="http://localhost")}
        for role in Role:
            if role is not Role.CONSUMER:
                self.clients[role.value] = self.bearer(role, f"roles-{role.value.replace('_', '-')}")
        self.clients[Role.CONSUMER.value] = self.consumer(MINE.mobile)
        requester = self.bearer(Role.ADMIN, "roles-requester")
        asked = requester.post(f"/api/v1/meters/{THEIRS.meter_id}/commands", json={"action": "read_now", "reason": "r"})
        self.command_id = asked.json()["command_id"]
        bulk = requester.post(
            "/api/v1/commands/bulk",
            json={"action": "relay_connect", "meter_ids": [CITY[2].meter_id, CITY[3].meter_id], "reason": "r"},
        )
        self.request_id = bulk.json()["request_id"]
        self.payments = 0
        opening = tamper("magnet", THEIRS.meter_id, THEIRS.area, NOW, f"magnet:{THEIRS.meter_id}:1")
        (self.case_id,) = open_cases(self.platform.store, [opening])
        for consumer in (MINE, THEIRS):  # a payment of each, to track
            self.pay(f"pay-roles-of-{consumer.meter_id}", consumer.account_no, "admin")

    def bearer(self, role: Role, name: str) -> TestClient:
        token = create_token(self.platform.store, name, role, "tests", NOW)
        return TestClient(self.app, base_url="http://localhost", headers={"Authorization": f"Bearer {token}"})

    def consumer(self, mobile: str) -> TestClient:
        client = TestClient(self.app, base_url="http://localhost")
        log_in_consumer(client, mobile, self.outbox)
        client.headers[CSRF_HEADER] = form_token(client.get(f"/consumer/{MINE.meter_id}").text)
        assert client.cookies.get(SESSION_COOKIE)
        return client

    def signed_webhook(self, who: str) -> Any:
        """A payment for MINE, signed as the gateway signs it, sent by `who`."""
        self.payments += 1
        return self.pay(f"pay-roles-{self.payments}", MINE.account_no, who)

    def pay(self, payment_id: str, account_no: str, who: str) -> Any:
        secret = self.platform.settings.payment_secret
        assert secret is not None
        body = event_body(
            PaymentEvent(
                event_id=f"evt-{payment_id}",
                payment_id=payment_id,
                account_no=account_no,
                amount_paise=10_000,
                status=PaymentStatus.CAPTURED,
                at=NOW,
            )
        )
        headers = {SIGNATURE_HEADER: sign(secret, body), "content-type": "application/json"}
        return self.clients[who].post("/api/v1/payments/webhook", content=body, headers=headers)

    def url(self, path: str, meter_id: str) -> str:
        return (
            path.replace("{meter_id}", meter_id)
            .replace("{command_id}", self.command_id)
            .replace("{request_id}", self.request_id)
            .replace("{account_id}", ACCOUNTS[meter_id])
            .replace("{payment_id}", f"pay-roles-of-{meter_id}")
            .replace("{month}", "2026-10")
            .replace("{transformer_id}", THEIRS.transformer)
            .replace("{feeder_id}", THEIRS.feeder)
            .replace("{area}", THEIRS.area)
            .replace("{outage_id}", "1")
            .replace("{case_id}", self.case_id)
            .replace("{dispute_id}", "1")
            .replace("{link_id}", "1")
            .replace("{token}", "bijli_not-a-link")
        )

    def call(self, who: str, op: Op, meter_id: str) -> Any:
        method, path, action = op
        body: dict[str, Any] | None = None
        if action is not None:
            body = {"action": action, "reason": "role walk"}
            if action == "assign":
                body["assignee"] = "roles-field-engineer"
        elif path.endswith(("/decommission", "/recommission")):
            body = {"reason": "role walk"}
        elif path == "/api/v1/commands/bulk":
            body = {"action": "relay_disconnect", "meter_ids": [meter_id], "reason": "role walk"}
        elif path.endswith("/refuse"):
            body = {}
        client = self.clients[who]
        if path.startswith("/login") or path == "/logout":
            return client.request(method, path, data={}, follow_redirects=False)
        return client.request(
            method, self.url(path, meter_id), params=QUERY.get(path), json=body, follow_redirects=False
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = Site(tmp_path_factory.mktemp("roles"))
    yield s
    s.platform.store.dispose()


def is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


def test_the_table_names_every_route_of_the_app_and_of_the_openapi_document(site: Site) -> None:
    document = site.clients["admin"].get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    served = app_operations(site.app)
    assert documented <= {(m, p) for m, p, _ in served}
    assert set(role_table()) == served


def test_every_route_with_every_role_and_none_grants_exactly_what_the_table_says(site: Site) -> None:
    table = role_table()
    wrong = []
    order = sorted(table, key=lambda op: (op[1].endswith("/decommission"), op))  # take meters out of service last
    for op in order:
        path = op[1]
        for who, grant in table[op].items():
            r = site.call(who, op, MINE.meter_id if who == "consumer" else THEIRS.meter_id)
            refused = r.status_code in (401, 403) or (
                r.status_code == 303 and r.headers["location"].startswith("/login?")
            )
            if grant == "signed":  # no identity opens it: without the gateway's signature, 401
                if r.status_code != 401:
                    wrong.append(f"{who} {op}: {r.status_code} unsigned, the table wants the gateway's signature")
                signed = site.signed_webhook(who)
                if signed.status_code != 200:
                    wrong.append(f"{who} {op}: {signed.status_code} signed by the gateway: {signed.text}")
            elif grant == "—":
                expected = (401 if is_api(path) else 303) if who == "anonymous" else 403
                if r.status_code != expected:
                    wrong.append(f"{who} {op}: {r.status_code}, the table refuses ({expected} expected)")
            elif refused:
                wrong.append(f"{who} {op}: {r.status_code}, the table grants it")
            if grant == "own":  # and never another consumer's meter
                other = site.call(who, op, THEIRS.meter_id)
                if other.status_code != 404 or THEIRS.consumer_name in other.text:
                    wrong.append(f"{who} {op} on another's meter: {other.status_code}")
    assert wrong == []
