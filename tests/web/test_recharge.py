"""The Recharge page pays through the development gateway; the webhook over HTTP: signed
calls apply once, unsigned or malformed ones change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bijli import settings
from bijli.access.model import Role
from bijli.adapters.sms.console import ConsoleSms
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.kernel.clock import SimulatedClock
from bijli.payments.model import SIGNATURE_HEADER, PaymentEvent, PaymentStatus, event_body, sign
from bijli.protocol import tokens
from bijli.web.app import create_app
from tests.support.access import ConsoleOutbox, bearer, form_token, log_in_consumer
from tests.web.conftest import TestClient

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
CITY = build_city(2)
MINE = CITY[0]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Platform, ConsoleOutbox]]:
    outbox = ConsoleOutbox()
    platform = bootstrap(
        settings.build(data_dir=tmp_path / "data", broker_url="memory", new_site=True, dev_gateway=True),
        sms=ConsoleSms(outbox),
    )
    commission_city(platform.store, platform.settings.tariff_code, CITY, NOW - timedelta(days=2))
    yield platform, outbox
    platform.store.dispose()


def consumer(platform: Platform, outbox: ConsoleOutbox) -> TestClient:
    client = TestClient(create_app(platform, clock=SimulatedClock(NOW)), base_url="http://localhost")
    log_in_consumer(client, MINE.mobile, outbox)
    return client


def balance(platform: Platform) -> int:
    return platform.queries.balance(MINE.account_no).balance_paise


def test_a_consumer_pays_on_the_recharge_page_and_gets_the_token_for_the_hotspot(
    site: tuple[Platform, ConsoleOutbox],
) -> None:
    platform, outbox = site
    client = consumer(platform, outbox)
    assert "/recharge" in client.get(f"/consumer/{MINE.meter_id}").text
    assert "Recharge" in client.get(f"/consumer/{MINE.meter_id}/recharge").text
    form = client.get(f"/consumer/{MINE.meter_id}/recharge?lang=hi")  # then Hindi, remembered
    assert form.status_code == 200
    assert "रिचार्ज" in form.text and "Recharge" not in form.text
    before = balance(platform)
    paid = client.post(f"/consumer/{MINE.meter_id}/recharge", data={"rupees": "500", "csrf": form_token(form.text)})
    assert paid.status_code == 200, paid.text
    assert balance(platform) == before + 50_000
    assert "₹500.00" in paid.text and "भुगतान हुआ" in paid.text
    shown = re.search(r'data-testid="token">([0-9 ]+)<', paid.text)
    assert shown is not None
    key = platform.settings.site_keys.token_key(MINE.meter_id)
    taken = tokens.redeem(key, shown.group(1), NOW, tokens.UsedTokens())
    assert (taken.status, taken.amount_paise) == (tokens.TokenStatus.ACCEPTED, 50_000)

    stale = client.post(f"/consumer/{MINE.meter_id}/recharge", data={"rupees": "500", "csrf": "0" * 64})
    assert stale.status_code == 403
    assert balance(platform) == before + 50_000
    other = client.post(f"/consumer/{CITY[1].meter_id}/recharge", data={"rupees": "500", "csrf": form_token(form.text)})
    assert other.status_code == 404


def test_staff_who_only_read_the_fleet_cannot_pay_for_a_consumer(site: tuple[Platform, ConsoleOutbox]) -> None:
    platform, _ = site
    client = TestClient(create_app(platform, clock=SimulatedClock(NOW)), base_url="http://localhost")
    client.headers.update(bearer(platform, Role.OPERATOR))
    r = client.post(f"/consumer/{MINE.meter_id}/recharge", data={"rupees": "500"})
    assert r.status_code == 403


def test_the_webhook_applies_a_signed_call_once_and_refuses_what_is_not(
    site: tuple[Platform, ConsoleOutbox],
) -> None:
    platform, _ = site
    client = TestClient(create_app(platform, clock=SimulatedClock(NOW)), base_url="http://localhost")
    secret = platform.settings.payment_secret
    assert secret is not None
    body = event_body(
        PaymentEvent(
            event_id="evt-w1",
            payment_id="pay-w1",
            account_no=MINE.account_no,
            amount_paise=25_000,
            status=PaymentStatus.CAPTURED,
            at=NOW,
        )
    )
    url = "/api/v1/payments/webhook"
    before = balance(platform)
    assert client.post(url, content=body).status_code == 401
    assert client.post(url, content=body, headers={SIGNATURE_HEADER: sign(b"0" * 32, body)}).status_code == 401
    bad = b'{"payment_id": "x"}'
    assert client.post(url, content=bad, headers={SIGNATURE_HEADER: sign(secret, bad)}).status_code == 400
    assert balance(platform) == before
    first = client.post(url, content=body, headers={SIGNATURE_HEADER: sign(secret, body)})
    again = client.post(url, content=body, headers={SIGNATURE_HEADER: sign(secret, body)})
    assert (first.status_code, first.json()["applied"], again.json()["applied"]) == (200, True, False)
    assert first.json()["tokens"] == again.json()["tokens"]
    assert balance(platform) == before + 25_000
