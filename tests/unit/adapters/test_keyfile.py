"""The site key file: made on purpose only, mode 0600 from its first byte, separate secrets
per purpose and key version, weak or leaked-looking secrets refused with a clear message."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.adapters import keyfile
from bijli.adapters.db import engine as db
from bijli.protocol import keys
from bijli.protocol.keys import MasterSecrets, SiteKeys, WeakSecret, check_strength
from tests.support.keys import SITE, as_env, masters, site_for


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIJLI_SITE_KEYS", raising=False)
    monkeypatch.delenv("BIJLI_SITE_SECRET", raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_key_file_is_mode_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        site = keyfile.create(tmp_path / "site" / "site.keys")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "site" / "site.keys") == 0o600
    assert _mode(tmp_path / "site") == 0o700
    assert keyfile.load(tmp_path / "site") == site


def test_the_three_purposes_have_separate_random_secrets(tmp_path: Path) -> None:
    site = keyfile.create(keyfile.path_in(tmp_path))
    other = keyfile.create(keyfile.path_in(tmp_path / "other"))
    m = site.masters()
    assert site.current == 1 and list(site.versions) == [1]
    assert len({m.frame, m.mqtt, m.token, site.identity, other.masters().frame}) == 5
    assert site.frame_key("KNCL0000001") == keys.frame_key(m.frame, "KNCL0000001")
    assert site.token_key("KNCL0000001") == keys.token_key(m.token, "KNCL0000001")
    assert site.mqtt_password("KNCL0000001") == keys.mqtt_password(m.mqtt, "KNCL0000001")


def test_an_existing_key_file_is_never_replaced(tmp_path: Path) -> None:
    path = keyfile.path_in(tmp_path)
    first = keyfile.create(path)
    with pytest.raises(keyfile.KeyFileError, match="exists already"):
        keyfile.create(path)
    assert keyfile.load(tmp_path) == first


def test_a_folder_without_keys_is_an_error_and_nothing_is_made(tmp_path: Path) -> None:
    typo = tmp_path / ".bijli-dmeo"
    with pytest.raises(keyfile.KeyFileError, match=r"no data folder .* is --data-dir right.*bijli keys init"):
        keyfile.load(typo)
    assert not typo.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(keyfile.KeyFileError, match="no site keys"):
        keyfile.load(tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_folder_with_only_the_old_site_key_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "site.key").write_text("ab" * 32 + "\n")
    with pytest.raises(keyfile.KeyFileError, match=r"old single site secret, no longer read.*bijli keys init"):
        keyfile.load(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.key"]


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    keyfile.create(keyfile.path_in(tmp_path))
    keyfile.path_in(tmp_path).chmod(0o644)
    with pytest.raises(keyfile.KeyFileError, match=r"open to others.*chmod 600"):
        keyfile.load(tmp_path)


def test_the_keys_can_come_from_the_environment_as_json_or_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIJLI_SITE_KEYS", as_env(SITE))
    assert keyfile.load(tmp_path / "anywhere") == SITE
    made = keyfile.create(tmp_path / "secrets" / "bijli.keys")
    monkeypatch.setenv("BIJLI_SITE_KEYS", str(tmp_path / "secrets" / "bijli.keys"))
    assert keyfile.load(tmp_path / "anywhere") == made
    monkeypatch.setenv("BIJLI_SITE_KEYS", str(tmp_path / "missing.keys"))
    with pytest.raises(keyfile.KeyFileError, match=r"BIJLI_SITE_KEYS names .*missing.keys, which does not exist"):
        keyfile.load(tmp_path)


def test_the_old_site_secret_is_refused_saying_what_replaces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIJLI_SITE_SECRET", "00")
    with pytest.raises(keyfile.KeyFileError, match=r"BIJLI_SITE_SECRET is no longer read.*site.keys.*bijli keys init"):
        keyfile.load(tmp_path)
    with pytest.raises(keyfile.KeyFileError, match="BIJLI_SITE_SECRET"):
        keyfile.create(keyfile.path_in(tmp_path))
    assert not tmp_path.joinpath("site.keys").exists()


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (bytes(1), "1 bytes; a secret needs 32"),
        (bytes.fromhex("00" * 16), "16 bytes"),
        (bytes(32), "one byte repeated"),
        (b"\xff" * 64, "one byte repeated"),
        (b"0123456789" * 4, "only 10 distinct byte values"),
        (bytes(range(8)) * 4, "only 8 distinct"),
    ],
)
def test_weak_secrets_are_refused(secret: bytes, why: str) -> None:
    with pytest.raises(WeakSecret, match=why):
        check_strength(secret, "the frame master secret")


def test_a_random_secret_passes() -> None:
    check_strength(os.urandom(32), "a secret")


def test_a_key_file_with_a_weak_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weak = SiteKeys(
        identity=SITE.identity,
        versions={1: MasterSecrets(frame=bytes(32), mqtt=SITE.masters().mqtt, token=SITE.masters().token)},
        current=1,
    )
    monkeypatch.setenv("BIJLI_SITE_KEYS", json.dumps(keyfile.to_json(weak)))
    with pytest.raises(keyfile.KeyFileError, match="frame master secret of key version 1 is one byte repeated"):
        keyfile.load(tmp_path)
    same = SiteKeys(
        identity=SITE.identity,
        versions={1: MasterSecrets(frame=SITE.masters().frame, mqtt=SITE.masters().frame, token=SITE.masters().frame)},
        current=1,
    )
    monkeypatch.setenv("BIJLI_SITE_KEYS", json.dumps(keyfile.to_json(same)))
    with pytest.raises(keyfile.KeyFileError, match="one master secret for two purposes"):
        keyfile.load(tmp_path)


def test_a_malformed_key_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIJLI_SITE_KEYS", '{"format": "something else"}')
    with pytest.raises(keyfile.KeyFileError, match="is not a site key file"):
        keyfile.load(tmp_path)


def test_keys_differ_by_version_and_an_unknown_version_is_named() -> None:
    site = site_for("versions", versions=2)
    assert site.current == 2 and site.masters(1) == masters("versions", 1)
    assert site.frame_key("KNCL0000001", 1) != site.frame_key("KNCL0000001", 2) == site.frame_key("KNCL0000001")
    assert site.mqtt_password("KNCL0000001", 1) != site.mqtt_password("KNCL0000001", 2)
    assert site.token_key("KNCL0000001", 1) != site.token_key("KNCL0000001", 2)
    with pytest.raises(keys.UnknownKeyVersion, match="key version 3 is unknown"):
        site.frame_key("KNCL0000001", 3)
    assert site.next_version() == 3


def test_saving_replaces_the_file_with_a_new_0600_one(tmp_path: Path) -> None:
    path = keyfile.path_in(tmp_path)
    keyfile.create(path)
    rotated = site_for("saved", versions=2)
    keyfile.save(path, rotated)
    assert keyfile.load(tmp_path) == rotated
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["site.keys"]


def test_the_sqlite_store_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        engine = db.create(db.sqlite_url(tmp_path))
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("bijli.db"))
        assert [p.name for p in files][:1] == ["bijli.db"]
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        engine.dispose()
    finally:
        os.umask(old)
