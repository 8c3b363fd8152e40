"""`bijli keys rotate` against a running fleet: every meter moves to the new key version
through its key-change command, and the head-end takes what they send under either version;
`bijli keys retire` then drops the old one.

Production profile: `bijli serve` (head-end and command dispatcher) on Mosquitto and
PostgreSQL; the meters are twins in this process, each on its own MQTT connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bijli.access.model import Role
from bijli.adapters import keyfile
from bijli.fleet.city import build_city
from bijli.headend.key_change import key_counts
from tests.conftest import run_bijli, wait_until
from tests.support.access import bearer
from tests.support.live_fleet import LiveFleet, live_platform, site_twin

CITY = build_city(12)


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_keys_rotate_moves_a_running_fleet_and_retire_drops_the_old_version(
    pg_url: str, mosquitto: str, topic_root: str, data_dir: Path, bijli_server: Callable[[list[str]], str]
) -> None:
    platform = live_platform(data_dir, CITY, pg_url, mosquitto, topic_root, new_site=False)
    store = ["--database-url", pg_url, "--data-dir", str(data_dir)]
    base = bijli_server(["--broker-url", mosquitto, "--topic-root", topic_root, *store])
    api = httpx.Client(base_url=f"{base}/api/v1", timeout=10, headers=bearer(platform, Role.OPERATOR))
    now = time.time()
    twin = site_twin(platform, CITY, topic_root, now)
    fleet = LiveFleet(twin, mosquitto, topic_root)
    meter_ids = [c.meter_id for c in CITY]

    def quarantined() -> list[str]:
        with platform.store.engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT reason FROM quarantine")).scalars())

    def everyone_reads(why: str) -> None:
        asked = [api.post(f"/meters/{m}/commands", json={"action": "read_now", "reason": why}) for m in meter_ids]
        ids = [a.json()["command_id"] for a in asked]
        wait_until(
            lambda: all(api.get(f"/commands/{c}").json()["status"] == "acknowledged" for c in ids),
            60,
            f"every meter's answer ({why})",
        )

    try:
        fleet.do(lambda tw: tw.broker(True, time.time()))
        wait_until(lambda: all(api.get(f"/meters/{m}").json()["online"] for m in meter_ids), 30, "the fleet online")
        everyone_reads("before")  # answers sealed with version 1

        out = run_bijli(["keys", "rotate", "--by", "asha.ops", "--reason", "yearly rotation", *store])
        assert f"key version 2 made in {data_dir / 'site.keys'}" in " ".join(out.split())
        assert f"key changes queued for {len(CITY)} meters" in out

        wait_until(lambda: key_counts(platform.store, 2) == {2: (len(CITY), 0)}, 60, "every meter moved to version 2")
        rotated = keyfile.load(data_dir)
        assert fleet.do(lambda tw: [int(v) for v in tw.keys.version]) == [2] * len(CITY)
        assert fleet.do(lambda tw: tw.mqtt_password(meter_ids[0])) == rotated.mqtt_password(meter_ids[0], 2)
        status = json.loads(run_bijli(["keys", "status", "--json", *store]))
        assert status == {
            "current": 2,
            "retired": [],
            "versions": {"1": {"meters": 0, "moving_to": 0}, "2": {"meters": len(CITY), "moving_to": 0}},
        }

        everyone_reads("after")  # commands and answers sealed with version 2
        assert quarantined() == []

        out = run_bijli(["keys", "retire", "1", *store])
        assert "key version 1 retired" in out
        everyone_reads("after retiring")
        assert quarantined() == []
        table = run_bijli(["keys", "status", *store])
        assert "key version 2 is current; no key change under way" in table and "retired" in table
    finally:
        fleet.close()
        api.close()
        platform.store.dispose()
