"""A real SQLite store filled by the real headless demo, shared by the web tests."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bijli import settings
from bijli.access.model import Role
from bijli.adapters.sms.console import ConsoleSms
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints import demo
from bijli.kernel.clock import SimulatedClock
from bijli.web.app import create_app
from tests.support.access import ConsoleOutbox, bearer

with warnings.catch_warnings():
    # Starlette asks for `httpx2` and warns when it finds only `httpx`; which one the dev
    # dependencies name is not these tests' choice, so the warning is not an error here.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

DEMO_DAY = date(2026, 11, 2)
DEMO_METERS = 4
LAST_SEEN = datetime(2026, 11, 2, 18, 30, 20, tzinfo=UTC)
"""The demo's meters last report 20 s after the day's last interval ends (00:00 IST, 3 Nov)."""

MakeClient = Callable[..., TestClient]
SMS = ConsoleOutbox()
"""What the console SMS provider printed: consumers' login codes."""


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, dict[str, object]]]:
    """A platform over a store the headless demo filled with one IST day of four meters, and its summary."""
    data_dir = tmp_path_factory.mktemp("bijli-web")
    platform = bootstrap(settings.build(data_dir=data_dir, broker_url="memory", new_site=True), sms=ConsoleSms(SMS))
    summary = asyncio.run(demo.run_headless(platform, meters=DEMO_METERS, days=1, start=DEMO_DAY))
    yield platform, summary
    platform.store.dispose()


@pytest.fixture
def platform(demo_store: tuple[Platform, dict[str, object]]) -> Platform:
    return demo_store[0]


@pytest.fixture
def make_client() -> MakeClient:
    """A test client over a platform, its clock stopped at `now` (default: ten minutes after the
    last report), sending a bearer token of `role` (default: admin; None: anonymous) named `name`
    (the audit trail shows ``token:<name>``; default: a name made up)."""

    def make(
        platform: Platform,
        now: datetime = LAST_SEEN + timedelta(minutes=10),
        role: Role | None = Role.ADMIN,
        name: str | None = None,
    ) -> TestClient:
        client = TestClient(create_app(platform, clock=SimulatedClock(now)), base_url="http://localhost")
        if role is not None:
            client.headers.update(bearer(platform, role, name))
        return client

    return make


@pytest.fixture
def api(platform: Platform, make_client: MakeClient) -> TestClient:
    return make_client(platform)
