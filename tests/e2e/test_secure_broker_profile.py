"""The production profile on bijli's own Mosquitto configuration: `bijli serve` signs in as
its worker user with the password from a file and checks the broker's certificate against
the CA; `bijli simulate`'s meters do the same with their own credentials; every reading
arrives."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.adapters.db.engine import normalise_url
from bijli.fleet.city import build_city
from tests.conftest import run_bijli, wait_until
from tests.support.keys import SITE, as_env
from tests.support.secure_broker import SecureBroker, secure_broker

SECRET = SITE
METERS = 5
HEADEND_PASSWORD = secrets.token_hex(16)


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecureBroker]:
    monkeypatch.setenv("BIJLI_SITE_KEYS", as_env(SECRET))
    for name in ("BIJLI_BROKER_USERNAME", "BIJLI_BROKER_PASSWORD", "BIJLI_BROKER_CA"):
        monkeypatch.delenv(name, raising=False)
    meters = {c.meter_id: SECRET.mqtt_password(c.meter_id) for c in build_city(METERS)}
    with secure_broker(tmp_path / "mosquitto", {"headend-1": HEADEND_PASSWORD} | meters) as running:
        yield running


def _readings(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM readings")).scalar_one())


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_serve_and_simulate_over_tls_with_credentials_from_a_file(
    broker: SecureBroker, pg_url: str, data_dir: Path, tmp_path: Path, bijli_server: Callable[[list[str]], str]
) -> None:
    password_file = tmp_path / "headend-1.password"
    password_file.write_text(HEADEND_PASSWORD + "\n")
    password_file.chmod(0o600)
    tls = ["--broker-url", broker.url, "--broker-ca", str(broker.ca_file)]
    store = ["--database-url", pg_url, "--data-dir", str(data_dir)]
    run_bijli(["db", "upgrade", *store])
    bijli_server([*tls, "--broker-username", "headend-1", "--broker-password-file", str(password_file), *store])
    out = run_bijli(["simulate", *tls, "--meters", str(METERS), "--days", "0.25", *store])
    sim = json.loads(out.strip().splitlines()[-1])
    assert sim["intervals"] == 24

    engine = sa.create_engine(normalise_url(pg_url))
    try:
        wait_until(lambda: _readings(engine) >= METERS * 24, 60, "every reading stored")
        assert _readings(engine) == METERS * 24
    finally:
        engine.dispose()
    # The worker's persistent session (clean start 0) is held under its user name, not the id it sent.
    assert re.search(r"connected from \S+ as headend-1 \(p5, c0, .*u'headend-1'\)", broker.log())
