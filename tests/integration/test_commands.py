"""Commands over a real store (SQLite and PostgreSQL): idempotency, offline meters, counters,
retries, expiry, rate limits, claiming by several dispatchers, and the whole loop through the
meter twin and the ingest: sent, acknowledged, confirmed by what the meter reports."""

from __future__ import annotations

import asyncio
import threading
import typing
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest
import sqlalchemy as sa

from bijli.access.model import Role
from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.adapters.db import schema as t
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin, TwinOptions
from bijli.headend import command_records as db
from bijli.headend.command_records import CommandRecord, CommandRequest
from bijli.headend.commands import DispatchPolicy, Status, tariff_args
from bijli.headend.dispatcher import Dispatcher, TickReport
from bijli.headend.handlers import ingest_batch, record_acks, submit_command
from bijli.headend.ports import BrokerDown, Delivery
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL, epoch
from bijli.mdm.meters import UnknownMeter
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import topics
from bijli.protocol.codec import Refusal, open_command
from bijli.protocol.frames import COMMAND_ACTIONS, CUTOFF_PERMIT, KEY_CHANGE, AckFrame, CommandFrame, ReadingFrame
from bijli.web.app import create_app
from bijli.web.commands_api import Action, ShownAction
from tests.support.access import log_in_staff
from tests.support.sites import commissioned_platform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ROOT = "bijli"
START = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)  # Monday 10:00 IST
CITY = build_city(240)  # per area: transformers DT01 and DT02 with 50 meters each, DT03 with 20
CL1, CL2, MR1 = "KNCL0000001", "KNCL0000002", "KNMR0000001"
S = Status


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    """A platform over an empty store of either kind, the city commissioned."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    p = commissioned_platform(tmp_path / "data", CITY, START - timedelta(days=30), database_url=url)
    yield p
    p.store.dispose()


class Site:
    """The store, a dispatcher on a simulated clock, a broker that records what it is given,
    and (when asked for) the meter twin that obeys the commands and reports back."""

    def __init__(self, platform: Platform, policy: DispatchPolicy | None = None) -> None:
        self.platform = platform
        self.engine: Engine = platform.store.engine
        self.clock = SimulatedClock(START)
        self.published: list[tuple[str, bytes]] = []
        self.broker_up = True
        self.dispatcher = self.new_dispatcher(policy)
        self._twin: FleetTwin | None = None

    def new_dispatcher(self, policy: DispatchPolicy | None = None) -> Dispatcher:
        """A dispatcher, as a head-end (re)started over the same store would have."""
        return Dispatcher(
            self.platform.dispatch, self, self.platform.ring, ROOT, self.clock, policy or DispatchPolicy()
        )

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if not self.broker_up:
            raise BrokerDown("the broker is away")
        self.published.append((topic, payload))

    # ---------------------------------------------------------------- time, asking, looking

    def now(self) -> datetime:
        return self.clock.now()

    def later(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def tick(self, dispatcher: Dispatcher | None = None) -> TickReport:
        return asyncio.run((dispatcher or self.dispatcher).tick())

    def ask(
        self,
        action: str,
        meter_id: str = CL1,
        args: dict[str, int] | None = None,
        key: str | None = None,
        expires_in: timedelta = timedelta(hours=24),
        requested_by: str = "operator.verma",
        reason: str = "test",
    ) -> CommandRecord:
        request = CommandRequest(
            meter_id=meter_id,
            action=action,
            args=args or {},
            reason=reason,
            requested_by=requested_by,
            idempotency_key=key or f"{action}-{meter_id}-{len(self.all_commands())}",
            expires_in=expires_in,
        )
        return submit_command(self.platform.store, request, self.now())[0]

    def command(self, command_id: str) -> CommandRecord:
        found = self.platform.queries.command(command_id)
        assert found is not None
        return found

    def status(self, command: CommandRecord) -> Status:
        return self.command(command.command_id).status

    def all_commands(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(t.commands.c.command_id)).scalars())

    def seen(self, *meter_ids: str) -> None:
        """The meters were heard from just now."""
        with self.engine.begin() as conn:
            conn.execute(
                t.meter_state.update().where(t.meter_state.c.meter_id.in_(meter_ids)).values(last_seen=self.now())
            )

    def sent_frames(self) -> list[CommandFrame]:
        """What went out since the last look, opened with each meter's own key."""
        frames = []
        for topic, payload in self.published:
            meter_id = topic.split("/")[3]
            assert topic == topics.downlink(ROOT, meter_id)
            opened = open_command(self.platform.settings.site_keys.frame_key(meter_id), meter_id, payload)
            assert not isinstance(opened, Refusal), opened
            frames.append(opened)
        self.published.clear()
        return frames

    # ---------------------------------------------------------------- the meters themselves

    @property
    def twin(self) -> FleetTwin:
        if self._twin is None:
            tariff = builtin_tariffs()[self.platform.settings.tariff_code]
            self._twin = FleetTwin(
                CITY,
                [],
                self.platform.settings.site_keys,
                tariff,
                start=START,
                root=ROOT,
                options=TwinOptions(drift_ppm=0),
            )
        return self._twin

    def meters_report(self, drop: typing.Callable[[Any], bool] = lambda _o: False) -> None:
        """Whatever the meters sent reaches the head-end and is stored (except `drop`ped)."""
        self.twin.advance(epoch(self.now()))
        deliveries = [Delivery(o.topic, o.payload) for o in self.twin.take_outgoing() if not drop(o)]
        if deliveries:
            ingest_batch(self.platform.store, deliveries, self.platform.ring, ROOT, self.now())

    def meters_come_online(self) -> None:
        """Every meter connects and sends its status."""
        self.twin.broker(True, epoch(self.now()))
        self.later(10)
        self.meters_report()

    def commands_reach_meters(self, drop: typing.Callable[[Any], bool] = lambda _o: False) -> None:
        """What the dispatcher published arrives at the meters, who act and answer."""
        self.twin.advance(epoch(self.now()))
        for topic, payload in self.published:
            self.twin.command(topic.split("/")[3], payload, epoch(self.now()))
        self.published.clear()
        self.later(1)
        self.meters_report(drop)


