"""The lossy network: I²R and no-load losses, meter errors within class, street lights, dead modems."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from bijli.fleet.city import build_city, transformer_meters
from bijli.fleet.grid import GridOptions, LossyGrid
from bijli.fleet.scenario import ScenarioError, parse
from bijli.fleet.twin import FleetTwin, TwinOptions
from bijli.kernel.time import INTERVAL, INTERVAL_S, IST, ist_midnight
from bijli.protocol.frames import EventFrame, ReadingFrame
from tests.unit.fleet.world import LMV1, SECRET, T0, frame, of
from tests.unit.fleet.world import World as BaseWorld

CITY = build_city(200)
DTS = transformer_meters(CITY)
LOSSY = TwinOptions(drift_ppm=0, grid=GridOptions(lossy=True, street_lights=0.5))


def lossy_twin(days: int, hook_w: float = 0.0) -> FleetTwin:
    start = ist_midnight(date(2026, 12, 1))
    twin = FleetTwin(CITY, DTS, SECRET, LMV1, start=start, first_counter=0, options=LOSSY)
    for k in range(96 * days):
        at = start + k * INTERVAL
        local = at.astimezone(IST)
        if hook_w and local.hour == 18 and local.minute == 0:
            twin.hook(DTS[0].transformer, hook_w, at)
        if hook_w and local.hour == 0 and local.minute == 0:
            twin.hook(DTS[0].transformer, 0.0, at)
        twin.close_interval(at)
        twin.take_outgoing()
    return twin


def grid(**options: float) -> LossyGrid:
    return LossyGrid(GridOptions(lossy=True, **options), np.array([40_000.0, 20_000.0]), 102, 100, seed=7)  # type: ignore[arg-type]


def test_load_losses_grow_with_the_square_of_the_load_and_the_no_load_part_does_not() -> None:
    g = grid(street_lights=0.0)
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=IST)
    on = np.ones(2)
    _, low, no_load_low, _ = g.transformer_wh(noon, np.array([2000.0, 2000.0]), np.zeros(2), on)
    _, high, no_load_high, _ = g.transformer_wh(noon, np.array([4000.0, 4000.0]), np.zeros(2), on)

    assert high == pytest.approx(4 * low)
    assert no_load_low == pytest.approx(no_load_high)
    assert (no_load_low == g.no_load_w / 4).all()
    _, _, dark, _ = g.transformer_wh(noon, np.zeros(2), np.zeros(2), np.zeros(2))
    assert (dark == 0).all()  # without supply, no core losses either


def test_at_its_typical_peak_a_transformer_loses_a_few_percent_in_its_lines() -> None:
    g = grid(street_lights=0.0)
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=IST)
    peak_wh = np.array([40_000.0, 20_000.0]) / 4
    _, losses, _, _ = g.transformer_wh(noon, peak_wh, np.zeros(2), np.ones(2))
    share = losses / peak_wh
    assert ((share > 0.02) & (share < 0.09)).all()


def test_meter_errors_stay_within_their_accuracy_class_with_a_fixed_bias() -> None:
    g = grid()
    errors = np.stack([g.errors(k) for k in range(400)])
    consumers, dts = errors[:, :100], errors[:, 100:]

    assert np.abs(consumers).max() <= 0.01
    assert np.abs(dts).max() <= 0.005
    assert np.abs(dts).max() > 0.001  # not exact either
    assert errors.mean(axis=0) == pytest.approx(g.bias, abs=0.0005)  # each meter keeps its own bias
    assert np.abs(g.bias[:100]).max() > 0.003


def test_street_lights_burn_from_evening_to_morning_on_some_transformers_only() -> None:
    g = grid(street_lights=1.0)
    on = np.ones(2)
    zero = np.zeros(2)
    for hour, lit in ((12, False), (15, False), (22, True), (2, True)):
        at = datetime(2026, 12, 1, hour, 0, tzinfo=IST)
        *_, lights = g.transformer_wh(at, zero, zero, on)
        assert (lights > 0).all() == lit, hour
    assert (grid(street_lights=0.0).street_light_w == 0).all()
    dusk = datetime(2026, 12, 1, 17, 30, tzinfo=IST) + timedelta(minutes=int(g.lights_on_min.max()) - 17 * 60 - 30)
    share = g.lit_share(dusk - timedelta(minutes=7))
    assert ((share >= 0) & (share <= 1)).all()


def test_the_ledger_adds_up_and_the_transformer_meter_reads_it_within_its_class() -> None:
    twin = lossy_twin(days=1, hook_w=1000.0)
    assert twin.grid is not None
    (book,) = twin.grid.ledger.days.values()
    parts = book.consumers_real + book.load_losses + book.no_load_losses + book.street_lights + book.hooked
    assert book.dt_real == pytest.approx(parts)
    assert np.abs(book.dt_recorded / book.dt_real - 1).max() < 0.005
    assert book.hooked[0] == pytest.approx(6000, abs=1)  # 1 kW from 18:00 to midnight
    assert (book.hooked[1:] == 0).all()
    unexplained = (book.dt_recorded - book.consumers_recorded) / book.dt_recorded
    assert ((unexplained > 0.01) & (unexplained < 0.15)).all()  # no flat 3 % any more


def test_a_300_watt_hook_on_a_50_house_transformer_sits_near_the_day_to_day_noise() -> None:
    twin = lossy_twin(days=5)
    assert twin.grid is not None
    days = list(twin.grid.ledger.days.values())
    unexplained = np.array([b.dt_recorded - b.consumers_recorded for b in days], dtype=np.float64)
    noise = unexplained.std(axis=0)
    hook = 300 * 6  # Wh a day of a 300 W hook from 18:00 to midnight
    assert np.median(noise) > hook / 4
    assert np.median(noise) < hook * 2  # near the noise, not lost in it


def test_without_a_lossy_grid_nothing_changes() -> None:
    assert TwinOptions().grid.lossy is False
    world = BaseWorld(CITY, DTS)
    assert world.twin.grid is None


def test_a_dead_modem_silences_a_meter_without_an_event_and_it_delivers_everything_when_mended() -> None:
    world = BaseWorld(CITY, DTS)
    meter = CITY[0].meter_id
    world.run_to(T0 + 60)
    world.twin.modem_fault([0], True, T0 + 60)
    quiet = world.run_to(T0 + 4 * INTERVAL_S + 30)
    world.twin.modem_fault([0], False, T0 + 4 * INTERVAL_S + 30)
    back = world.run_to(T0 + 4 * INTERVAL_S + 60)

    assert of(meter, quiet) == []
    mine = of(meter, back)
    assert not [f for f in mine if isinstance(f, EventFrame)]
    starts = [r.start for f in mine if isinstance(f, ReadingFrame) for r in f.intervals]
    assert starts == [int(T0) + k * INTERVAL_S for k in range(4)]
    assert all(frame(o).m for o in back)


def test_a_scenario_network_table_makes_the_grid_lossy_and_chooses_dead_modems() -> None:
    doc = {"start": date(2026, 12, 1), "days": 2, "meters": 400, "network": {"offline": 0.01, "street_lights": 0.2}}
    scenario = parse(doc)

    assert scenario.network is not None
    assert scenario.network.lossy
    assert scenario.network.street_lights == 0.2
    offline = [f for f in scenario.truth if f["kind"] == "offline"]
    assert len(offline) == 4
    assert len([a for a in scenario.actions if "modem" in a.what]) == 8
    assert parse({"start": date(2026, 12, 1)}).network is None


@pytest.mark.parametrize(
    "table", [{"lossless": True}, {"offline": 2}, {"street_lights": -0.1}, {"consumer_class_pct": 0}]
)
def test_a_bad_network_table_is_refused_with_its_reason(table: dict[str, object]) -> None:
    with pytest.raises(ScenarioError, match=r"\[network\]"):
        parse({"start": date(2026, 12, 1), "network": table})
