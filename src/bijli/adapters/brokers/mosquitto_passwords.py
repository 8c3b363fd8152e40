"""Mosquitto's password file, written by bijli: one ``user:$7$…`` line per client, each password
hashed as ``mosquitto_passwd`` hashes it (PBKDF2-HMAC-SHA512, 101 rounds, a 12-byte random salt;
Mosquitto 2.0's ``$7$`` form), so no password is ever stored or shown in the clear."""

from __future__ import annotations

import base64
import hashlib
import secrets

ROUNDS = 101
SALT_BYTES = 12


class BadUser(ValueError):
    """A user name Mosquitto's file cannot hold."""


def line(user: str, password: str, salt: bytes | None = None) -> str:
    """The password file's line for `user` (with its newline)."""
    if not user or ":" in user or any(c.isspace() for c in user):
        raise BadUser(f"{user!r} cannot be a broker user name (no colon, no spaces)")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, ROUNDS)
    return f"{user}:$7${ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"


def verify(entry: str, password: str) -> bool:
    """Whether a line of the file takes `password` (as Mosquitto checks it)."""
    _, hashed = entry.rstrip("\n").split(":", 1)
    _, kind, rounds, salt, digest = hashed.split("$")
    if kind != "7":
        return False
    made = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), base64.b64decode(salt), int(rounds))
    return secrets.compare_digest(made, base64.b64decode(digest))