@pytest.fixture
def site(platform: Platform) -> Site:
    return Site(platform)


def history(command: CommandRecord) -> list[str]:
    return [h.status.value for h in command.history]


# ---------------------------------------------------------------------- asking


def test_the_same_idempotency_key_gives_the_same_command(site: Site) -> None:
    first = site.ask("relay_disconnect", key="arrears-2026-11-KNCL0000001")
    site.later(5)
    again, new = submit_command(
        site.platform.store,
        CommandRequest(
            meter_id=CL1,
            action="relay_disconnect",
            args={},
            reason="test",
            requested_by="operator.verma",
            idempotency_key="arrears-2026-11-KNCL0000001",
            expires_in=timedelta(hours=24),
        ),
        site.now(),
    )
    assert (again.command_id, new) == (first.command_id, False)
    assert len(site.all_commands()) == 1


@pytest.mark.parametrize(
    "change",
    [{"action": "relay_connect"}, {"meter_id": CL2}, {"reason": "other"}, {"expires_in": timedelta(hours=1)}],
)
def test_a_used_idempotency_key_with_a_different_request_conflicts(site: Site, change: dict[str, Any]) -> None:
    site.ask("relay_disconnect", key="k-1")
    base: dict[str, Any] = {
        "meter_id": CL1,
        "action": "relay_disconnect",
        "args": {},
        "reason": "test",
        "requested_by": "operator.verma",
        "idempotency_key": "k-1",
        "expires_in": timedelta(hours=24),
    }
    with pytest.raises(db.IdempotencyConflict):
        submit_command(site.platform.store, CommandRequest(**(base | change)), site.now())
    assert len(site.all_commands()) == 1


