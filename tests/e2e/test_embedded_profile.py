"""The README's promise on the embedded profile: a headless demo stores every reading once,
balances to the paisa, and `bijli serve` then shows it through the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.conftest import api_token, run_bijli
from tests.e2e.money import check_accounts

METERS, DAYS = 200, 2


def test_headless_demo_stores_every_reading_once_and_balances_to_the_paisa(
    data_dir: Path, bijli_server: Callable[[list[str]], str]
) -> None:
    out = run_bijli(
        [
            "demo",
            "--headless",
            "--meters",
            str(METERS),
            "--days",
            str(DAYS),
            "--data-dir",
            str(data_dir),
            "--start",
            "2026-11-01",
        ]
    )
    summary = json.loads(out.strip().splitlines()[-1])

    assert summary["meters"] == METERS
    assert summary["intervals_expected"] == METERS * DAYS * 96 == 38_400
    assert summary["readings_stored"] == 38_400
    assert summary["readings_rejected"] == 0
    start, recharges = Decimal(summary["balance_total_start"]), Decimal(summary["recharges_total"])
    charges, end = Decimal(summary["charges_total"]), Decimal(summary["balance_total_end"])
    assert charges > 0 and recharges > 0
    assert start + recharges - charges == end

    engine = sa.create_engine(f"sqlite:///{data_dir / 'bijli.db'}")
    assert check_accounts(engine) == METERS
    engine.dispose()

    base = bijli_server(["--data-dir", str(data_dir)])
    auth = api_token(["--data-dir", str(data_dir)])
    assert httpx.get(f"{base}/api/v1/meters").status_code == 401  # nobody reads the fleet anonymously
    listing = httpx.get(f"{base}/api/v1/meters", params={"limit": 1000}, headers=auth).json()
    assert listing["total"] == METERS
    meter_ids = [m["meter_id"] for m in listing["items"]]
    assert len(meter_ids) == METERS
    balances = Decimal(0)
    with httpx.Client(base_url=base, timeout=10, headers=auth) as client:
        for meter_id in meter_ids:
            readings = client.get(
                f"/api/v1/meters/{meter_id}/readings",
                params={"start": "2026-11-01T00:00:00+05:30", "end": "2026-11-03T00:00:00+05:30"},
            ).json()
            assert len(readings["items"]) == 192, meter_id
            balances += Decimal(client.get(f"/api/v1/meters/{meter_id}/balance").json()["balance"])
    assert balances == end


def test_running_the_same_demo_twice_counts_nothing_twice(data_dir: Path) -> None:
    args = ["demo", "--headless", "--meters", "20", "--days", "1", "--data-dir", str(data_dir), "--start", "2026-11-10"]
    first = json.loads(run_bijli(args).strip().splitlines()[-1])
    again = json.loads(run_bijli(args).strip().splitlines()[-1])

    assert again["readings_stored"] == first["readings_stored"] == 20 * 96
    assert again["charges_total"] == first["charges_total"]
    assert again["balance_total_end"] == first["balance_total_end"]
