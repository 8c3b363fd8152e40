"""The site key file, ``site.keys``: the site's master secrets by key version, as JSON.

Created only on purpose (`bijli keys init`, `bijli demo`), never because a folder had none: a
mistyped data folder is an error, not a new site. The file is created with mode 0600 in one
step (``O_CREAT | O_EXCL``), so it is never readable by others, not even for a moment; a
rotation writes a new file beside it the same way and renames it over the old one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bijli.protocol.keys import SECRET_BYTES, MasterSecrets, SiteKeys, WeakSecret

FILE_NAME: Final = "site.keys"
FORMAT: Final = "bijli-site-keys/1"
ENV: Final = "BIJLI_SITE_KEYS"
"""A path to the key file, or the file's JSON itself (for deployments that keep it in a
secret store)."""
OLD_ENV: Final = "BIJLI_SITE_SECRET"


class KeyFileError(RuntimeError):
    """The site keys cannot be had: missing, unreadable, malformed, weak, or open to others."""


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def new_masters(now: datetime | None = None) -> MasterSecrets:
    """Three fresh random master secrets, made `now`."""
    return MasterSecrets(
        frame=secrets.token_bytes(SECRET_BYTES),
        mqtt=secrets.token_bytes(SECRET_BYTES),
        token=secrets.token_bytes(SECRET_BYTES),
        made_at=(now or datetime.now(UTC)).replace(microsecond=0),
    )


def new_site() -> SiteKeys:
    """A new site's keys (in memory): a random identity secret and key version 1."""
    return SiteKeys(identity=secrets.token_bytes(SECRET_BYTES), versions={1: new_masters()}, current=1)


def create(path: Path) -> SiteKeys:
    """A new site: fresh secrets, key version 1, written to `path` (mode 0600; its folder is
    made, mode 0700, if need be).

    `KeyFileError` if a key file is there already (it is never replaced).
    """
    _refuse_old_secret()
    site = new_site()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        _write_new(path, site)
    except FileExistsError as e:
        raise KeyFileError(f"{path} exists already; its keys stay as they are") from e
    return site


def load(data_dir: Path) -> SiteKeys:
    """The site's keys: from ``BIJLI_SITE_KEYS`` (a path, or the JSON itself) if set, else
    from the data folder's ``site.keys``. Never creates anything."""
    _refuse_old_secret()
    given = os.environ.get(ENV, "").strip()
    if given.startswith("{"):
        return _parse(given, f"${ENV}")
    path = Path(given).expanduser() if given else path_in(data_dir)
    if not path.exists():
        if given:
            raise KeyFileError(f"{ENV} names {path}, which does not exist")
        where = "no data folder" if not data_dir.exists() else "no site keys"
        if (data_dir / "site.key").exists():
            raise KeyFileError(
                f"no site keys at {data_dir}: its site.key is the old single site secret, no longer read. "
                f"Make site keys with `bijli keys init --data-dir {data_dir}`; meters provisioned from site.key "
                "need their keys again (a factory or field re-provisioning)"
            )
        raise KeyFileError(
            f"{where} at {data_dir} ({FILE_NAME} missing): is --data-dir right? "
            f"A new site makes its keys once with `bijli keys init --data-dir {data_dir}`; "
            f"a deployment can point {ENV} at its key file"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{path} is open to others (mode {mode:04o}); only its owner may read it: chmod 600 {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise KeyFileError(f"cannot read {path}: {e.strerror}") from e
    return _parse(text, str(path))


def save(path: Path, site: SiteKeys) -> None:
    """Replace the key file at `path` with `site` (a new 0600 file renamed over the old)."""
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    _write_new(fresh, site)
    try:
        os.replace(fresh, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            fresh.unlink()


def where(data_dir: Path) -> Path | None:
    """The key file `load` reads (None: its JSON is in ``BIJLI_SITE_KEYS`` and cannot be changed)."""
    given = os.environ.get(ENV, "").strip()
    if given.startswith("{"):
        return None
    return Path(given).expanduser() if given else path_in(data_dir)


def to_json(site: SiteKeys) -> dict[str, Any]:
    """The file's content."""
    return {
        "format": FORMAT,
        "identity": site.identity.hex(),
        "current": site.current,
        "retired": sorted(site.retired),
        "versions": {
            str(v): {"frame": m.frame.hex(), "mqtt": m.mqtt.hex(), "token": m.token.hex(), "made_at": _iso(m.made_at)}
            for v, m in sorted(site.versions.items())
        },
    }


def _write_new(path: Path, site: SiteKeys) -> None:
    body = (json.dumps(to_json(site), indent=2) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())


def _parse(text: str, source: str) -> SiteKeys:
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        versions = {int(v): _masters(m) for v, m in _mapping(raw["versions"]).items()}
        site = SiteKeys(
            identity=bytes.fromhex(raw["identity"]),
            versions=versions,
            current=int(raw["current"]),
            retired=frozenset(int(v) for v in raw.get("retired", [])),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise KeyFileError(f"{source} is not a site key file: {e}") from e
    try:
        site.check()
    except WeakSecret as e:
        raise KeyFileError(f"{source}: {e}") from e
    return site


def _mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("versions must be an object")
    return value


def _masters(raw: Mapping[str, Any]) -> MasterSecrets:
    made = raw.get("made_at")
    return MasterSecrets(
        frame=bytes.fromhex(raw["frame"]),
        mqtt=bytes.fromhex(raw["mqtt"]),
        token=bytes.fromhex(raw["token"]),
        made_at=datetime.fromisoformat(made) if made else None,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _refuse_old_secret() -> None:
    if os.environ.get(OLD_ENV):
        raise KeyFileError(
            f"{OLD_ENV} is no longer read: one secret for every key is replaced by the site key file "
            f"({FILE_NAME}: separate frame, MQTT and token secrets, by key version). "
            f"Unset it; make the keys with `bijli keys init`, or give the file in {ENV}"
        )
