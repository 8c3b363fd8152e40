"""The twin's dual-SIM modem: failover, store and forward through outages, back to the preferred SIM."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import pairwise

import pytest

from bijli.fleet.city import AREAS, Consumer, build_city, transformer_meters
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.kernel.time import INTERVAL_S
from bijli.meter.modem import DEFAULT_TIMERS
from bijli.protocol.frames import ReadingFrame, StatusFrame, UplinkFrame
from tests.unit.fleet.world import LMV1, SECRET, START, T0, frame
from tests.unit.fleet.world import World as BaseWorld

CL, MR = "Civil Lines", "Mall Road"
CITY = build_city(8)
TIMERS = DEFAULT_TIMERS
BOUND = TIMERS.failover_bound_s


class World(BaseWorld):
    """The city of eight, each transformer with its meter."""

    def __init__(self, consumers: Sequence[Consumer] = CITY) -> None:
        super().__init__(consumers, transformer_meters(list(consumers)))

    def meters_in(self, area: str) -> list[str]:
        return [m for m, a in zip(self.twin.meter_ids, self.twin.areas.tolist(), strict=True) if a == area]

    def every_interval_once(self) -> Counter[tuple[str, int]]:
        """What the head-end should hold: each meter's reading of each closed interval, once."""
        return Counter((m, int(T0) + k * INTERVAL_S) for m in self.twin.meter_ids for k in range(self.closed))


def readings(sent: Sequence[Outgoing]) -> Counter[tuple[str, int]]:
    """How many times each (meter, interval start) was delivered."""
    return Counter((f.m, r.start) for f in map(frame, sent) if isinstance(f, ReadingFrame) for r in f.intervals)


def statuses(sent: Sequence[Outgoing]) -> list[tuple[float, StatusFrame]]:
    return [(o.at, f) for o in sent if isinstance(f := frame(o), StatusFrame)]


def preferred_operator(world: World) -> dict[str, str]:
    """Each meter's operator as its first status frame reports it."""
    first = world.run_to(T0 + INTERVAL_S + 30)
    return {f.m: f.operator for _, f in statuses(first)}


def jio_outage_in_civil_lines() -> tuple[World, float, list[str], list[str]]:
    """Jio goes down in Civil Lines 10 s before the third interval closes.

    Returns the world, the moment, the meters that lose their network, and the others.
    """
    world = World()
    operator = preferred_operator(world)
    t = T0 + 3 * INTERVAL_S - 10
    world.run_to(t)
    world.twin.network("Jio", CL, False, t)
    hit = [m for m in world.meters_in(CL) if operator[m] == "Jio"]
    spared = [m for m in world.twin.meter_ids if m not in hit]
    assert hit and any(m in spared for m in world.meters_in(CL))
    return world, t, hit, spared


def test_both_areas_have_meters_on_either_operator() -> None:
    world = World()
    operator = preferred_operator(world)

    for area in (CL, MR):
        assert {operator[m] for m in world.meters_in(area)} == {"Jio", "Airtel"}


def test_meters_that_lose_their_operator_are_on_the_other_sim_within_30_seconds() -> None:
    world, t, hit, _ = jio_outage_in_civil_lines()
    twin = world.twin
    hit_i = [twin.index[m] for m in hit]

    world.run_to(t + 1)
    assert not twin.connected[hit_i].any()
    sent = world.run_to(t + BOUND)

    assert BOUND == 30
    assert twin.connected[hit_i].all()
    assert (twin.active_sim[hit_i] == 1).all()
    switched = {f.m: f for _, f in statuses(sent)}
    assert sorted(switched) == sorted(hit)
    for status in switched.values():
        assert 0 <= status.switched_at - t <= BOUND
        assert (status.sim, status.operator, status.failovers) == (2, "Airtel", 1)


def test_other_areas_and_meters_on_the_other_operator_are_untouched() -> None:
    world, t, _, spared = jio_outage_in_civil_lines()
    twin = world.twin
    spared_i = [twin.index[m] for m in spared]

    sent = world.run_to(t + 2 * 3600)

    assert twin.connected[spared_i].all()
    assert (twin.active_sim[spared_i] == 0).all()
    reports = [s for _, s in statuses(sent) if s.m in spared]
    assert len(reports) == len(spared) * 2  # the hourly ones, nothing about a switch
    assert {(s.sim, s.failovers, s.switched_at) for s in reports} == {(1, 0, 0)}


def test_no_reading_is_missing_or_doubled_across_an_operator_outage() -> None:
    world, t, hit, _ = jio_outage_in_civil_lines()

    world.run_to(t + 3 * 3600)
    world.twin.network("Jio", CL, True, t + 3 * 3600)
    world.run_to(t + 6 * 3600)

    assert readings(world.log) == world.every_interval_once()
    # The interval that closed while they were between SIMs went out with the failover.
    late = [o for o in world.log if o.at == t + TIMERS.detect_s + TIMERS.register_s]
    assert {(f.m, type(f).__name__) for f in map(frame, late)} == {
        (m, kind) for m in hit for kind in ("StatusFrame", "ReadingFrame")
    }


