"""Alert delivery as the commands run it: `bijli serve`'s loop sends a payment's alert (SMS to
the file provider, the web feed), and `bijli alerts deliver --once` prints its round."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bijli.fleet.city import build_city
from tests.conftest import api_token, run_bijli, wait_until
from tests.support.sites import commissioned_platform

CITY = build_city(2)


def sms_lines(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / "alerts" / "sms.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_bijli_serve_delivers_a_payments_alert(data_dir: Path, bijli_server: Callable[[list[str]], str]) -> None:
    platform = commissioned_platform(data_dir, CITY, datetime.now(UTC) - timedelta(days=1), new_site=False)
    platform.store.dispose()
    account = CITY[0].account_no
    base = bijli_server(["--data-dir", str(data_dir)])

    run_bijli(["pay", account, "250", "--url", base, "--data-dir", str(data_dir)])
    wait_until(lambda: len(sms_lines(data_dir)) == 1, 30, "the payment's SMS")

    (sms,) = sms_lines(data_dir)
    assert sms["to"] == CITY[0].mobile and "₹250.00" in sms["text"]
    headers = api_token(["--data-dir", str(data_dir)], role="operator")
    wait_until(
        lambda: (
            {
                d["channel"]: d["state"]
                for d in httpx.get(f"{base}/api/v1/accounts/{account}/alerts", headers=headers).json()["items"][0][
                    "deliveries"
                ]
            }
            == {"sms": "sent", "email": "skipped", "web": "sent"}
        ),
        30,
        "the SMS and the web feed recorded as sent",
    )


def test_bijli_alerts_deliver_once_prints_its_round(data_dir: Path) -> None:
    platform = commissioned_platform(data_dir, CITY, datetime.now(UTC) - timedelta(days=1), new_site=False)
    platform.store.dispose()
    run_bijli(["pay", CITY[1].account_no, "100", "--data-dir", str(data_dir)])

    first = json.loads(run_bijli(["alerts", "deliver", "--once", "--data-dir", str(data_dir)]).strip())
    again = json.loads(run_bijli(["alerts", "deliver", "--once", "--data-dir", str(data_dir)]).strip())

    assert first == {"claimed": 2, "sent": 2, "retried": 0, "failed": 0}  # the SMS and the web feed
    assert again == {"claimed": 0, "sent": 0, "retried": 0, "failed": 0}
    assert [line["to"] for line in sms_lines(data_dir)] == [CITY[1].mobile]


def test_alert_providers_that_cannot_work_are_refused_before_anything_runs(data_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    def refused(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bijli", "alerts", "deliver", "--once", "--data-dir", str(data_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        return " ".join(done.stderr.split())

    assert "needs its URL, its API key" in refused("--alert-sms", "gateway")
    assert "no password in the SMTP URL" in refused("--smtp-url", "smtp://user:secret@relay.example:25")
    assert "unknown SMS provider" in refused("--alert-sms", "carrier-pigeon")
    empty = tmp_path / "empty.key"
    empty.write_text("")
    assert "is empty" in refused("--sms-gateway-key-file", str(empty))


def test_bench_alerts_small_run_sends_every_alert_once(empty_pg_url: str) -> None:
    out = run_bijli(["bench", "alerts", "--accounts", "120", "--batch", "50", "--database-url", empty_pg_url])
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["alerts"] == figures["sms_written"] == 120
    assert (figures["sent"], figures["not_sent"], figures["sms_written_twice"]) == (240, 0, 0)
    assert figures["deliveries_per_s"] > 0 and figures["alerts_raised_per_s"] > 0
