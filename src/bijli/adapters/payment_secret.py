"""The payment webhook's secret, ``payments.secret`` in the data folder: the key the gateway
signs each webhook body with (HMAC-SHA256), shared with it once.

Made with the site (like ``site.keys``: mode 0600, in one step, never replaced); a site made
before payments existed gets one the first time its folder is opened. A deployment whose
gateway issued the secret gives it in ``BIJLI_PAYMENT_SECRET`` instead (it wins over the file).
Never on a command line, never in a log.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Final

FILE_NAME: Final = "payments.secret"
ENV: Final = "BIJLI_PAYMENT_SECRET"
MIN_LENGTH: Final = 16
"""The shortest secret taken: a gateway's secrets are longer; a short one is a mistake."""


class PaymentSecretError(RuntimeError):
    """The secret is there but cannot be used: open to others, unreadable or too short."""


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def load(data_dir: Path) -> bytes | None:
    """The secret from ``BIJLI_PAYMENT_SECRET``, else from the data folder's file; None if neither."""
    given = os.environ.get(ENV, "").strip()
    if given:
        return _checked(given, f"${ENV}")
    path = path_in(data_dir)
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PaymentSecretError(f"{path} is open to others (mode {mode:04o}): chmod 600 {path}")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise PaymentSecretError(f"cannot read {path}: {e.strerror}") from e
    return _checked(text, str(path))


def ensure(data_dir: Path) -> bytes:
    """The secret (``BIJLI_PAYMENT_SECRET`` still wins), making the data folder's file first
    (mode 0600, in one step) if it has none."""
    path = path_in(data_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made already (perhaps by another process a moment ago): read it
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
    found = load(data_dir)
    assert found is not None
    return found


def _checked(text: str, source: str) -> bytes:
    if len(text) < MIN_LENGTH:
        raise PaymentSecretError(f"{source}: a payment webhook secret needs at least {MIN_LENGTH} characters")
    return text.encode("utf-8")