def test_meters_go_back_to_the_preferred_sim_after_an_hour_of_healthy_network_and_not_before() -> None:
    world, t, hit, _ = jio_outage_in_civil_lines()
    twin = world.twin
    hit_i = [twin.index[m] for m in hit]
    back = t + 2 * 3600 + 123

    world.run_to(back)
    twin.network("Jio", CL, True, back)
    waiting = world.run_to(back + TIMERS.return_after_s - 1)

    assert TIMERS.return_after_s == 3600
    assert (twin.active_sim[hit_i] == 1).all()
    assert all(s.sim == 2 for _, s in statuses(waiting) if s.m in hit)

    returned = world.run_to(back + TIMERS.return_after_s)

    assert (twin.active_sim[hit_i] == 0).all()
    assert twin.connected[hit_i].all()
    on_return = {s.m: (at, s) for at, s in statuses(returned)}
    assert sorted(on_return) == sorted(hit)
    for at, status in on_return.values():
        assert at == back + 3600
        assert (status.sim, status.operator, status.failovers) == (1, "Jio", 2)
        assert status.switched_at == back + 3600


def test_a_network_that_fails_again_restarts_the_hour_before_the_return() -> None:
    world, t, hit, _ = jio_outage_in_civil_lines()
    twin = world.twin
    hit_i = [twin.index[m] for m in hit]
    back = t + 3600

    for moment, up in ((back, True), (back + 1800, False), (back + 2400, True)):
        world.run_to(moment)
        twin.network("Jio", CL, up, moment)
    world.run_to(back + 2400 + 3599)
    assert (twin.active_sim[hit_i] == 1).all()
    world.run_to(back + 2400 + 3600)
    assert (twin.active_sim[hit_i] == 0).all()


def test_seconds_on_each_sim_add_up_to_the_connected_time() -> None:
    world, t, hit, _ = jio_outage_in_civil_lines()
    back = t + 2 * 3600
    returned = back + TIMERS.return_after_s
    gap = TIMERS.detect_s + TIMERS.register_s  # offline between losing Jio and registering on Airtel

    world.run_to(back)
    world.twin.network("Jio", CL, True, back)
    world.run_to(returned + 1800)

    def connected_until(m: str, moment: float) -> float:
        lost = min(gap, max(0.0, moment - t)) if m in hit else 0.0
        return moment - T0 - lost

    seen = statuses(world.log)
    assert {s.m for _, s in seen} == set(world.twin.meter_ids)
    for _, s in seen:
        assert s.sim1_s + s.sim2_s == connected_until(s.m, s.ts)
    last = {s.m: s for _, s in seen}
    for m, s in last.items():
        assert s.sim2_s == (returned - (t + gap) if m in hit else 0)


def test_meters_without_any_network_for_6_hours_deliver_everything_after() -> None:
    world = World()
    world.run_to(T0 + 4 * INTERVAL_S + 60)
    down = T0 + 4 * INTERVAL_S + 60
    for operator in ("Jio", "Airtel"):
        world.twin.network(operator, CL, False, down)
    dark = world.meters_in(CL)

    during = world.run_to(down + 6 * 3600)
    for operator in ("Jio", "Airtel"):
        world.twin.network(operator, CL, True, down + 6 * 3600)
    after = world.run_to(down + 8 * 3600)

    assert [o for o in during if frame(o).m in dark] == []
    assert readings(world.log) == world.every_interval_once()
    for m in dark:
        mine = [frame(o) for o in after if frame(o).m == m]
        assert isinstance(mine[0], StatusFrame)  # status first, then the backlog
        backlog = mine[1]
        assert isinstance(backlog, ReadingFrame)
        starts = [r.start for r in backlog.intervals]
        assert starts == [int(T0) + k * INTERVAL_S for k in range(4, 28)]  # 24, oldest first
        live = [f for f in mine[2:] if isinstance(f, ReadingFrame)]
        assert [len(f.intervals) for f in live] == [1] * 8
        assert [f.intervals[0].start for f in live] == [int(T0) + k * INTERVAL_S for k in range(28, 36)]
        counters = [f.fc for f in mine]
        assert counters == sorted(counters)
        assert len(set(counters)) == len(counters)


@pytest.mark.parametrize("operators", [("Jio",), ("Jio", "Airtel")], ids=["jio", "both"])
def test_a_flapping_network_loses_and_doubles_no_reading(operators: tuple[str, ...]) -> None:
    world = World()
    flap = T0 + 2 * INTERVAL_S + 100

    for k in range(12):  # down, up, down, ... every ten minutes for two hours
        moment = flap + k * 600
        world.run_to(moment)
        for operator in operators:
            world.twin.network(operator, CL, k % 2 == 1, moment)
    world.run_to(flap + 3 * 3600)

    assert readings(world.log) == world.every_interval_once()
    assert world.twin.connected.all()


def counters_strictly_increase(log: Sequence[Outgoing]) -> bool:
    seen: dict[str, list[int]] = defaultdict(list)
    for out in log:
        f = frame(out)
        seen[f.m].append(f.fc)
    return all(b > a for fcs in seen.values() for a, b in pairwise(fcs))


