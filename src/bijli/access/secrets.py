"""Passwords (argon2), TOTP second factors, one-time codes and bearer tokens: only hashes
are stored; the secret itself is shown once, to its owner."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from functools import cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bijli.access.model import CODE_DIGITS

_hasher = PasswordHasher()
TOKEN_PREFIX = "bijli_"
MIN_PASSWORD = 12
"""Staff passwords are at least this long."""
TOTP_ISSUER = "bijli"


class WeakPassword(ValueError):
    """A password refused before it is ever stored."""


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"a staff password needs at least {MIN_PASSWORD} characters")
    if username.lower() in password.lower() or len(set(password)) < 5:
        raise WeakPassword("the password is too easy to guess: not the user name, and not one character repeated")


def hash_password(password: str) -> str:
    """An argon2id hash of a password (or one-time code), with its own salt and parameters."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash() -> str:
    """Verified against when a user name is unknown, so a wrong name takes as long as a wrong password."""
    return hash_password("no such user: this only keeps the time the same")


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// address an authenticator app reads (shown once, as text or a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The 30-second step `code` belongs to (the current one or its neighbours), or None if wrong."""
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    step = int(at.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def new_code() -> str:
    """A one-time login code: six random digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_token() -> str:
    """A bearer token or session key: 256 random bits, printable."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a token or session key (SHA-256: the token is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(key: str) -> str:
    """The form token that goes with a session key or a pre-login cookie."""
    return hmac.new(key.encode(), b"bijli/csrf", hashlib.sha256).hexdigest()