def test_many_requests_at_once_with_one_key_make_one_command(site: Site) -> None:
    results: list[str] = []
    gate = threading.Barrier(8)

    def ask() -> None:
        gate.wait()
        results.append(site.ask("relay_disconnect", key="same-key").command_id)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert site.all_commands() == results[:1]


def test_a_command_for_an_unknown_meter_is_refused(site: Site) -> None:
    with pytest.raises(UnknownMeter):
        site.ask("relay_disconnect", meter_id="KNZZ0000001")


# ---------------------------------------------------------------------- sending


def test_a_command_for_an_offline_meter_waits_and_goes_out_when_it_returns(site: Site) -> None:
    command = site.ask("relay_disconnect")
    for _ in range(3):
        site.tick()
        site.later(60)
    assert site.published == [] and site.status(command) == S.QUEUED

    site.seen(CL1)
    report = site.tick()

    assert report.sent == 1
    (frame,) = site.sent_frames()
    assert (frame.m, frame.command_id, frame.action, frame.fc) == (CL1, command.command_id, "relay_disconnect", 1)
    stored = site.command(command.command_id)
    assert (stored.status, stored.attempts, stored.last_sent_at) == (S.SENT, 1, site.now())
    assert history(stored) == ["queued", "sent"]


def test_a_meter_last_heard_more_than_30_minutes_ago_is_offline(site: Site) -> None:
    site.seen(CL1)
    site.later(31 * 60)
    site.ask("read_now")
    site.tick()
    assert site.published == []


def test_a_meters_commands_go_out_in_order_each_with_the_next_downlink_counter(site: Site) -> None:
    site.seen(CL1, CL2)
    first = site.ask("relay_disconnect")
    site.later(1)
    second = site.ask("relay_connect")
    other = site.ask("read_now", meter_id=CL2)

    site.tick()
    site.later(1)
    site.tick()

    sent = [(f.m, f.command_id, f.fc) for f in site.sent_frames()]
    assert sent == [(CL1, first.command_id, 1), (CL2, other.command_id, 1), (CL1, second.command_id, 2)]


def test_time_sync_carries_the_head_ends_clock_when_it_is_sent(site: Site) -> None:
    site.ask("time_sync")
    site.later(3 * 3600)
    site.seen(CL1)
    site.tick()
    (frame,) = site.sent_frames()
    assert frame.args == {"t": epoch(site.now())}


# ---------------------------------------------------------------------- retries, expiry, restarts


def test_an_unanswered_command_is_sent_again_with_backoff_and_then_fails(site: Site) -> None:
    command = site.ask("relay_disconnect")
    site.seen(CL1)
    site.tick()
    waits = [60, 120, 240, 480]
    counters = [f.fc for f in site.sent_frames()]
    for wait in waits:
        site.later(wait - 1)
        site.seen(CL1)
        site.tick()
        assert site.published == [], "sent again before the wait was over"
        site.later(1)
        site.tick()
        counters += [f.fc for f in site.sent_frames()]

    assert counters == [1, 2, 3, 4, 5]
    assert site.command(command.command_id).attempts == 5
    site.later(900)
    site.seen(CL1)
    report = site.tick()

    stored = site.command(command.command_id)
    assert (report.gave_up, stored.status) == (1, S.FAILED)
    assert stored.detail == "no answer from the meter after 5 attempts"
    assert history(stored) == ["queued"] + ["sent"] * 5 + ["failed"]


def test_a_meter_that_falls_silent_is_not_sent_to_again_until_it_talks(site: Site) -> None:
    command = site.ask("relay_disconnect")
    site.seen(CL1)
    site.tick()
    site.published.clear()
    site.later(600)
    site.tick()
    assert site.published == []
    site.seen(CL1)
    site.tick()
    assert [f.command_id for f in site.sent_frames()] == [command.command_id]


