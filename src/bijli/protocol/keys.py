"""Per-meter keys, derived from one site secret.

Every meter holds its own keys; the head-end derives the same keys from the site secret and
the meter id, so it keeps no key table. Each purpose has its own label, so a key leaked for
one purpose is no use for another.
"""

from __future__ import annotations

import hashlib
import hmac

FRAME_LABEL = b"bijli/v1/frame/"
MQTT_LABEL = b"bijli/v1/mqtt/"
TOKEN_LABEL = b"bijli/v1/token/"


def derive(site_secret: bytes, label: bytes, meter_id: str) -> bytes:
    """HMAC-SHA256(site secret, label || meter id): a 32-byte key for one meter and purpose."""
    return hmac.new(site_secret, label + meter_id.encode("ascii"), hashlib.sha256).digest()


def frame_key(site_secret: bytes, meter_id: str) -> bytes:
    """The key that authenticates a meter's frames and commands."""
    return derive(site_secret, FRAME_LABEL, meter_id)


def mqtt_password(site_secret: bytes, meter_id: str) -> str:
    """The meter's MQTT password (its user name is its meter id)."""
    return derive(site_secret, MQTT_LABEL, meter_id).hex()[:32]
