"""The site `bijli` commands run on in the end-to-end tests of the operator's commands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.cli import store_options
from tests.support.sites import commissioned_platform


@pytest.fixture
def platform(database_url: str | None, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """A store of either kind in the data folder, four meters commissioned a month ago."""
    monkeypatch.delenv("BIJLI_DATABASE_URL", raising=False)
    p = commissioned_platform(
        data_dir, build_city(4), datetime.now(UTC) - timedelta(days=30), database_url=database_url, broker_url="none"
    )
    yield p
    p.store.dispose()


@pytest.fixture
def store(platform: Platform, database_url: str | None, data_dir: Path) -> list[str]:
    """The options that point a command at the platform's store (the module's own `platform`
    where it has one)."""
    return store_options(data_dir, database_url)
