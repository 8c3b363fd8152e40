"""A meter taken out of service and put back, over a real store (SQLite and PostgreSQL): the
status history, its commands ended in their own audit trail, and the reports and the gap
estimation leaving it out for exactly the time it was out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.accounts.handlers import change_status
from bijli.adapters.db import engine as db_engine
from bijli.adapters.db import schema as t
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.headend.command_records import CommandRecord, MeterNotInService
from bijli.headend.commands import DispatchPolicy, Status
from bijli.headend.handlers import ingest_batch, record_acks
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, ist_day
from bijli.mdm.handlers import run_vee
from bijli.mdm.meters import MeterStatus, RefusedChange, StatusChange, UnknownMeter
from bijli.protocol.frames import AckFrame
from tests.support import commands as support
from tests.support.frames import reading
from tests.support.sites import commissioned_platform

START = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)  # Monday 10:00 IST
HEAD = db_engine.head_revision()
CITY = build_city(4)
CL1, CL2 = "KNCL0000001", "KNCL0000002"
OUT, IN = MeterStatus.DECOMMISSIONED, MeterStatus.COMMISSIONED
S = Status
POLICY = DispatchPolicy()


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    """A platform over a store of either kind, four meters commissioned a month ago."""
    p = commissioned_platform(tmp_path / "data", CITY, START - timedelta(days=30), database_url=database_url)
    yield p
    p.store.dispose()


def change(p: Platform, meter_id: str, to: MeterStatus, at: datetime, reason: str = "meter removed on site") -> int:
    """Change the meter's status as operator.verma; how many commands that ended."""
    return change_status(p.store, meter_id, to, changed_by="operator.verma", reason=reason, now=at)[1]


def status_history(p: Platform, meter_id: str) -> tuple[str | None, list[StatusChange]]:
    found = p.queries.status_history(meter_id)
    return (None, []) if found is None else found


def ask(
    p: Platform, action: str, at: datetime, meter_id: str = CL1, expires_in: timedelta = timedelta(hours=24)
) -> str:
    return support.ask(p.store, meter_id, action, at, expires_in)


def send(p: Platform, at: datetime) -> None:
    """The meters were just heard from, and the dispatcher sends what is due."""
    with p.store.engine.begin() as conn:
        conn.execute(t.meter_state.update().values(last_seen=at))
    p.dispatch.claim_due(at, POLICY)


def answer_done(p: Platform, command_id: str, at: datetime) -> None:
    ack = AckFrame(v=1, m=CL1, fc=1, ts=int(at.timestamp()), command_id=command_id, status="done")
    with p.store.transaction() as uow:
        record_acks(uow.commands, [ack], at)


def stored(p: Platform, command_id: str) -> CommandRecord:
    found = p.queries.command(command_id)
    assert found is not None
    return found


# ---------------------------------------------------------------------- the change and its audit


def test_decommissioning_records_who_when_and_why_and_fails_the_meters_open_commands(platform: Platform) -> None:
    at = START
    disconnect = ask(platform, "relay_disconnect", at)  # acknowledged, effect awaited: open
    send(platform, at)
    answer_done(platform, disconnect, at)
    read_now = ask(platform, "read_now", at + timedelta(seconds=1))  # acknowledged is final: settled
    send(platform, at + timedelta(seconds=2))
    answer_done(platform, read_now, at + timedelta(seconds=2))
    time_sync = ask(platform, "time_sync", at + timedelta(seconds=3))  # sent, unanswered: open
    send(platform, at + timedelta(seconds=4))
    late = ask(platform, "read_now", at - timedelta(hours=1), expires_in=timedelta(minutes=1))  # expired: settled
    platform.dispatch.expire_due(at + timedelta(seconds=5), POLICY)
    queued = ask(platform, "relay_connect", at + timedelta(seconds=6))  # waits behind time_sync: open
    other_meter = ask(platform, "read_now", at + timedelta(seconds=6), meter_id=CL2)
    before = {c: stored(platform, c) for c in (read_now, late, other_meter)}
    assert [stored(platform, c).status for c in (disconnect, time_sync, queued)] == [S.ACKNOWLEDGED, S.SENT, S.QUEUED]

    took_out = at + timedelta(minutes=1)
    ended = change(platform, CL1, OUT, took_out, reason="consumer moved out; meter removed")

    assert ended == 3
    status, changes = status_history(platform, CL1)
    assert status == "decommissioned"
    assert changes == [
        StatusChange(
            meter_id=CL1,
            at=took_out,
            from_status="commissioned",
            to_status="decommissioned",
            changed_by="operator.verma",
            reason="consumer moved out; meter removed",
        )
    ]
    for command_id in (disconnect, time_sync, queued):
        ended_command = stored(platform, command_id)
        assert ended_command.status == S.FAILED
        assert ended_command.detail == "meter decommissioned: consumer moved out; meter removed"
        last = ended_command.history[-1]
        assert (last.at, last.status, last.detail) == (took_out, S.FAILED, ended_command.detail)
    assert {c: stored(platform, c) for c in (read_now, late, other_meter)} == before
    with pytest.raises(MeterNotInService, match="meter KNCL0000001 is decommissioned"):
        ask(platform, "read_now", took_out + timedelta(seconds=1))


def test_a_recommissioned_meter_takes_commands_again_and_its_history_reads_newest_first(platform: Platform) -> None:
    change(platform, CL1, OUT, START, reason="meter burnt")
    assert change(platform, CL1, IN, START + timedelta(days=2), reason="repaired and refitted") == 0

    status, changes = status_history(platform, CL1)
    assert status == "commissioned"
    assert [(c.at, c.from_status, c.to_status, c.reason) for c in changes] == [
        (START + timedelta(days=2), "decommissioned", "commissioned", "repaired and refitted"),
        (START, "commissioned", "decommissioned", "meter burnt"),
    ]
    assert stored(platform, ask(platform, "read_now", START + timedelta(days=2))).status == S.QUEUED
    assert status_history(platform, CL2) == ("commissioned", [])


