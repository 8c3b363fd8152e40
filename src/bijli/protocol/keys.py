"""Per-meter keys, derived from a site's master secrets, by key version.

Every meter holds its own keys; the head-end derives the same keys from the master secret of
the meter's key version and the meter id, so it keeps no key table. Frame keys, MQTT
passwords and token keys come from three separate master secrets, each derivation with its own
label: a secret or key leaked for one purpose is no use for another. A site rotates to a new
key version (new master secrets for all three) and moves its meters over with a key-change
command; the versions a site still holds are its `SiteKeys`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

FRAME_LABEL: Final = b"bijli/v1/frame/"
MQTT_LABEL: Final = b"bijli/v1/mqtt/"
TOKEN_LABEL: Final = b"bijli/v1/token/"

SECRET_BYTES: Final = 32
"""The length of a master secret (and of the site's identity secret)."""
MIN_DISTINCT_BYTES: Final = 12
"""A secret with fewer distinct byte values than this is refused as made up, not random
(32 random bytes have about 30; the chance of fewer than 12 is below 10^-12)."""
MAX_VERSION: Final = 9999


class WeakSecret(ValueError):
    """A secret too short or too regular to be random."""


def check_strength(secret: bytes, what: str) -> None:
    """Refuse a secret that cannot have come from a random source: too short, one byte
    repeated, or too few distinct byte values."""
    if len(secret) < SECRET_BYTES:
        raise WeakSecret(f"{what} is {len(secret)} bytes; a secret needs {SECRET_BYTES} random bytes")
    if len(set(secret)) == 1:
        raise WeakSecret(f"{what} is one byte repeated, not a random secret")
    if len(set(secret)) < MIN_DISTINCT_BYTES:
        raise WeakSecret(
            f"{what} has only {len(set(secret))} distinct byte values; "
            f"a random {len(secret)}-byte secret has far more (make it with `bijli keys init`)"
        )


def derive(master: bytes, label: bytes, meter_id: str) -> bytes:
    """HMAC-SHA256(master secret, label || meter id): a 32-byte key for one meter and purpose."""
    return hmac.new(master, label + meter_id.encode("ascii"), hashlib.sha256).digest()


def frame_key(master: bytes, meter_id: str) -> bytes:
    """The key that authenticates a meter's frames and commands (from the frame master secret)."""
    return derive(master, FRAME_LABEL, meter_id)


def mqtt_password(master: bytes, meter_id: str) -> str:
    """The meter's MQTT password (its user name is its meter id), from the MQTT master secret."""
    return derive(master, MQTT_LABEL, meter_id).hex()[:32]


def token_key(master: bytes, meter_id: str) -> bytes:
    """The key that authenticates a meter's recharge tokens (from the token master secret)."""
    return derive(master, TOKEN_LABEL, meter_id)


KEY_CHANGE_LABEL: Final = b"bijli/v1/key-change/"
WORD_BYTES: Final = 8
KEY_CHANGE_PARTS: Final = (("f", 32), ("t", 32), ("p", 16))
"""What a key-change command carries, wrapped: the new frame key (args f1..f4), token key
(t1..t4) and MQTT password (p1..p2, the 32 hex digits as 16 bytes), 8 bytes an integer."""


@dataclass(frozen=True, slots=True)
class MeterKeys:
    """What a meter holds for one key version."""

    version: int
    frame_key: bytes = field(repr=False)
    token_key: bytes = field(repr=False)
    mqtt_password: str = field(repr=False)


def _pad(old_frame_key: bytes, version: int, part: str, size: int) -> bytes:
    label = KEY_CHANGE_LABEL + f"{part}/{version}".encode("ascii")
    return hmac.new(old_frame_key, label, hashlib.sha256).digest()[:size]


def key_change_args(old_frame_key: bytes, new: MeterKeys) -> dict[str, int]:
    """The args of a key-change command to version `new.version`: each new key XOR-ed with
    HMAC-SHA256(old frame key, "bijli/v1/key-change/" || part || "/" || version), as big-endian
    8-byte integers. Only the holder of the old frame key can unwrap them; the command's tag
    (made with the old frame key) keeps them from being changed."""
    values = {"f": new.frame_key, "t": new.token_key, "p": bytes.fromhex(new.mqtt_password)}
    args = {"version": new.version}
    for part, size in KEY_CHANGE_PARTS:
        wrapped = bytes(a ^ b for a, b in zip(values[part], _pad(old_frame_key, new.version, part, size), strict=True))
        for n in range(size // WORD_BYTES):
            args[f"{part}{n + 1}"] = int.from_bytes(wrapped[n * WORD_BYTES : (n + 1) * WORD_BYTES], "big")
    return args


def open_key_change(old_frame_key: bytes, args: Mapping[str, int]) -> MeterKeys | None:
    """The new keys a key-change command carries (None: args missing or out of range)."""
    version = args.get("version")
    if version is None or not 1 <= version <= MAX_VERSION:
        return None
    values: dict[str, bytes] = {}
    for part, size in KEY_CHANGE_PARTS:
        words = [args.get(f"{part}{n + 1}") for n in range(size // WORD_BYTES)]
        if any(w is None or not 0 <= w < 2 ** (8 * WORD_BYTES) for w in words):
            return None
        wrapped = b"".join(w.to_bytes(WORD_BYTES, "big") for w in words if w is not None)
        values[part] = bytes(a ^ b for a, b in zip(wrapped, _pad(old_frame_key, version, part, size), strict=True))
    return MeterKeys(version=version, frame_key=values["f"], token_key=values["t"], mqtt_password=values["p"].hex())


@dataclass(frozen=True, slots=True)
class MasterSecrets:
    """One key version's three master secrets."""

    frame: bytes = field(repr=False)
    mqtt: bytes = field(repr=False)
    token: bytes = field(repr=False)
    made_at: datetime | None = None
    """When the version was made (None: not recorded)."""

    def check(self, version: int) -> None:
        """Refuse weak secrets (`WeakSecret`) and one secret used for two purposes."""
        for name in ("frame", "mqtt", "token"):
            check_strength(getattr(self, name), f"the {name} master secret of key version {version}")
        if len({self.frame, self.mqtt, self.token}) != 3:
            raise WeakSecret(f"key version {version} uses one master secret for two purposes")


class UnknownKeyVersion(LookupError):
    """A key version the site does not hold (never made, or retired)."""


@dataclass(frozen=True, slots=True)
class SiteKeys:
    """What a site holds: its identity secret and the master secrets of each live key version."""

    identity: bytes = field(repr=False)
    """Names the site's head-end on the broker (client ids, shared subscription group) and
    gives the embedded broker's head-end password; never changes with a rotation."""
    versions: Mapping[int, MasterSecrets] = field(repr=False)
    current: int
    """The version new meters are provisioned with and a rotation moves the fleet to."""
    retired: frozenset[int] = frozenset()
    """Versions dropped by `bijli keys retire`; their numbers are never used again."""

    def __post_init__(self) -> None:
        if self.current not in self.versions:
            raise ValueError(f"the current key version {self.current} has no secrets")

    def masters(self, version: int | None = None) -> MasterSecrets:
        """The master secrets of `version` (None: the current one); `UnknownKeyVersion` if it
        is not held."""
        found = self.versions.get(self.current if version is None else version)
        if found is None:
            state = "retired" if version in self.retired else "unknown"
            raise UnknownKeyVersion(f"key version {version} is {state}")
        return found

    def frame_key(self, meter_id: str, version: int | None = None) -> bytes:
        return frame_key(self.masters(version).frame, meter_id)

    def mqtt_password(self, meter_id: str, version: int | None = None) -> str:
        return mqtt_password(self.masters(version).mqtt, meter_id)

    def token_key(self, meter_id: str, version: int | None = None) -> bytes:
        return token_key(self.masters(version).token, meter_id)

    def meter_keys(self, meter_id: str, version: int | None = None) -> MeterKeys:
        """Everything a meter holds for `version` (None: the current one)."""
        v = self.current if version is None else version
        return MeterKeys(
            version=v,
            frame_key=self.frame_key(meter_id, v),
            token_key=self.token_key(meter_id, v),
            mqtt_password=self.mqtt_password(meter_id, v),
        )

    def tag(self, what: str) -> str:
        """16 hex digits naming `what` for this site, not to be guessed without the identity secret."""
        return hmac.new(self.identity, f"bijli/v1/{what}".encode(), hashlib.sha256).hexdigest()[:16]

    def next_version(self) -> int:
        """The number a rotation gives its new version: above every version ever made."""
        return max([*self.versions, *self.retired]) + 1

    def check(self) -> None:
        """Refuse weak or repeated secrets (`WeakSecret`)."""
        check_strength(self.identity, "the site identity secret")
        for version, masters in self.versions.items():
            masters.check(version)
