"""An account's alerts through the API (with each channel's delivery state) and its web live
feed (server-sent events), after a payment taken through the signed webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bijli.access.model import Role
from bijli.alerts.handlers import deliver_due
from bijli.bootstrap import Platform
from bijli.kernel.clock import SimulatedClock
from bijli.payments.model import PaymentStatus
from bijli.web.app import create_app
from tests.support.access import bearer
from tests.support.sites import commissioned_platform
from tests.web.conftest import TestClient
from tests.web.test_statement_payments import CITY, MINE, NOW, pay


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    made = commissioned_platform(tmp_path / "data", CITY, NOW - timedelta(days=2))
    yield made
    made.store.dispose()


@pytest.fixture
def client(platform: Platform) -> TestClient:
    c = TestClient(create_app(platform, clock=SimulatedClock(NOW)), base_url="http://localhost")
    c.headers.update(bearer(platform, Role.OPERATOR))
    return c


def events(body: str) -> list[dict[str, str]]:
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append(fields)
    return found


def test_a_payments_alert_is_listed_with_its_delivery_states(client: TestClient, platform: Platform) -> None:
    pay(client, platform, "pay-a1", PaymentStatus.CAPTURED, NOW)
    before = client.get(f"/api/v1/accounts/{MINE.account_no}/alerts").json()
    deliver_due(platform.store, platform.alert_channels, NOW + timedelta(seconds=5))
    after = client.get(f"/api/v1/accounts/{MINE.account_no}/alerts").json()

    (alert,) = after["items"]
    assert alert["kind"] == "payment_received" and alert["facts"]["amount_paise"] == 45_000
    assert "₹450.00" in alert["text"] and alert["language"] == "hi"
    assert {d["channel"]: d["state"] for d in before["items"][0]["deliveries"]} == {
        "sms": "pending",
        "email": "skipped",
        "web": "pending",
    }
    assert {d["channel"]: (d["state"], d["attempts"]) for d in alert["deliveries"]} == {
        "sms": ("sent", 1),
        "email": ("skipped", 0),
        "web": ("sent", 1),
    }
    sms = (platform.settings.data_dir / "alerts" / "sms.jsonl").read_text().splitlines()
    assert [json.loads(line)["message_id"] for line in sms] == [f"bijli-alert-{alert['alert_id']}-sms"]
    assert after["next_offset"] is None


def test_an_unknown_account_has_no_alerts_to_list(client: TestClient) -> None:
    assert client.get("/api/v1/accounts/NO-SUCH/alerts").status_code == 404
    assert client.get("/accounts/NO-SUCH/alerts/live", params={"wait": 0}).status_code == 404


def test_the_live_feed_sends_each_sent_alert_once_and_resumes_after_the_last_id(
    client: TestClient, platform: Platform
) -> None:
    pay(client, platform, "pay-a2", PaymentStatus.CAPTURED, NOW)
    url = f"/accounts/{MINE.account_no}/alerts/live"
    assert events(client.get(url, params={"wait": 0}).text) == []  # not sent on the web feed yet
    deliver_due(platform.store, platform.alert_channels, NOW)
    pay(client, platform, "pay-a3", PaymentStatus.CAPTURED, NOW + timedelta(minutes=1))
    deliver_due(platform.store, platform.alert_channels, NOW + timedelta(minutes=1))

    r = client.get(url, params={"wait": 0})
    first, second = events(r.text)
    resumed = events(client.get(url, params={"wait": 0}, headers={"Last-Event-ID": first["id"]}).text)

    assert r.headers["content-type"].startswith("text/event-stream")
    assert [e["event"] for e in (first, second)] == ["alert", "alert"]
    assert int(first["id"]) < int(second["id"])
    assert json.loads(second["data"])["facts"]["payment_id"] == "pay-a3"
    assert [e["id"] for e in resumed] == [second["id"]]