def test_queued_and_unanswered_commands_expire_with_an_audit_entry(site: Site) -> None:
    waiting = site.ask("relay_disconnect", expires_in=timedelta(minutes=10))
    unanswered = site.ask("read_now", meter_id=CL2, expires_in=timedelta(minutes=10))
    site.seen(CL2)
    site.tick()
    site.published.clear()

    site.later(599)
    site.tick()
    assert site.status(waiting) == S.QUEUED
    site.later(1)
    report = site.tick()

    assert report.expired == 2
    w, u = site.command(waiting.command_id), site.command(unanswered.command_id)
    assert (w.status, history(w)) == (S.EXPIRED, ["queued", "expired"])
    assert w.detail == "expired before it could be sent: the meter was not online"
    assert (u.status, history(u)) == (S.EXPIRED, ["queued", "sent", "expired"])
    site.seen(CL1, CL2)
    site.later(120)
    site.tick()
    assert site.published == []


def test_a_head_end_restart_loses_no_command(site: Site) -> None:
    site.seen(CL1, CL2)
    site.broker_up = False
    lost_in_flight = site.ask("relay_disconnect")
    report = site.tick()  # marked sent, but the broker never took it
    assert (report.sent, report.not_published) == (0, 1)
    site.broker_up = True
    waiting = site.ask("relay_connect", meter_id=CL2, expires_in=timedelta(hours=1))

    restarted = site.new_dispatcher()
    site.later(61)
    site.seen(CL1, CL2)
    restarted.totals.add(site.tick(restarted))

    sent = {f.command_id: f.fc for f in site.sent_frames()}
    assert sent == {lost_in_flight.command_id: 2, waiting.command_id: 1}
    assert site.command(lost_in_flight.command_id).attempts == 2


# ---------------------------------------------------------------------- rate limits


def meters_on(transformer: str, n: int) -> list[str]:
    return [c.meter_id for c in CITY if c.transformer == transformer][:n]


def test_mass_reconnects_are_rate_limited_per_transformer_and_area(platform: Platform) -> None:
    site = Site(platform, DispatchPolicy(relay_connects_per_transformer=10, relay_connects_per_area=15))
    dt1, dt2 = meters_on("CL-F01-DT01", 20), meters_on("CL-F01-DT02", 10)
    mr = meters_on("MR-F01-DT01", 3)
    site.seen(*dt1, *dt2, *mr)
    for m in dt1 + dt2:  # asked in this order, one after the other
        site.ask("relay_connect", meter_id=m)
        site.later(0.001)
    for m in mr:
        site.ask("relay_disconnect", meter_id=m)

    def sent_per_transformer() -> Counter[str]:
        where = {c.meter_id: c.transformer for c in CITY}
        return Counter(where[f.m] + ":" + f.action for f in site.sent_frames())

    first = site.tick()
    assert sent_per_transformer() == {
        "CL-F01-DT01:relay_connect": 10,
        "CL-F01-DT02:relay_connect": 5,
        "MR-F01-DT01:relay_disconnect": 3,
    }
    assert first.held == 15
    site.later(59)
    site.tick()
    assert site.published == []
    site.later(2)
    site.tick()
    assert sent_per_transformer() == {"CL-F01-DT01:relay_connect": 10, "CL-F01-DT02:relay_connect": 5}


# ---------------------------------------------------------------------- several dispatchers


def test_two_dispatchers_never_send_one_command_twice(site: Site) -> None:
    meters = [c.meter_id for c in CITY[:40]]
    site.seen(*meters)
    for m in meters:
        site.ask("read_now", meter_id=m)
        site.ask("hotspot_settings", meter_id=m, args={"window_s": 600})
    one, two = site.new_dispatcher(), site.new_dispatcher()

    async def together() -> None:
        for _ in range(4):
            await asyncio.gather(one.tick(), two.tick())
            site.later(1)

    asyncio.run(together())

    frames = site.sent_frames()
    assert sorted(Counter(f.command_id for f in frames).values()) == [1] * 80
    per_meter: dict[str, list[int]] = {}
    for f in frames:
        per_meter.setdefault(f.m, []).append(f.fc)
    assert {m: sorted(fcs) for m, fcs in per_meter.items()} == {m: [1, 2] for m in meters}


