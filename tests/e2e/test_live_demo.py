"""`bijli demo` (the README's first command) on the embedded profile: meters speak MQTT with
their own credentials to the in-process broker, and their last day shows up in the API."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.conftest import BIJLI, api_token, free_port, run_bijli, wait_until

METERS = 10


def test_live_demo_catches_up_on_the_last_day_and_serves_it(data_dir: Path) -> None:
    port, mqtt_port, hotspot_port = free_port(), free_port(), free_port()
    auth = api_token(["--data-dir", str(data_dir)])
    proc = subprocess.Popen(
        [
            *BIJLI,
            "demo",
            "--meters",
            str(METERS),
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--hotspot-port",
            str(hotspot_port),
            "--mqtt-port",
            str(mqtt_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(days=2)).isoformat(), "end": (now + timedelta(hours=1)).isoformat()}

    def day_in(meter_id: str) -> bool:
        assert proc.poll() is None, "bijli demo exited early"
        try:
            got = httpx.get(f"{base}/api/v1/meters/{meter_id}/readings", params=window, timeout=5, headers=auth)
        except httpx.HTTPError:
            return False
        return got.status_code == 200 and len(got.json()["items"]) >= 96

    try:
        wait_until(lambda: day_in("KNCL0000001") and day_in("KNMR0000005"), 180, "a day of readings")
        meters = httpx.get(f"{base}/api/v1/meters", headers=auth).json()
        assert meters["total"] == METERS
        assert all(m["online"] for m in meters["items"])
        assert httpx.get(f"{base}/operations", headers=auth).status_code == 200
        assert httpx.get(f"{base}/consumer/KNCL0000001", headers=auth).status_code == 200
        assert httpx.get(f"{base}/operations").headers["location"].startswith("/login")

        # A consumer buys a token online and types it at the meter's hotspot.
        bought = json.loads(run_bijli(["token", "issue", "KNCL0000002", "300", "--data-dir", str(data_dir), "--json"]))
        twin = ["--twin-url", f"http://127.0.0.1:{hotspot_port}"]
        run_bijli(["meter", "press-hotspot", "KNCL0000002", *twin])
        answer = run_bijli(["meter", "redeem", "KNCL0000002", bought["token"], *twin])
        assert "accepted" in answer.lower()
        wait_until(lambda: _redeemed(data_dir, "KNCL0000002") == [bought["token_id"]], 60, "the redemption reported")
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "operations" in output
    assert "log in at" in output and "demo-operator" in output and "password" in output


def _redeemed(data_dir: Path, meter_id: str) -> list[int]:
    with sqlite3.connect(data_dir / "bijli.db") as db:
        return [row[0] for row in db.execute("SELECT token_id FROM token_redemptions WHERE meter_id = ?", (meter_id,))]
