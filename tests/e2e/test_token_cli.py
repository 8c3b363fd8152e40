"""`bijli token issue`: the digits it prints open the meter's credit with the data folder's key;
a data folder without keys is an error that creates nothing."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bijli.adapters import keyfile
from bijli.entrypoints.cli.token import app as token_app
from bijli.protocol.tokens import TokenStatus, UsedTokens, redeem
from tests.conftest import BIJLI
from tests.support.keys import as_env, site_for

METER = "KNCL0000001"


def key_in(data_dir: Path, meter_id: str = METER) -> bytes:
    """The meter's token key, derived from the data folder's site keys."""
    return keyfile.load(data_dir).token_key(meter_id)


@pytest.fixture(autouse=True)
def keys_from_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The data folder's key file, not a developer's environment, holds the keys here."""
    monkeypatch.delenv("BIJLI_SITE_SECRET", raising=False)
    monkeypatch.delenv("BIJLI_SITE_KEYS", raising=False)


def test_issued_token_redeems_with_the_key_of_the_data_folder(data_dir: Path) -> None:
    env = dict(os.environ)
    done = subprocess.run(
        [*BIJLI, "token", "issue", METER, "500", "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr

    issued = json.loads(done.stdout.strip().splitlines()[-1])
    assert issued["meter_id"] == METER and issued["amount"] == "500.00"
    issued_at = datetime.fromisoformat(issued["issued_at"])
    assert abs(datetime.now(UTC) - issued_at) < timedelta(minutes=2)
    result = redeem(key_in(data_dir), issued["token"], datetime.now(UTC), UsedTokens())
    assert result.status == TokenStatus.ACCEPTED
    assert (result.token_id, result.amount_paise) == (issued["token_id"], 50_000)


runner = CliRunner()


def test_json_output_names_the_token_and_its_issue_minute(data_dir: Path) -> None:
    out = runner.invoke(
        token_app,
        ["issue", METER, "500.00", "--data-dir", str(data_dir), "--at", "2026-11-27T15:30:20+05:30", "--json"],
    )

    assert out.exit_code == 0, out.output
    issued = json.loads(out.stdout)
    assert issued == {
        "meter_id": METER,
        "token": issued["token"],
        "token_id": 1_528_440,
        "amount": "500.00",
        "issued_at": "2026-11-27T10:00:00Z",
    }
    now = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)
    assert redeem(key_in(data_dir), issued["token"], now, UsedTokens()).status == TokenStatus.ACCEPTED


def test_default_output_ends_with_the_twenty_digits_alone(data_dir: Path) -> None:
    out = runner.invoke(token_app, ["issue", METER, "250", "--data-dir", str(data_dir), "--at", "2026-11-27T10:00Z"])

    assert out.exit_code == 0, out.output
    *head, last = out.stdout.strip().splitlines()
    assert len(last) == 20 and last.isdigit()
    assert " ".join(last[i : i + 4] for i in range(0, 20, 4)) in head[-1]
    assert (
        redeem(key_in(data_dir), last, datetime(2026, 11, 27, 10, 1, tzinfo=UTC), UsedTokens()).amount_paise == 25_000
    )


def test_site_keys_from_the_environment_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = site_for("token-cli")
    monkeypatch.setenv("BIJLI_SITE_KEYS", as_env(site))
    elsewhere = tmp_path / "no-keys-here"

    out = runner.invoke(
        token_app, ["issue", METER, "500", "--data-dir", str(elsewhere), "--at", "2026-11-27T10:00Z", "--json"]
    )

    assert out.exit_code == 0, out.output
    now = datetime(2026, 11, 27, 10, 1, tzinfo=UTC)
    assert redeem(site.token_key(METER), json.loads(out.stdout)["token"], now, UsedTokens()).amount_paise == 50_000
    assert not elsewhere.exists()


def test_a_mistyped_data_folder_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / ".bijli-dmeo"
    done = subprocess.run(
        [*BIJLI, "token", "issue", METER, "500", "--data-dir", str(typo)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0
    assert done.stdout == ""  # no digits
    message = " ".join(done.stderr.split())
    assert "no data folder" in message and "bijli keys init" in message
    assert not typo.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_old_single_site_secret_is_refused_saying_what_replaces_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIJLI_SITE_SECRET", "ab" * 32)

    out = runner.invoke(token_app, ["issue", METER, "500", "--data-dir", str(data_dir)])

    assert out.exit_code == 2
    message = " ".join(out.output.split())
    assert "BIJLI_SITE_SECRET is no longer read" in message and "site.keys" in message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kncl0000001", "500"], "not a meter id"),
        (["KN", "500"], "not a meter id"),
        ([METER, "500.50"], "whole rupees"),
        ([METER, "five hundred"], "not an amount"),
        ([METER, "0"], "₹1 to ₹65,535"),
        ([METER, "65536"], "₹1 to ₹65,535"),
        ([METER, "500", "--at", "2026-11-27T10:00"], "time zone"),
        ([METER, "500", "--at", "yesterday"], "not an ISO 8601 time"),
        ([METER, "500", "--at", "2023-12-31T23:00Z"], "before 2024-01-01"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(data_dir: Path, args: list[str], message: str) -> None:
    out = runner.invoke(token_app, ["issue", *args, "--data-dir", str(data_dir)])

    assert out.exit_code == 2
    assert message in " ".join(out.output.replace("│", " ").split())