@pytest.mark.parametrize("platform", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_command_another_worker_holds_is_skipped_not_waited_for(site: Site) -> None:
    site.seen(CL1, CL2)
    held = site.ask("relay_disconnect")
    free = site.ask("relay_disconnect", meter_id=CL2)
    with site.engine.connect() as other:
        tx = other.begin()
        other.execute(
            sa.select(t.commands.c.command_id).where(t.commands.c.command_id == held.command_id).with_for_update()
        )
        asyncio.run(asyncio.wait_for(site.dispatcher.tick(), timeout=10))
        assert [f.command_id for f in site.sent_frames()] == [free.command_id]
        tx.rollback()
    site.tick()
    assert [f.command_id for f in site.sent_frames()] == [held.command_id]


# ---------------------------------------------------------------------- the whole loop, through the twin


def test_a_disconnect_is_acknowledged_and_confirmed_by_the_relay_event(site: Site) -> None:
    site.meters_come_online()
    command = site.ask("relay_disconnect", requested_by="operator.sharma", reason="arrears of Rs 4,210")

    site.tick()
    site.commands_reach_meters()
    assert site.status(command) == S.ACKNOWLEDGED
    report = site.tick()

    stored = site.command(command.command_id)
    assert (report.confirmed, stored.status) == (1, S.CONFIRMED)
    assert history(stored) == ["queued", "sent", "acknowledged", "confirmed"]
    assert stored.history[0].detail == "requested by operator.sharma: arrears of Rs 4,210"
    assert stored.detail == "event 301 reported by the meter"
    assert not site.twin.relay[site.twin.index[CL1]]


def test_a_reconnect_of_a_meter_already_connected_is_confirmed_by_its_reported_relay(site: Site) -> None:
    site.meters_come_online()  # the status says relay closed
    command = site.ask("relay_connect")
    site.tick()
    site.commands_reach_meters()  # nothing to switch, so no event: only the ack
    site.tick()
    stored = site.command(command.command_id)
    assert (stored.status, stored.detail) == (S.CONFIRMED, "meter reports its relay closed")


def test_a_resent_credit_is_answered_again_but_credited_once(site: Site) -> None:
    site.meters_come_online()
    i = site.twin.index[CL1]
    before = int(site.twin.balance[i])
    command = site.ask("credit", args={"amount_paise": 25_000})
    site.tick()
    site.commands_reach_meters(drop=lambda o: isinstance(o.frame, AckFrame))  # the answer is lost
    assert site.status(command) == S.SENT

    site.later(61)
    site.seen(CL1)
    site.tick()  # so the head-end sends it again
    site.commands_reach_meters()

    stored = site.command(command.command_id)
    assert (stored.status, stored.attempts) == (S.CONFIRMED, 2)
    assert "meter answered done: already done" in [h.detail for h in stored.history]
    assert int(site.twin.balance[i]) == before + 25_000


def test_time_sync_is_confirmed_by_the_clock_set_event(site: Site) -> None:
    site.meters_come_online()
    command = site.ask("time_sync")
    site.tick()
    site.commands_reach_meters()
    site.tick()
    assert site.command(command.command_id).detail == "event 151 reported by the meter"


def test_a_tariff_push_is_confirmed_by_the_meters_tariff_programmed_event(site: Site) -> None:
    site.meters_come_online()
    version = builtin_tariffs()["UP-LMV1-DU"].on(START.date())
    command = site.ask("tariff", args=tariff_args(version))
    site.tick()
    site.commands_reach_meters()
    site.tick()
    assert site.status(command) == S.CONFIRMED
    assert site.command(command.command_id).detail == "event 155 reported by the meter"
    assert site.twin.pushed_tariffs[site.twin.index[CL1]][0][0] == version.effective_from


def test_a_profile_read_is_confirmed_once_the_missing_intervals_are_stored(site: Site) -> None:
    lost = {epoch(START + k * INTERVAL) for k in range(2, 6)}

    def lose(o: Any) -> bool:
        return isinstance(o.frame, ReadingFrame) and o.frame.m == CL1 and o.frame.intervals[0].start in lost

    for k in range(8):
        site.twin.close_interval(START + k * INTERVAL)
        site.clock.set(START + (k + 1) * INTERVAL + timedelta(seconds=30))
        site.meters_report(drop=lose)
    command = site.ask("read_profile", args={"from": min(lost), "to": max(lost) + 900})
    site.tick()
    assert site.status(command) == S.SENT  # the gap is still there

    site.commands_reach_meters()
    site.tick()

    stored = site.command(command.command_id)
    assert (stored.status, stored.detail) == (S.CONFIRMED, "every interval of the range is stored")
    assert "meter answered done: 4 intervals" in [h.detail for h in stored.history]


def test_read_now_ends_acknowledged(site: Site) -> None:
    site.meters_come_online()
    command = site.ask("read_now")
    site.tick()
    site.commands_reach_meters()
    site.later(3600)
    site.tick()
    assert history(site.command(command.command_id)) == ["queued", "sent", "acknowledged"]


def test_a_command_the_meter_refuses_fails_with_its_reason(site: Site) -> None:
    site.meters_come_online()
    request = CommandRequest(
        meter_id=CL1,
        action="hotspot_settings",
        args={"window_s": 10},
        reason="test",
        requested_by="operator.verma",
        idempotency_key="refused",
        expires_in=timedelta(hours=1),
    )
    command = db.new_command(request, site.now())
    with site.platform.store.transaction() as uow:  # past the use case, which would refuse it
        assert uow.commands.add(command)
    site.tick()
    site.commands_reach_meters()
    stored = site.command(command.command_id)
    assert (stored.status, stored.detail) == (
        S.FAILED,
        "refused by the meter: cannot hotspot_settings with ['window_s']",
    )


def test_an_old_relay_event_delivered_late_does_not_confirm_a_new_command(site: Site) -> None:
    site.seen(CL1)
    command = site.ask("relay_disconnect")
    site.tick()
    site.later(20)
    with site.engine.begin() as conn:  # a backlog from an outage: switched off an hour ago
        conn.execute(
            t.events.insert(),
            [{"meter_id": CL1, "code": 301, "occurred_at": site.now() - timedelta(hours=1), "received_at": site.now()}],
        )
    site.later(20)
    site.tick()
    assert site.status(command) == S.SENT


def test_an_acknowledged_disconnect_whose_effect_never_shows_fails_at_expiry(site: Site) -> None:
    site.seen(CL1)
    command = site.ask("relay_disconnect", expires_in=timedelta(minutes=30))
    site.tick()
    with site.platform.store.transaction() as uow:
        record_acks(uow.commands, [ack(CL1, command, "done")], site.now())
    site.later(1800)
    site.tick()
    stored = site.command(command.command_id)
    assert (stored.status, history(stored)) == (S.FAILED, ["queued", "sent", "acknowledged", "failed"])
    assert "did not show in the meter's data before expiry" in stored.detail


def ack(meter_id: str, command: CommandRecord, status: str, detail: str = "") -> AckFrame:
    return AckFrame(
        v=1, m=meter_id, fc=1, ts=int(START.timestamp()), command_id=command.command_id, status=status, detail=detail
    )


def test_an_answer_from_another_meter_changes_nothing(site: Site) -> None:
    site.seen(CL1)
    command = site.ask("relay_disconnect")
    site.tick()
    with site.platform.store.transaction() as uow:
        assert record_acks(uow.commands, [ack(CL2, command, "done")], site.now()) == 0
    assert site.status(command) == S.SENT


def test_a_late_answer_after_expiry_is_recorded(site: Site) -> None:
    site.seen(CL1)
    command = site.ask("read_now", expires_in=timedelta(minutes=5))
    site.tick()
    site.later(300)
    site.tick()
    with site.platform.store.transaction() as uow:
        record_acks(uow.commands, [ack(CL1, command, "done")], site.now())
    stored = site.command(command.command_id)
    assert history(stored) == ["queued", "sent", "expired", "acknowledged"]
    assert stored.detail == "late: meter answered done"


# ---------------------------------------------------------------------- the API


@pytest.fixture
def api(site: Site) -> TestClient:
    """The API as sharma, an admin (every action), uses it, logged in through /login."""
    client = TestClient(create_app(site.platform, clock=site.clock), base_url="http://localhost")
    log_in_staff(client, site.platform, "sharma", Role.ADMIN)
    return client


def body(**change: Any) -> dict[str, Any]:
    return {"action": "relay_disconnect", "reason": "arrears"} | change


def test_the_api_offers_exactly_the_protocols_actions_but_the_key_change_and_the_permit() -> None:
    # A key change moves the whole fleet (`bijli keys rotate`), and a cutoff permit is the supply
    # service's own (after its warnings); the API lists them, never asks them.
    assert sorted(typing.get_args(Action)) == sorted(a for a in COMMAND_ACTIONS if a not in (KEY_CHANGE, CUTOFF_PERMIT))
    shown = {a for t in typing.get_args(ShownAction) for a in (typing.get_args(t) or (t,))}
    assert shown == set(COMMAND_ACTIONS)


def test_asking_returns_202_with_the_queued_command(api: TestClient, site: Site) -> None:
    r = api.post(f"/api/v1/meters/{CL1}/commands", json=body(idempotency_key="k1", expires_in_s=3600))
    assert r.status_code == 202
    c = r.json()
    assert (c["status"], c["settled"], c["attempts"], c["meter_id"]) == ("queued", False, 0, CL1)
    assert (c["requested_by"], c["reason"], c["idempotency_key"]) == ("sharma", "arrears", "k1")
    assert c["created_at"] == "2026-11-02T04:30:00Z" and c["expires_at"] == "2026-11-02T05:30:00Z"
    assert c["history"] == [
        {"at": "2026-11-02T04:30:00Z", "status": "queued", "detail": "requested by sharma: arrears"}
    ]
    assert c["sent_at"] is None and c["confirmed_at"] is None


def test_asking_again_with_the_key_returns_the_same_command_and_a_different_body_conflicts(api: TestClient) -> None:
    url = f"/api/v1/meters/{CL1}/commands"
    first = api.post(url, json=body(idempotency_key="k1"))
    again = api.post(url, json=body(idempotency_key="k1"))
    other = api.post(url, json=body(idempotency_key="k1", reason="something else"))
    fresh = api.post(url, json=body())
    assert (first.status_code, again.status_code, other.status_code, fresh.status_code) == (202, 200, 409, 202)
    assert again.json()["command_id"] == first.json()["command_id"]
    assert first.json()["command_id"] in other.json()["detail"]
    assert fresh.json()["command_id"] != first.json()["command_id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"action": "self_destruct"}, "Input should be 'relay_connect'"),
        ({"action": "credit", "args": {"amount_paise": -5}}, "amount_paise must be between 1 and"),
        ({"action": "credit", "args": {"amount_paise": "500"}}, "Input should be a valid integer"),
        ({"args": {"delay_s": 5}}, "relay_disconnect takes no 'delay_s'"),
        ({"reason": ""}, "String should have at least 1 character"),
        ({"expires_in_s": 8 * 86_400}, "less than or equal to 604800"),
    ],
)
def test_bad_requests_get_422_with_a_clear_message(api: TestClient, change: dict[str, Any], message: str) -> None:
    r = api.post(f"/api/v1/meters/{CL1}/commands", json=body(**change))
    assert r.status_code == 422
    assert message in str(r.json()["detail"])