def test_an_unknown_meter_is_refused_and_nothing_changes(platform: Platform) -> None:
    with pytest.raises(UnknownMeter):
        change(platform, "KNXX9999999", OUT, START)
    with platform.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.meter_status_changes)).scalar_one() == 0


@pytest.mark.parametrize(("first", "again"), [(OUT, OUT), (None, IN)])
def test_a_change_the_lifecycle_refuses_changes_nothing(
    platform: Platform, first: MeterStatus | None, again: MeterStatus
) -> None:
    if first is not None:
        change(platform, CL1, first, START)
    queued = ask(platform, "read_now", START + timedelta(seconds=1), meter_id=CL2 if first else CL1)
    before = status_history(platform, CL1), stored(platform, queued)

    with pytest.raises(RefusedChange, match=f"meter KNCL0000001 is already {again}"):
        change(platform, CL1, again, START + timedelta(minutes=1))

    assert (status_history(platform, CL1), stored(platform, queued)) == before


def test_a_change_without_a_reason_is_refused_and_nothing_changes(platform: Platform) -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        change(platform, CL1, OUT, START, reason="  ")
    assert status_history(platform, CL1) == ("commissioned", [])


def test_the_status_history_comes_and_goes_with_its_migration(platform: Platform) -> None:
    change(platform, CL1, OUT, START)
    engine = platform.store.engine
    db_engine.downgrade(engine, "0005")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("meter_status_changes")
    db_engine.upgrade(engine)
    assert db_engine.current_revision(engine) == HEAD
    assert status_history(platform, CL1) == ("decommissioned", [])


# ---------------------------------------------------------------------- what leaves with the meter


def test_the_silent_and_connectivity_reports_leave_a_decommissioned_meter_out(platform: Platform) -> None:
    now = START + timedelta(days=1)

    def silent() -> list[str]:
        return [m["meter_id"] for m in platform.reports.non_communicating(now, timedelta(hours=24))]

    def fleet() -> int:
        return sum(group["meters"] for group in platform.reports.connectivity(now))

    assert (len(silent()), fleet()) == (4, 4)
    change(platform, CL1, OUT, START)
    assert CL1 not in silent() and (len(silent()), fleet()) == (3, 3)
    change(platform, CL1, IN, START + timedelta(hours=1))
    assert (len(silent()), fleet()) == (4, 4)


def test_the_collection_rate_of_a_day_counts_the_meters_in_service_all_day(platform: Platform) -> None:
    day = ist_day(START)  # 2 November, IST
    change(platform, CL1, OUT, START)  # 10:00 IST on the 2nd
    change(platform, CL1, IN, START + timedelta(days=2))  # 10:00 IST on the 4th
    change(platform, CL2, OUT, START + timedelta(days=4, hours=-10))  # 00:00 IST on the 6th
    change(platform, CL2, IN, START + timedelta(days=5, hours=-10))  # 00:00 IST on the 7th

    meters = {n: platform.reports.collection(day + timedelta(days=n)).meters for n in range(-1, 6)}

    # 1 Nov: all; 2 Nov: CL1 left at 10:00; 3 Nov: CL1 out; 4 Nov: CL1 back at 10:00; 5 Nov: all;
    # 6 Nov: CL2 out from midnight to midnight; 7 Nov: CL2 back at its first moment.
    assert meters == {-1: 4, 0: 3, 1: 3, 2: 3, 3: 4, 4: 3, 5: 4}
    assert platform.reports.collection(day + timedelta(days=4)).intervals_expected == 3 * 96


def test_gaps_are_looked_for_only_while_the_meter_was_in_service(platform: Platform) -> None:
    secret = platform.settings.site_keys
    now = START + 10 * INTERVAL + timedelta(minutes=1)
    frames = [(1, 0, 100), (2, 2, 100), (3, 3, 100), (4, 8, 100), (5, 9, 100)]  # interval 1 is missing
    deliveries = [
        Delivery(*reading(secret, CL1, fc, START + n * INTERVAL, wh=wh, total=5_000_000 + 100 * n))
        for fc, n, wh in frames
    ]
    elsewhere = Delivery(*reading(secret, CL2, 1, START, wh=100, total=7_000_000))
    ingest_batch(platform.store, [*deliveries[:3], elsewhere], platform.ring, "bijli", START + 4 * INTERVAL)
    change(platform, CL1, OUT, START + 4 * INTERVAL)  # out for intervals 4 to 7
    change(platform, CL1, IN, START + 8 * INTERVAL)
    change(platform, CL2, OUT, START + INTERVAL)  # out ever since its first interval
    ingest_batch(platform.store, deliveries[3:], platform.ring, "bijli", now)  # CL1 is online
    asked: list[tuple[str, datetime, datetime]] = []

    report = run_vee(
        platform.store,
        now,
        lookback=10 * INTERVAL,
        grace=timedelta(seconds=30),
        request_backfill=lambda m, begin, end: asked.append((m, begin, end)),
    )

    assert (report.checked_from, report.checked_to) == (START, START + 9 * INTERVAL)
    assert asked == [(CL1, START + INTERVAL, START + 2 * INTERVAL)]
    assert report.intervals_estimated == 1
    with platform.store.engine.connect() as conn:
        estimated = conn.execute(
            sa.select(t.readings.c.meter_id, t.readings.c.interval_start).where(t.readings.c.quality == "estimated")
        ).all()
    assert estimated == [(CL1, START + INTERVAL)]
