"""`bijli serve` and `bijli simulate` take no broker password on the command line, refuse a
data folder without site keys (making nothing), and the head-end's MQTT identity cannot be
guessed without the site's identity secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bijli.entrypoints.cli import app
from bijli.entrypoints.serve import headend_client_id, headend_group
from tests.support.keys import site_for


@pytest.mark.parametrize("command", ["serve", "simulate"])
def test_a_password_in_the_broker_url_exits_2_and_says_where_it_goes(command: str, tmp_path: Path) -> None:
    url = "mqtts://headend-1:s3cret-pw@localhost:8883"
    result = CliRunner().invoke(app, [command, "--broker-url", url, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "--broker-password-file" in said
    assert "BIJLI_BROKER_PASSWORD" in said
    assert "s3cret-pw" not in said


@pytest.mark.parametrize("command", ["serve", "simulate"])
def test_a_data_folder_without_keys_exits_2_naming_it_and_nothing_is_made(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BIJLI_SITE_KEYS", raising=False)
    monkeypatch.delenv("BIJLI_DATABASE_URL", raising=False)
    typo = tmp_path / ".bijli-dmeo"
    broker = ["--broker-url", "mqtt://127.0.0.1:1"] if command == "simulate" else []
    result = CliRunner().invoke(app, [command, *broker, "--data-dir", str(typo)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert f"no data folder at {typo}" in said and "bijli keys init" in said
    assert not typo.exists()


def test_serve_says_when_the_password_file_cannot_be_read(tmp_path: Path) -> None:
    args = ["serve", "--broker-url", "mqtts://localhost", "--broker-username", "headend-1"]
    args += ["--broker-password-file", str(tmp_path / "missing"), "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "cannot read the broker password file" in " ".join(result.output.split())


def test_the_headends_client_id_and_group_are_stable_and_follow_the_site_identity_secret() -> None:
    one, other = site_for("one"), site_for("other")
    rotated = site_for("one", versions=2)
    assert headend_client_id(one, "bijli", "1") == headend_client_id(one, "bijli", "1")
    assert headend_client_id(one, "bijli", "1").startswith("bijli-bijli-headend-1-")
    assert headend_client_id(one, "bijli", "1") != headend_client_id(other, "bijli", "1")
    assert headend_client_id(one, "bijli", "1") != headend_client_id(one, "bijli", "2")
    assert headend_group(one, "bijli") == headend_group(one, "bijli") != headend_group(other, "bijli")
    assert headend_group(one, "bijli").startswith("headend-")
    # A key rotation leaves the head-end's identity on the broker as it was.
    assert headend_client_id(rotated, "bijli", "1") == headend_client_id(one, "bijli", "1")
    assert headend_group(rotated, "bijli") == headend_group(one, "bijli")