def test_who_asks_is_whoever_is_signed_in_and_a_body_naming_someone_is_refused(api: TestClient) -> None:
    r = api.post(f"/api/v1/meters/{CL1}/commands", json=body(requested_by="operator.verma"))
    assert r.status_code == 422 and "requested_by comes from who is signed in" in str(r.json()["detail"])
    assert api.get(f"/api/v1/meters/{CL1}/commands").json()["items"] == []


def test_commands_for_unknown_meters_and_unknown_commands_are_404(api: TestClient) -> None:
    assert api.post("/api/v1/meters/KNZZ0000001/commands", json=body()).status_code == 404
    assert api.get("/api/v1/meters/KNZZ0000001/commands").status_code == 404
    assert api.get("/api/v1/commands/no-such-command").json() == {"detail": "command no-such-command not found"}


def test_a_command_is_followed_through_the_api_to_confirmed(api: TestClient, site: Site) -> None:
    site.meters_come_online()
    command_id = api.post(f"/api/v1/meters/{CL1}/commands", json=body()).json()["command_id"]
    site.tick()
    site.commands_reach_meters()
    site.tick()

    c = api.get(f"/api/v1/commands/{command_id}").json()
    assert (c["status"], c["settled"], c["attempts"]) == ("confirmed", True, 1)
    assert [h["status"] for h in c["history"]] == ["queued", "sent", "acknowledged", "confirmed"]
    times = [c["created_at"], c["sent_at"], c["acknowledged_at"], c["confirmed_at"]]
    assert times == sorted(times) and None not in times
    assert c["failed_at"] is None and c["expired_at"] is None