def test_a_broker_outage_delivers_everything_after_once_with_new_counters() -> None:
    world = World()
    twin = world.twin
    sent = world.run_to(T0 + 2 * INTERVAL_S + 25)
    in_flight = [o for o in sent if o.at == T0 + 2 * INTERVAL_S + 20]  # no PUBACK came back
    down = T0 + 2 * INTERVAL_S + 25

    twin.broker(False, down)
    twin.undelivered(in_flight)
    during = world.run_to(down + 1800)
    twin.broker(True, down + 1800)
    after = world.run_to(down + 1800 + 2 * INTERVAL_S)

    assert during == []
    delivered = [o for o in world.log if o not in in_flight]
    assert readings(delivered) == world.every_interval_once()
    assert counters_strictly_increase(world.log)
    assert not {o.payload for o in after} & {o.payload for o in in_flight}
    first: dict[str, UplinkFrame] = {}
    for o in after:
        first.setdefault(frame(o).m, frame(o))
    assert all(isinstance(f, StatusFrame) for f in first.values())  # status before the backlog
    assert len(first) == twin.n


def carried(sent: Sequence[Outgoing]) -> list[tuple[str, list[int]]]:
    """Each reading frame's meter and interval starts."""
    return [(f.m, [r.start for r in f.intervals]) for f in map(frame, sent) if isinstance(f, ReadingFrame)]


def test_undelivered_frames_are_sealed_anew_on_retry_never_resent() -> None:
    world = World()
    twin = world.twin
    sent = world.run_to(T0 + 3 * INTERVAL_S + 25)
    lost = [o for o in sent if isinstance(frame(o), ReadingFrame) and o.at == T0 + 3 * INTERVAL_S + 20]

    twin.undelivered(lost)
    twin.retry(T0 + 3 * INTERVAL_S + 60)
    again = world.run_to(T0 + 3 * INTERVAL_S + 60)

    assert sorted(carried(again)) == sorted(carried(lost))
    assert not {o.payload for o in again} & {o.payload for o in world.log if o not in again}
    lost_fc = {frame(o).m: frame(o).fc for o in lost}
    assert all(frame(o).fc > lost_fc[frame(o).m] for o in again)
    world.run_to(T0 + 6 * INTERVAL_S)
    assert counters_strictly_increase(world.log)
    assert readings([o for o in world.log if o not in lost]) == world.every_interval_once()


def test_meters_come_back_on_their_preferred_sim_when_both_networks_return_together() -> None:
    world = World()
    down, up = T0 + 60, T0 + 3600 + 60
    world.run_to(down)
    for operator in ("Jio", "Airtel"):
        world.twin.network(operator, CL, False, down)
    world.run_to(up)
    for operator in ("Jio", "Airtel"):
        world.twin.network(operator, CL, True, up)
    world.run_to(up + BOUND)

    assert world.twin.connected.all()
    assert (world.twin.active_sim == 0).all()
    assert (world.twin.failovers == 0).all()


def test_a_built_city_has_both_preferred_operators_in_each_area() -> None:
    city = build_city(20)
    twin = FleetTwin(city, [], SECRET, LMV1, start=START, first_counter=0, options=TwinOptions(drift_ppm=0))
    twin.close_interval(START)
    preferred = {f.m: f.operator for _, f in statuses(twin.take_outgoing())}

    for area, _ in AREAS:
        assert {preferred[c.meter_id] for c in city if c.area == area} == {"Jio", "Airtel"}


def test_scenario_moments_may_be_whole_epoch_seconds() -> None:
    world = World()
    operator = preferred_operator(world)
    moment = int(T0) + 2 * INTERVAL_S  # an int, which the `datetime | float` hint admits

    world.twin.network("Jio", CL, False, moment)
    world.twin.advance(moment + BOUND)

    assert world.twin.connected.all()
    assert world.twin.failovers.sum() == sum(operator[m] == "Jio" for m in world.meters_in(CL))


def test_nothing_goes_out_while_the_broker_is_down_even_on_a_return_to_the_preferred_sim() -> None:
    world, t, hit, _ = jio_outage_in_civil_lines()
    world.run_to(t + 600)
    world.twin.network("Jio", CL, True, t + 600)
    world.run_to(t + 1200)
    world.twin.broker(False, t + 1200)

    during = world.run_to(t + 600 + TIMERS.return_after_s + 60)

    assert (world.twin.active_sim[[world.twin.index[m] for m in hit]] == 0).all()
    assert during == []


def test_counters_rise_in_the_order_frames_go_out_when_something_happens_as_the_broker_returns() -> None:
    world = World()
    twin = world.twin
    world.run_to(T0 + 300)
    twin.broker(False, T0 + 300)
    world.run_to(T0 + 2 * INTERVAL_S + 300)

    twin.broker(True, T0 + 2 * INTERVAL_S + 300)
    twin.condition("cover_open", [0], True, T0 + 2 * INTERVAL_S + 303)
    world.run_to(T0 + 2 * INTERVAL_S + 330)

    assert counters_strictly_increase(world.log)
