"""The energy balance's rules, pure: same intervals on both sides, estimates marked, losses
exact, feeders and areas added up, the trend, the split of a day's losses."""

from __future__ import annotations

import math
from datetime import date, time
from decimal import Decimal

import pytest

from bijli.network.balance import Slot, TransformerDay, added_up, kwh, transformer_balance, trend
from bijli.network.losses import fit, is_night

DAY = date(2026, 11, 2)


def day_of(
    transformer: str = "CL-F01-DT01",
    *,
    area: str = "Civil Lines",
    constant_w: float = 120.0,
    lights_w: float = 0.0,
    i2r: float = 6e-6,
    evening_hook_w: float = 0.0,
    gone: frozenset[int] = frozenset(),
    estimated: frozenset[int] = frozenset(),
) -> TransformerDay:
    slots = []
    for n in range(96):
        billed = round(1200 + 4000 * math.sin(n / 96 * math.pi) ** 2)  # a quiet night, a busy day
        extra = constant_w + (lights_w if is_night(n) else 0.0) + (evening_hook_w if n >= 74 else 0.0)
        supplied = round(billed + i2r * billed**2 + extra / 4)
        slots.append(
            Slot(
                supplied_wh=None if n in gone else supplied,
                supplied_estimated=False,
                billed_wh=billed,
                billed_estimated_wh=billed // 50 if n in estimated else 0,
                reporting=50,
            )
        )
    return TransformerDay(
        transformer=transformer, feeder="CL-F01", area=area, day=DAY, consumers=50, slots=tuple(slots)
    )


def test_intervals_the_transformer_meter_missed_are_left_out_of_both_sides() -> None:
    whole, holed = transformer_balance(day_of()), transformer_balance(day_of(gone=frozenset({5, 6, 7})))
    kept = [s for n, s in enumerate(day_of().slots) if n not in {5, 6, 7}]
    assert holed.intervals == 93 and not holed.complete and whole.complete
    assert holed.billed_wh == sum(s.billed_wh for s in kept)
    assert holed.supplied_wh == sum(s.supplied_wh or 0 for s in kept)
    assert holed.loss_wh == holed.supplied_wh - holed.billed_wh


def test_estimates_are_counted_and_marked() -> None:
    b = transformer_balance(day_of(estimated=frozenset({10, 11})))
    assert b.estimated and b.billed_estimated_wh > 0
    assert not transformer_balance(day_of()).estimated


def test_the_loss_share_is_exact_to_two_places() -> None:
    b = transformer_balance(day_of())
    assert b.loss_pct == (Decimal(b.loss_wh * 100) / Decimal(b.supplied_wh)).quantize(Decimal("0.01"))


def test_a_feeder_adds_up_its_transformers() -> None:
    parts = [transformer_balance(day_of(t)) for t in ("CL-F01-DT01", "CL-F01-DT02")]
    f = added_up("feeder", "CL-F01", DAY, parts)
    assert f.supplied_wh == sum(p.supplied_wh for p in parts) and f.transformers == 2
    assert f.loss_wh == sum(p.loss_wh for p in parts)


def test_trend_is_the_slope_in_points_a_day() -> None:
    days = [(date(2026, 11, d), Decimal(5 + d)) for d in range(1, 5)]
    assert trend(days) == Decimal("1.00")
    assert trend(days[:1]) is None


@pytest.mark.parametrize(("wh", "text"), [(0, "0.000"), (1234, "1.234"), (-500, "-0.500"), (-1500, "-1.500")])
def test_kwh_text_is_exact_and_signed(wh: int, text: str) -> None:
    assert kwh(wh) == text


def test_the_fit_splits_no_load_street_lights_and_the_load_square() -> None:
    f = fit(day_of(constant_w=300.0, lights_w=400.0).slots)
    assert f is not None
    # Within 25 W: the fit's square is of the energy in, the day's own of the energy billed.
    assert f.constant_w == pytest.approx(300, abs=25)
    assert f.night_w == pytest.approx(400, abs=25)


def test_night_runs_from_dusk_to_dawn() -> None:
    assert is_night(0) and is_night(23) and not is_night(24) and not is_night(71) and is_night(72)
    assert is_night(40, (time(10, 0), time(11, 0))) and not is_night(44, (time(10, 0), time(11, 0)))


def test_the_fit_sees_a_hook_for_the_evening_beyond_street_lights_that_burn_all_night() -> None:
    f = fit(day_of(evening_hook_w=300.0, lights_w=900.0).slots)
    # Within 100 W: the load square, fitted on the energy in, takes a little of each.
    assert f is not None and f.evening_w == pytest.approx(300, abs=100) and f.night_w == pytest.approx(900, abs=100)
