"""The twin's sensed conditions: events at once, tamper under-recording, silence and backlog, hooking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from bijli.fleet.city import build_city, transformer_meters
from bijli.fleet.twin import DT_LOSSES, Outgoing
from bijli.kernel.time import INTERVAL_S
from bijli.meter.sensors import CONDITIONS
from bijli.protocol.frames import ReadingFrame, StatusFrame
from tests.unit.fleet.world import T0, events, frame, of
from tests.unit.fleet.world import World as BaseWorld

CL = "Civil Lines"
CITY = sorted(build_city(8), key=lambda c: c.area)  # four consumers per area, one transformer each
DTS = transformer_meters(CITY)
CL_DT = next(t for t in DTS if t.area == CL)
METER = CITY[0].meter_id  # a Civil Lines consumer on CL_DT
NEIGHBOURS = [c.meter_id for c in CITY if c.transformer == CL_DT.transformer]
UNDER_RECORDING = [n for n, c in CONDITIONS.items() if c.recorded_share < 1.0 and n != "power_failure"]
FAITHFUL = [n for n, c in CONDITIONS.items() if c.recorded_share == 1.0]


class World(BaseWorld):
    """Four consumers in each area, each area's transformer with its meter."""

    def __init__(self) -> None:
        super().__init__(CITY, DTS)

    def condition(self, name: str, meter_id: str, on: bool, at: float) -> list[Outgoing]:
        """Run to `at`, let the condition start or end there, and take what went out at that moment."""
        self.run_to(at)
        self.twin.condition(name, [self.twin.index[meter_id]], on, at)
        return self.run_to(at)


def recorded(sent: Sequence[Outgoing], start: float) -> dict[str, int]:
    """Each meter's recorded import for the interval starting at `start`."""
    return {
        f.m: r.import_wh
        for f in map(frame, sent)
        if isinstance(f, ReadingFrame)
        for r in f.intervals
        if r.start == start
    }


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_each_condition_is_logged_the_moment_it_starts_and_ends(name: str) -> None:
    spec = CONDITIONS[name]
    world = World()
    on, off = T0 + INTERVAL_S + 300, T0 + 2 * INTERVAL_S + 600

    started = world.condition(name, METER, True, on)
    ended = world.condition(name, METER, False, off)

    assert events(of(METER, started)) == [(spec.occurred, on)]
    assert {o.at for o in started} == {on}
    if spec.restored is None:
        assert of(METER, ended) == []
    else:
        assert events(of(METER, ended)) == [(spec.restored, off)]
        assert all(o.at == off for o in ended)


@pytest.mark.parametrize("name", UNDER_RECORDING)
def test_a_tamper_records_less_than_the_transformer_supplied(name: str) -> None:
    honest, tampered = World(), World()
    interval = T0 + 2 * INTERVAL_S
    for world in (honest, tampered):
        world.run_to(interval)
    tampered.condition(name, METER, True, interval)

    supplied = recorded(honest.run_to(interval + INTERVAL_S + 30), interval)
    metered = recorded(tampered.run_to(interval + INTERVAL_S + 30), interval)

    share = CONDITIONS[name].recorded_share
    assert supplied[METER] > 20
    assert metered[METER] < supplied[METER]
    assert abs(metered[METER] - share * supplied[METER]) <= 1
    assert {m: w for m, w in metered.items() if m != METER} == {m: w for m, w in supplied.items() if m != METER}
    # The transformer's meter sees what was really drawn, so the gap shows in the energy balance.
    expected_dt = int(np.rint(DT_LOSSES * sum(supplied[m] for m in NEIGHBOURS)))
    assert supplied[CL_DT.meter_id] == metered[CL_DT.meter_id] == expected_dt
    assert metered[CL_DT.meter_id] - DT_LOSSES * sum(metered[m] for m in NEIGHBOURS) == pytest.approx(
        DT_LOSSES * (supplied[METER] - metered[METER]), abs=1
    )


@pytest.mark.parametrize("name", FAITHFUL)
def test_conditions_that_do_not_touch_the_measurement_record_everything(name: str) -> None:
    honest, tampered = World(), World()
    interval = T0 + 2 * INTERVAL_S
    for world in (honest, tampered):
        world.run_to(interval)
    tampered.condition(name, METER, True, interval)
    tampered.condition(name, METER, False, interval + INTERVAL_S - 60)

    supplied = recorded(honest.run_to(interval + INTERVAL_S + 30), interval)
    metered = recorded(tampered.run_to(interval + INTERVAL_S + 30), interval)

    assert metered == supplied


