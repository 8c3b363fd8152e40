"""Sealing and opening frames.

On the wire a frame is its compact UTF-8 JSON text, one line feed (0x0A), and an
authentication tag: the key version of the frame key that made it, a colon, and HMAC-SHA256
over the JSON bytes with that frame key, truncated to 16 bytes and written as 32 lowercase
hex digits (``2:0315ddf1…``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from bijli.protocol.frames import PROTOCOL_VERSION, CommandFrame, UplinkFrame

TAG_BYTES: Final = 16
TAG_HEX: Final = TAG_BYTES * 2
_VERSIONED_TAG = re.compile(rb"([1-9][0-9]{0,3}):([0-9a-fA-F]{%d})" % TAG_HEX)
"""``<key version>:<tag>``: a version 1 to 9999 without leading zeros, then 32 hex digits
(lower case; upper case is read, and refused as forged by the comparison)."""

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(UplinkFrame)
_command_decoder = msgspec.json.Decoder(CommandFrame)


class _Version(msgspec.Struct):
    v: int


_version_decoder = msgspec.json.Decoder(_Version)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a frame was not accepted: a short code and a sentence for the operator."""

    code: str
    detail: str


def tag(key: bytes, body: bytes) -> bytes:
    """The authentication tag of a frame body, as hex ASCII."""
    return hmac.digest(key, body, "sha256")[:TAG_BYTES].hex().encode("ascii")


def seal(key: bytes, frame: UplinkFrame | CommandFrame, version: int = 1) -> bytes:
    """A frame ready to publish: JSON, line feed, the key version of `key`, a colon, the tag."""
    body = _encoder.encode(frame)
    return body + b"\n" + b"%d:" % version + tag(key, body)


class FrameKey:
    """A meter's frame key with HMAC-SHA256's inner and outer hash states prepared once
    (RFC 2104): a tag then costs a third of `tag`'s. About 550 bytes a key, so the head-end
    keeps a bounded number of them (`KeyRing`)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def tag(self, body: bytes) -> bytes:
        """The same as `tag(key, body)`."""
        inner = self._inner.copy()
        inner.update(body)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:TAG_BYTES].hex().encode("ascii")


class Sealer:
    """Seals one meter's frames fast (the fleet's hot path), with a `FrameKey` of `version`."""

    __slots__ = ("_key", "_prefix")

    def __init__(self, key: bytes, version: int = 1) -> None:
        self._key = FrameKey(key)
        self._prefix = b"\n%d:" % version

    def seal(self, frame: UplinkFrame | CommandFrame) -> bytes:
        body = _encoder.encode(frame)
        return body + self._prefix + self._key.tag(body)


Key = bytes | FrameKey
KeyOfVersion = Callable[[int], Key | None]
"""The meter's frame key of a key version, or None when that version is not held."""


def key_version(payload: bytes) -> int | None:
    """The key version a payload's tag names (None: no well-formed tag)."""
    found = _VERSIONED_TAG.fullmatch(payload.rpartition(b"\n")[2])
    return int(found.group(1)) if found else None


def open_frame(key: Key | KeyOfVersion, meter_id: str, payload: bytes) -> UplinkFrame | Refusal:
    """Check a payload's tag with the meter's key of the version it names, decode it, and
    check it speaks for `meter_id` (head-end side). A plain key is taken for whatever version
    the tag names; with a lookup, a version it does not hold is refused as ``unknown-key``."""
    opened: UplinkFrame | Refusal = _open(key, meter_id, payload, _decoder)
    return opened


def open_command(key: Key | KeyOfVersion, meter_id: str, payload: bytes) -> CommandFrame | Refusal:
    """The same checks for a command arriving at a meter."""
    opened: CommandFrame | Refusal = _open(key, meter_id, payload, _command_decoder)
    return opened


def _open(key: Key | KeyOfVersion, meter_id: str, payload: bytes, decoder: msgspec.json.Decoder[Any]) -> Any:
    body, sep, got = payload.rpartition(b"\n")
    found = _VERSIONED_TAG.fullmatch(got) if sep else None
    if found is None:
        return Refusal("malformed", "no authentication tag (key version, colon, 32 hex digits) after the frame")
    version = int(found.group(1))
    chosen = key if isinstance(key, bytes | FrameKey) else key(version)
    if chosen is None:
        return Refusal("unknown-key", f"key version {version} is not one the site holds (unknown or retired)")
    expected = chosen.tag(body) if isinstance(chosen, FrameKey) else tag(chosen, body)
    if not hmac.compare_digest(expected, found.group(2)):
        return Refusal("forged", "authentication tag does not match the meter's key")
    try:
        frame = decoder.decode(body)
    except msgspec.DecodeError as e:
        try:  # a frame of another protocol version is refused as that, not as malformed
            version = _version_decoder.decode(body).v
        except msgspec.DecodeError:
            version = PROTOCOL_VERSION
        if version != PROTOCOL_VERSION:
            return Refusal("unsupported", f"protocol version {version} is not supported")
        return Refusal("malformed", f"frame does not decode: {e}")
    if frame.v != PROTOCOL_VERSION:
        return Refusal("unsupported", f"protocol version {frame.v} is not supported")
    if frame.m != meter_id:
        return Refusal("misdirected", f"frame names meter {frame.m!r} on meter {meter_id!r}'s topic")
    return frame