def test_a_meters_commands_are_listed_newest_first(api: TestClient, site: Site) -> None:
    ids = []
    for n in range(3):
        ids.append(api.post(f"/api/v1/meters/{CL1}/commands", json=body(reason=f"r{n}")).json()["command_id"])
        site.later(1)
    api.post(f"/api/v1/meters/{CL2}/commands", json=body())
    page = api.get(f"/api/v1/meters/{CL1}/commands", params={"limit": 2}).json()
    assert [c["command_id"] for c in page["items"]] == ids[::-1][:2]
    assert page["limit"] == 2


# ---------------------------------------------------------------------- the head-end's downlink on Mosquitto


@pytest.mark.mosquitto
def test_commands_go_out_on_the_head_ends_connection_in_order_once_the_broker_has_them(
    mosquitto: str, topic_root: str
) -> None:
    address = BrokerAddress.parse(mosquitto)
    meter_topic = topics.downlink(topic_root, CL1)

    async def scenario() -> tuple[list[bytes], BaseException | None]:
        async with aiomqtt.Client(address.host, address.port, identifier=f"{topic_root}-meter") as meter:
            await meter.subscribe(meter_topic, qos=1)
            headend = MqttUplink(
                address, topics.uplink_filter(topic_root), f"{topic_root}-headend", asyncio.get_running_loop()
            )
            await headend.start()
            await asyncio.gather(*(headend.publish(meter_topic, b"%03d" % k) for k in range(200)))
            got: list[bytes] = []
            async with asyncio.timeout(15):
                async for message in meter.messages:
                    assert isinstance(message.payload, bytes)
                    got.append(message.payload)
                    if len(got) == 200:
                        break
            await headend.close()
            refused = None
            try:
                await headend.publish(meter_topic, b"after close")
            except BrokerDown as e:
                refused = e
            return got, refused

    got, refused = asyncio.run(scenario())
    assert got == [b"%03d" % k for k in range(200)]
    assert isinstance(refused, BrokerDown)
