"""`bijli keys`: init once, status in IST, rotate (one change at a time), retire (never the
current version or one meters still hold), passwords to a new 0600 file; and `bijli token
issue` with the version the meter holds."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bijli.adapters import keyfile
from bijli.entrypoints.cli import app
from bijli.fleet.city import build_city
from bijli.kernel.time import IST
from bijli.protocol.tokens import TokenStatus, UsedTokens, redeem
from tests.support.sites import commissioned_platform

runner = CliRunner()
CITY = build_city(4)
METER = "KNCL0000001"


@pytest.fixture(autouse=True)
def keys_from_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIJLI_SITE_KEYS", raising=False)
    monkeypatch.delenv("BIJLI_SITE_SECRET", raising=False)


@pytest.fixture
def site_dir(data_dir: Path) -> Path:
    """A data folder with keys and a store of four meters in service."""
    p = commissioned_platform(data_dir, CITY, datetime.now(UTC) - timedelta(days=1), broker_url="none", new_site=False)
    p.close()
    return data_dir


def bijli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_init_makes_keys_once(tmp_path: Path) -> None:
    code, said = bijli("keys", "init", "--data-dir", str(tmp_path / "site"))
    assert code == 0 and "key version 1" in said and "(mode 0600)" in said
    assert stat.S_IMODE((tmp_path / "site" / "site.keys").stat().st_mode) == 0o600
    first = keyfile.load(tmp_path / "site")

    code, said = bijli("keys", "init", "--data-dir", str(tmp_path / "site"))
    assert code != 0 and keyfile.load(tmp_path / "site") == first


def test_status_rotate_and_retire(site_dir: Path) -> None:
    d = ["--data-dir", str(site_dir)]
    code, said = bijli("keys", "status", *d)
    assert code == 0 and "key version 1 is current; no key change under way" in said
    assert datetime.now(IST).strftime("%d %b %Y") in said  # when version 1 was made, in IST

    code, said = bijli("keys", "rotate", "--by", "asha.ops", *d)
    assert code == 0 and "key changes queued for 4 meters in service" in said
    code, said = bijli("keys", "rotate", "--by", "asha.ops", *d)
    assert code == 1 and "a key change is still under way: 4 meters not moved yet" in said
    assert keyfile.load(site_dir).current == 2

    code, said = bijli("keys", "retire", "2", *d)
    assert code == 1 and "key version 2 is current" in said
    code, said = bijli("keys", "retire", "1", *d)
    assert code == 1 and "4 meters still hold key version 1" in said and "--force" in said
    assert 1 in keyfile.load(site_dir).versions
    code, said = bijli("keys", "retire", "7", *d)
    assert code == 1 and "not one the site holds" in said

    status = json.loads(runner.invoke(app, ["keys", "status", "--json", *d]).stdout)
    assert status["versions"] == {"1": {"meters": 4, "moving_to": 0}, "2": {"meters": 0, "moving_to": 4}}

    code, said = bijli("keys", "retire", "1", "--force", *d)
    assert code == 0 and "key version 1 retired" in said and "(4 meters still held it)" in said
    after = keyfile.load(site_dir)
    assert list(after.versions) == [2] and after.retired == frozenset({1})


def test_a_token_is_made_with_the_key_version_the_meter_holds(site_dir: Path) -> None:
    d = ["--data-dir", str(site_dir)]
    bijli("keys", "rotate", "--by", "asha.ops", *d)  # the meters have not answered yet: they hold 1
    site = keyfile.load(site_dir)

    issued = json.loads(runner.invoke(app, ["token", "issue", METER, "500", "--json", *d]).stdout)

    now = datetime.now(UTC)
    assert redeem(site.token_key(METER, 1), issued["token"], now, UsedTokens()).status == TokenStatus.ACCEPTED
    assert redeem(site.token_key(METER, 2), issued["token"], now, UsedTokens()).status == TokenStatus.AUTHENTICATION


def test_passwords_go_to_a_new_file_only_its_owner_reads(site_dir: Path) -> None:
    out = site_dir / "meters.passwd"
    code, said = bijli("keys", "passwords", "--out", str(out), "--data-dir", str(site_dir))

    assert code == 0 and "4 meters' passwords written" in said
    site = keyfile.load(site_dir)
    assert out.read_text().splitlines() == [f"{c}:{site.mqtt_password(c)}" for c in sorted(m.meter_id for m in CITY)]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert site.mqtt_password(METER) not in said
    code, said = bijli("keys", "passwords", "--out", str(out), "--data-dir", str(site_dir))
    assert code == 1 and "exists already" in said