def test_a_meter_without_supply_sends_its_last_gasp_then_nothing_until_restoration_then_its_backlog() -> None:
    world = World()
    fail, restore = T0 + INTERVAL_S + 300, T0 + INTERVAL_S + 300 + 3600

    gasp = world.condition("power_failure", METER, True, fail)
    silent = world.run_to(restore)
    back = world.condition("power_failure", METER, False, restore)

    assert events(of(METER, gasp)) == [(101, fail)]
    assert of(METER, silent) == []
    first, second, *rest = of(METER, back)
    assert events([first]) == [(102, restore)]
    assert isinstance(second, StatusFrame)
    (backlog,) = rest
    assert isinstance(backlog, ReadingFrame)
    assert [r.start for r in backlog.intervals] == [int(T0) + k * INTERVAL_S for k in (1, 2, 3, 4)]
    dark = backlog.intervals[1:]  # the intervals with no supply at all
    assert [(r.import_wh, r.voltage_dv, r.current_ma) for r in dark] == [(0, 0, 0)] * 3
    assert backlog.intervals[0].import_wh > 0  # supplied for two thirds of it
    assert [f.fc for f in of(METER, back)] == sorted(f.fc for f in of(METER, back))


def test_a_removed_comm_module_keeps_events_and_readings_until_refitted() -> None:
    world = World()
    removed, refitted = T0 + INTERVAL_S + 300, T0 + INTERVAL_S + 300 + 3600

    gone = world.condition("comm_module_removed", METER, True, removed)
    world.condition("magnet", METER, True, removed + 600)
    world.condition("magnet", METER, False, removed + 900)
    silent = world.run_to(refitted)
    back = world.condition("comm_module_removed", METER, False, refitted)

    assert events(of(METER, gone)) == [(209, removed)]
    assert of(METER, silent) == []
    first, second, readings, held = of(METER, back)
    assert events([first]) == [(210, refitted)]
    assert isinstance(second, StatusFrame)
    assert isinstance(readings, ReadingFrame)
    assert [r.start for r in readings.intervals] == [int(T0) + k * INTERVAL_S for k in (1, 2, 3, 4)]
    assert all(r.import_wh > 0 for r in readings.intervals)  # the meter kept metering
    assert events([held]) == [(201, removed + 600), (202, removed + 900)]


def test_conditions_while_offline_are_delivered_in_order_when_back() -> None:
    world = World()
    down, up = T0 + INTERVAL_S + 60, T0 + INTERVAL_S + 60 + 7200
    world.run_to(down)
    for operator in ("Jio", "Airtel"):
        world.twin.network(operator, CL, False, down)

    quiet = world.condition("magnet", METER, True, down + 100)
    quiet += world.condition("magnet", METER, False, down + 700)
    quiet += world.condition("cover_open", METER, True, down + 1500)
    quiet += world.condition("bypass", METER, True, down + 2000)
    quiet += world.run_to(up)
    for operator in ("Jio", "Airtel"):
        world.twin.network(operator, CL, True, up)
    back = world.run_to(up + 60)

    assert of(METER, quiet) == []
    assert events(of(METER, back)) == [(201, down + 100), (202, down + 700), (251, down + 1500), (65, down + 2000)]


def test_hooking_raises_only_the_transformer_meters_reading() -> None:
    honest, hooked = World(), World()
    interval = T0 + 2 * INTERVAL_S
    for world in (honest, hooked):
        world.run_to(interval)
    hooked.twin.hook(CL_DT.transformer, 2000.0, interval)
    hooked.run_to(interval + 2 * INTERVAL_S)
    hooked.twin.hook(CL_DT.transformer, 0.0, interval + 2 * INTERVAL_S)

    honest.run_to(interval + 4 * INTERVAL_S)
    hooked.run_to(interval + 4 * INTERVAL_S)

    for k in range(4):
        start = interval + k * INTERVAL_S
        fair, unfair = recorded(honest.log, start), recorded(hooked.log, start)
        extra = 500 if k < 2 else 0  # 2,000 W for a quarter hour, then the hook is gone
        assert unfair[CL_DT.meter_id] - fair[CL_DT.meter_id] == extra
        assert {m: w for m, w in unfair.items() if m != CL_DT.meter_id} == {
            m: w for m, w in fair.items() if m != CL_DT.meter_id
        }


def test_a_hook_from_half_way_through_an_interval_adds_half_its_energy() -> None:
    honest, hooked = World(), World()
    interval = T0 + 2 * INTERVAL_S
    for world in (honest, hooked):
        world.run_to(interval + INTERVAL_S / 2)
    hooked.twin.hook(CL_DT.transformer, 2000.0, interval + INTERVAL_S / 2)

    fair = recorded(honest.run_to(interval + INTERVAL_S + 30), interval)
    unfair = recorded(hooked.run_to(interval + INTERVAL_S + 30), interval)

    assert unfair[CL_DT.meter_id] - fair[CL_DT.meter_id] == 250


def test_a_meter_without_supply_counts_no_connected_seconds() -> None:
    world = World()
    fail, restore = T0 + INTERVAL_S, T0 + INTERVAL_S + 3600

    world.condition("power_failure", METER, True, fail)
    world.run_to(restore)
    back = world.condition("power_failure", METER, False, restore)

    (state,) = [f for f in of(METER, back) if isinstance(f, StatusFrame)]
    assert state.sim1_s + state.sim2_s <= (restore - T0) - 3600
