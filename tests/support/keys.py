"""Site keys for tests: fixed, strong, and different per test module when asked."""

from __future__ import annotations

import hashlib
import json

from bijli.adapters import keyfile
from bijli.protocol.keys import MasterSecrets, SiteKeys


def _secret(seed: str, what: str) -> bytes:
    return hashlib.sha256(f"bijli test site {seed}/{what}".encode()).digest()


def masters(seed: str, version: int = 1) -> MasterSecrets:
    """A key version's master secrets, the same in every run."""
    return MasterSecrets(
        frame=_secret(seed, f"frame/{version}"),
        mqtt=_secret(seed, f"mqtt/{version}"),
        token=_secret(seed, f"token/{version}"),
    )


def site_for(seed: str = "main", versions: int = 1) -> SiteKeys:
    """A site with key versions 1..`versions` (the last current), the same in every run."""
    return SiteKeys(
        identity=_secret(seed, "identity"),
        versions={v: masters(seed, v) for v in range(1, versions + 1)},
        current=versions,
    )


def as_env(site: SiteKeys) -> str:
    """The site's key file as ``BIJLI_SITE_KEYS`` carries it."""
    return json.dumps(keyfile.to_json(site))


SITE = site_for()
