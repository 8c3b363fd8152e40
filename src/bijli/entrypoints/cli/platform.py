"""The platform a command works on: built from its settings, disposed of when it is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bijli.bootstrap import Platform, bootstrap
from bijli.settings import Settings


@contextmanager
def opened(settings: Settings, migrate: bool = True) -> Iterator[Platform]:
    """The platform wired on `settings` (schema brought up to date unless `migrate` is False),
    disposed of when the block ends, however it ends."""
    platform = bootstrap(settings, migrate=migrate)
    try:
        yield platform
    finally:
        platform.close()
