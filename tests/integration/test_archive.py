"""`bijli db archive`: a closed month of readings to Parquet on the real PostgreSQL, verified
against the source, its partition dropped, and the readings API answering as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from bijli.access.handlers import create_token
from bijli.access.model import Role
from bijli.adapters.db import archive, partitions
from bijli.adapters.db import engine as db_engine
from bijli.adapters.db.settlement_queue import SqlSettlementQueue
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.kernel.time import INTERVAL, IST, ist_midnight
from bijli.mdm.model import IntervalRow
from bijli.web.app import create_app
from tests.conftest import run_bijli
from tests.support.sites import commissioned_platform
from tests.web.conftest import TestClient

pytestmark = pytest.mark.postgres

NOW = datetime.now(UTC)
LAST_MONTH = partitions.add_months(partitions.month_of(NOW), -1)
DAYS = 3


def days_of(month: date) -> list[datetime]:
    return [ist_midnight(month + timedelta(days=d)) for d in range(DAYS)]


@pytest.fixture
def platform(pg_url: str, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(
        tmp_path, build_city(3), ist_midnight(LAST_MONTH) - timedelta(days=40), database_url=pg_url, broker_url="none"
    )
    yield p
    p.store.dispose()


def meters(platform: Platform) -> list[str]:
    with platform.store.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT meter_id FROM meters ORDER BY meter_id")).scalars())


def fill(platform: Platform, month: date) -> int:
    """Every meter's 96 intervals a day for the first DAYS days of `month`, through the head-end's write."""
    rows = []
    for m, meter in enumerate(meters(platform)):
        total = 1_000_000 * (m + 1)
        for day in days_of(month):
            for i in range(96):
                wh = 20 + (m * 37 + i * 11) % 300
                total += wh
                at = day + i * INTERVAL
                rows.append(IntervalRow(meter, int(at.timestamp()), wh, wh * 109 // 100, 0, 2200 + i, 900 + wh, total))
    with platform.store.transaction() as uow:
        uow.readings.store(rows, NOW)
    return len(rows)


def api_day(client: TestClient, token: str, meter: str, day: datetime) -> list[dict[str, object]]:
    local = day.astimezone(IST)
    params = {"start": local.isoformat(), "end": (local + timedelta(days=1)).isoformat()}
    r = client.get(f"/api/v1/meters/{meter}/readings", params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    items: list[dict[str, object]] = r.json()["items"]
    return items


def test_a_closed_month_round_trips_through_parquet_and_the_api(platform: Platform, tmp_path: Path) -> None:
    stored = fill(platform, LAST_MONTH)
    fill(platform, partitions.month_of(NOW))  # the current month stays in PostgreSQL
    token = create_token(platform.store, "archive-test", Role.AUDITOR, "test", NOW)
    client = TestClient(create_app(platform), base_url="http://localhost")
    ids = meters(platform)
    span = (ist_midnight(LAST_MONTH) - timedelta(days=1), ist_midnight(partitions.month_of(NOW)) + timedelta(days=2))
    before_api = {(m, d): api_day(client, token, m, d) for m in ids for d in days_of(LAST_MONTH)}
    before_query = {m: platform.queries.readings(m, *span) for m in ids}
    assert all(len(v) == 96 for v in before_api.values())

    result = archive.archive_month(platform.store.engine, LAST_MONTH, tmp_path / "archive", NOW, meters_per_file=2)

    assert result.dropped and result.rows == stored
    assert [f.meters for f in result.files] == [2, 1]
    assert result.bytes_per_reading <= 30, result.bytes_per_reading
    with platform.store.engine.connect() as conn:
        assert partitions.partition_name(LAST_MONTH) not in [p.name for p in partitions.partitions(conn)]
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM readings WHERE interval_start < :t"), {"t": span[1] - timedelta(days=2)}
            ).scalar()
            == 0
        )
        recorded = conn.execute(
            sa.text("SELECT month, rows, bytes, checksum FROM reading_archives ORDER BY path")
        ).all()
    assert [(r.month, r.rows, r.bytes) for r in recorded] == [
        (f"{LAST_MONTH:%Y-%m}", f.rows, f.bytes) for f in result.files
    ]
    assert all(len(r.checksum) == 64 for r in recorded)
    first = pq.read_table(result.files[0].path)
    assert first.column("meter_id").to_pylist() == sorted(first.column("meter_id").to_pylist())

    after_api = {(m, d): api_day(client, token, m, d) for m in ids for d in days_of(LAST_MONTH)}
    assert after_api == before_api
    assert {m: platform.queries.readings(m, *span) for m in ids} == before_query


def test_the_current_month_and_one_with_unsettled_readings_are_refused(platform: Platform, tmp_path: Path) -> None:
    with pytest.raises(archive.ArchiveRefused, match="not closed yet"):
        archive.archive_month(platform.store.engine, partitions.month_of(NOW), tmp_path, NOW)
    fill(platform, LAST_MONTH)
    meter = meters(platform)[0]
    with platform.store.engine.begin() as conn:  # one of the month's readings waits for settlement
        SqlSettlementQueue(conn).enqueue([(meter, int(days_of(LAST_MONTH)[1].timestamp()), 0)], NOW)
    with pytest.raises(archive.ArchiveRefused, match="waiting for settlement"):
        archive.archive_month(platform.store.engine, LAST_MONTH, tmp_path, NOW)
    with platform.store.engine.connect() as conn:
        assert partitions.partition_name(LAST_MONTH) in [p.name for p in partitions.partitions(conn)]
    assert not list(tmp_path.glob("**/*.parquet"))


def test_a_file_that_does_not_match_the_source_drops_nothing(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = fill(platform, LAST_MONTH)
    real = archive._write

    def corrupt(table: archive.pa.Table, path: Path) -> None:  # one reading's energy changed on the way
        values = table.column("import_wh").to_pylist()
        values[5] += 1
        real(table.set_column(2, "import_wh", archive.pa.array(values, archive.pa.int32())), path)

    monkeypatch.setattr(archive, "_write", corrupt)
    with pytest.raises(archive.ArchiveMismatch, match="does not match"):
        archive.archive_month(platform.store.engine, LAST_MONTH, tmp_path, NOW)
    with platform.store.engine.connect() as conn:
        assert (
            conn.execute(sa.text(f'SELECT count(*) FROM "{partitions.partition_name(LAST_MONTH)}"')).scalar() == stored
        )
        assert conn.execute(sa.text("SELECT count(*) FROM reading_archives")).scalar() == 0


def test_the_archive_command(platform: Platform, pg_url: str, tmp_path: Path) -> None:
    fill(platform, LAST_MONTH)
    common = ["--database-url", pg_url, "--data-dir", str(tmp_path)]
    out = json.loads(run_bijli(["db", "archive", "--month", f"{LAST_MONTH:%Y-%m}", "--json", *common]))
    assert out["rows"] == 3 * DAYS * 96 and out["dropped"] is True and out["bytes_per_reading"] <= 30
    assert Path(out["directory"]) == (tmp_path / "archive").resolve()
    again = run_bijli_failing(["db", "archive", "--month", f"{LAST_MONTH:%Y-%m}", *common])
    assert "archived already" in again
    assert "YYYY-MM" in run_bijli_failing(["db", "archive", "--month", "2026-13", *common])


def run_bijli_failing(args: list[str]) -> str:
    import subprocess

    from tests.conftest import BIJLI

    done = subprocess.run([*BIJLI, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_archive_table_comes_and_goes_with_its_migration(kind: str, pg_url: str, tmp_path: Path) -> None:
    url = pg_url if kind == "postgresql" else f"sqlite:///{tmp_path / 'store.db'}"
    engine = db_engine.create(url)
    try:
        db_engine.upgrade(engine)
        db_engine.downgrade(engine, "0016")
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table("reading_archives")
        db_engine.upgrade(engine)
        with engine.connect() as conn:
            assert sa.inspect(conn).has_table("reading_archives")
    finally:
        engine.dispose()
