"""The production profile end to end: a fleet publishes to Mosquitto, `bijli serve` ingests
into PostgreSQL, and forged, replayed and unknown frames are quarantined with their reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from bijli.adapters import keyfile
from bijli.adapters.db.engine import normalise_url
from tests.conftest import MQTT_HOST, MQTT_PORT, api_token, run_bijli, wait_until
from tests.e2e.money import check_accounts
from tests.support.frames import reading
from tests.support.keys import site_for

METERS = 30


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def _publish(frames: list[tuple[str, bytes]]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    for topic, payload in frames:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_fleet_through_mosquitto_into_postgres_loses_nothing_and_refuses_bad_frames(
    pg_url: str, mosquitto: str, topic_root: str, data_dir: Path, bijli_server: Callable[[list[str]], str]
) -> None:
    out = run_bijli(["db", "upgrade", "--database-url", pg_url, "--data-dir", str(data_dir)])
    base = bijli_server(
        ["--database-url", pg_url, "--broker-url", mosquitto, "--topic-root", topic_root, "--data-dir", str(data_dir)]
    )
    out = run_bijli(
        [
            "simulate",
            "--broker-url",
            mosquitto,
            "--meters",
            str(METERS),
            "--days",
            "1",
            "--database-url",
            pg_url,
            "--topic-root",
            topic_root,
            "--data-dir",
            str(data_dir),
        ]
    )
    sim = json.loads(out.strip().splitlines()[-1])
    assert sim["intervals"] == 96

    engine = sa.create_engine(normalise_url(pg_url))
    wait_until(lambda: _count(engine, "SELECT count(*) FROM readings") >= METERS * 96, 120, "every reading stored")
    assert _count(engine, "SELECT count(*) FROM readings") == METERS * 96
    assert _count(engine, "SELECT count(*) FROM quarantine") == 0
    wait_until(lambda: _count(engine, "SELECT count(*) FROM settlement_queue") == 0, 60, "everything settled")
    assert check_accounts(engine) == METERS
    ledger_before = _count(engine, "SELECT count(*) FROM ledger")

    secret = keyfile.load(data_dir)
    earlier = datetime.fromisoformat(sim["first_interval"]) - timedelta(minutes=15)
    meter = "KNCL0000001"
    _publish(
        [
            reading(secret, meter, fc=5, start=earlier, root=topic_root),  # counter long since used
            reading(site_for("another"), meter, fc=2**52, start=earlier, root=topic_root),  # wrong key
            reading(secret, "KNZZ0000001", fc=1, start=earlier, root=topic_root),  # never commissioned
        ]
    )
    wait_until(lambda: _count(engine, "SELECT count(*) FROM quarantine") >= 3, 60, "three refusals")
    with engine.connect() as conn:
        reasons = sorted(r for (r,) in conn.execute(sa.text("SELECT reason FROM quarantine")))
    assert reasons == ["forged", "replayed", "unknown-meter"]
    assert _count(engine, "SELECT count(*) FROM readings") == METERS * 96
    assert _count(engine, "SELECT count(*) FROM ledger") == ledger_before
    assert check_accounts(engine) == METERS

    first = datetime.fromisoformat(sim["first_interval"])
    items = httpx.get(
        f"{base}/api/v1/meters/{meter}/readings",
        params={"start": first.isoformat(), "end": (first + timedelta(days=1)).isoformat()},
        headers=api_token(["--database-url", pg_url, "--data-dir", str(data_dir)], role="auditor"),
    ).json()["items"]
    assert len(items) == 96
    engine.dispose()
