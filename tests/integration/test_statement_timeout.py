"""The web's statement timeout on real PostgreSQL: a statement that runs too long is cut and the
request answered 503 at once, not left hanging; ingest and the use cases' writes are not cut."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli import settings
from bijli.access.model import Role
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.kernel.clock import SimulatedClock
from bijli.web.app import create_app
from tests.support.access import bearer

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
TIMEOUT_S = 0.5


@pytest.fixture
def platform(pg_url: str, tmp_path: Path) -> Iterator[Platform]:
    cfg = settings.build(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        broker_url="memory",
        statement_timeout_s=TIMEOUT_S,
        new_site=True,
    )
    p = bootstrap(cfg)
    commission_city(p.store, p.settings.tariff_code, build_city(12), NOW - timedelta(days=30))
    yield p
    p.close()


def test_a_statement_held_up_past_the_timeout_is_cut_and_answered_503(platform: Platform, pg_url: str) -> None:
    api = TestClient(create_app(platform, clock=SimulatedClock(NOW)), base_url="http://localhost")
    api.headers.update(bearer(platform, Role.OPERATOR))
    assert api.get("/api/v1/meters").status_code == 200
    holder = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with holder.connect() as conn, ThreadPoolExecutor(1) as pool:
        conn.execute(sa.text("LOCK TABLE meters IN ACCESS EXCLUSIVE MODE"))  # held until the block ends
        began = time.monotonic()
        asked = pool.submit(api.get, "/api/v1/meters")
        r = asked.result(timeout=20)  # without the timeout this would wait for the lock forever
        took = time.monotonic() - began
        assert r.status_code == 503
        assert r.json() == {"detail": "the database did not answer in time; try again"}
        assert r.headers["retry-after"] == "5"
        assert TIMEOUT_S <= took < 5
        assert api.get("/api/v1/health").status_code == 200  # the service itself still answers
        conn.rollback()
    holder.dispose()
    assert api.get("/api/v1/meters").status_code == 200


def test_only_the_web_reads_carry_the_timeout(platform: Platform) -> None:
    with platform.reads.engine.connect() as conn:
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "500ms"
    with platform.store.engine.connect() as conn:
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "0"
