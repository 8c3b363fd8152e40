"""Which transformers are flagged, pure: each against its own earlier days (its usual), a
sustained evening excess, missing readings never mistaken for theft, estimates doubted."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date, timedelta

import pytest

from bijli.network.balance import Slot, TransformerDay, transformer_balance
from bijli.network.model import (
    Thresholds,
    estimated_w,
    judge,
    judge_day,
    parse_thresholds,
    thresholds,
    usual,
    whole_slots,
)

FIRST = date(2026, 12, 1)
TH = thresholds()
NOT_IN = Slot(supplied_wh=None, supplied_estimated=False, billed_wh=0, billed_estimated_wh=0, reporting=0)
HOUSE_W = 650.0
"""A house's evening draw, for a consumer whose readings are missing."""


def load_w(n: int) -> float:
    """A December day of 50 houses: a quiet night, a morning peak, a big evening peak (W)."""
    return 12_000 + 10_000 * math.exp(-(((n - 30) / 6) ** 2)) + 30_000 * math.exp(-(((n - 80) / 8) ** 2))


def day(
    k: int,
    *,
    transformer: str = "CL-F01-DT01",
    hook_w: float = 0.0,
    hook_from: int = 74,
    lights_w: float = 0.0,
    constant_w: float = 250.0,
    until: int = 96,
    missing: range = range(0),
    estimated: range = range(0),
    estimate_share: float = 1.0,
) -> TransformerDay:
    """Day `k` of a transformer on a lossy network: its own noise (load, the load loss's day
    factor, the meter's noise), no-load loss, street lights 18:00-06:00, a hook from
    `hook_from` to midnight; `missing`: intervals where one house's reading is not in,
    `estimated`: where VEE estimated it at `estimate_share` of what it drew."""
    rng = random.Random(f"{transformer}-{k}")
    day_factor = rng.lognormvariate(0.0, 0.08)
    slots = []
    for n in range(96):
        if n >= until:
            slots.append(NOT_IN)
            continue
        drawn_w = load_w(n) * rng.uniform(0.9, 1.1)
        night = n >= 72 or n < 24
        unmetered_w = (lights_w if night else 0.0) + (hook_w if n >= hook_from else 0.0)
        load = drawn_w + unmetered_w
        losses_w = constant_w + 0.05 * day_factor * load * load / 43_000
        supplied = round((load + losses_w) / 4 * (1 + rng.gauss(0.0, 0.0008)))
        billed, reporting, estimated_wh, estimates, zero = round(drawn_w / 4), 50, 0, 0, 0
        if n in missing:
            billed, reporting = billed - round(HOUSE_W / 4), 49
        elif n in estimated:
            estimated_wh, estimates = round(HOUSE_W / 4 * estimate_share), 1
            zero = int(estimated_wh == 0)
            billed = billed - round(HOUSE_W / 4) + estimated_wh
        slots.append(
            Slot(
                supplied_wh=supplied,
                supplied_estimated=False,
                billed_wh=billed,
                billed_estimated_wh=estimated_wh,
                reporting=reporting,
                estimated=estimates,
                estimated_zero=zero,
            )
        )
    return TransformerDay(
        transformer=transformer,
        feeder="CL-F01",
        area="Civil Lines",
        day=FIRST + timedelta(days=k),
        consumers=50,
        slots=tuple(slots),
    )


def usual_days(n: int = 3, **kw: float) -> list[tuple[TransformerDay, bool]]:
    return [(day(k, **kw), False) for k in range(n)]  # type: ignore[arg-type]


def test_a_day_like_its_usual_days_is_not_flagged_street_lights_and_all() -> None:
    for lights in (0.0, 1400.0):
        j = judge_day(day(3, lights_w=lights), usual_days(lights_w=lights), TH)
        assert j.usual is not None and j.usual.days == 3
        assert not j.flagged and j.excess_w is not None and abs(j.excess_w) < TH.excess_w / 2


def test_a_hook_for_the_evening_is_flagged_against_the_transformers_own_usual() -> None:
    for lights in (0.0, 1400.0):
        j = judge_day(day(3, lights_w=lights, hook_w=300.0), usual_days(lights_w=lights), TH)
        assert j.flagged and j.excess_w is not None and 150 <= j.excess_w <= 350


def test_the_first_day_has_no_usual_and_a_higher_bar() -> None:
    small, big = judge_day(day(0, hook_w=300.0), [], TH), judge_day(day(0, hook_w=1500.0), [], TH)
    assert small.usual is None and not small.flagged
    assert big.flagged


def test_an_evening_is_judged_once_two_hours_of_it_are_in() -> None:
    # Dusk is 18:00 (interval 72): at 19:00 one hour is in, at 20:00 two.
    at_19 = judge_day(day(3, hook_w=3000.0, hook_from=72, until=76), usual_days(), TH)
    at_20 = judge_day(day(3, hook_w=3000.0, hook_from=72, until=80), usual_days(), TH)
    assert not at_19.flagged and at_20.flagged


def test_a_consumers_missing_readings_never_look_like_theft() -> None:
    gone = judge_day(day(3, missing=range(60, 96)), usual_days(), TH)
    # The balance shows the energy not in yet as a loss; the judgement leaves those hours out.
    assert gone.balance.loss_wh > transformer_balance(day(3)).loss_wh
    assert not gone.flagged
    assert all(s.supplied_wh is None for s in whole_slots(gone.day)[60:96])


def test_an_estimate_of_nothing_is_left_out_and_estimates_raise_the_bars() -> None:
    # VEE estimates 0 Wh where a meter has no reference day: as good as missing.
    nothing = day(3, estimated=range(60, 96), estimate_share=0.0)
    assert all(s.supplied_wh is None for s in whole_slots(nothing)[60:96])
    assert not judge_day(nothing, usual_days(), TH).flagged
    fair = day(3, estimated=range(60, 96))
    assert whole_slots(fair) == fair.slots
    assert estimated_w(fair.slots, evening=True) == pytest.approx(HOUSE_W, abs=4)
    assert estimated_w(fair.slots, evening=False) < estimated_w(fair.slots, evening=True)
    # A hook of 200 W is flagged on actual readings, not on a night a house was estimated.
    assert judge_day(day(3, hook_w=250.0), usual_days(), TH).flagged
    assert not judge_day(day(3, hook_w=250.0, estimated=range(60, 96)), usual_days(), TH).flagged


def test_flagged_days_and_a_hook_too_small_to_flag_stay_out_of_the_usual() -> None:
    clean = usual_days(2)
    with_flagged = usual([*clean, (day(2, hook_w=3000.0), True)], TH)
    assert with_flagged is not None and with_flagged.days == 2
    # A small hook's first night (not flagged) is not admitted: the next night is judged
    # against the days before it.
    first_night = day(2, hook_w=120.0)
    assert not judge_day(first_night, clean, TH).flagged
    u = usual([*clean, (first_night, False)], TH)
    assert u is not None and u.days == 2
    assert judge_day(day(3, hook_w=200.0), [*clean, (first_night, False)], TH).flagged


def test_a_round_the_clock_excess_is_flagged_on_a_whole_day_only() -> None:
    whole = judge_day(day(3, constant_w=250.0 + 900.0), usual_days(), TH)
    assert whole.flagged and whole.excess_w is not None and whole.excess_w >= TH.constant_w
    partial = judge_day(day(3, constant_w=250.0 + 900.0, until=60), usual_days(), TH)
    assert not partial.flagged


def test_judge_takes_each_transformers_own_earlier_days() -> None:
    days = [day(3, transformer="CL-F01-DT01", hook_w=400.0), day(3, transformer="CL-F01-DT02", lights_w=1400.0)]
    earlier = {
        "CL-F01-DT01": usual_days(transformer="CL-F01-DT01"),  # type: ignore[arg-type]
        "CL-F01-DT02": usual_days(transformer="CL-F01-DT02", lights_w=1400.0),  # type: ignore[arg-type]
    }
    judged = {j.day.transformer: j.flagged for j in judge(days, TH, earlier)}
    assert judged == {"CL-F01-DT01": True, "CL-F01-DT02": False}
    # Without their earlier days, neither reaches the first day's bar.
    assert not any(j.flagged for j in judge(days, TH))


def test_too_little_of_a_day_is_not_judged() -> None:
    short = day(3, constant_w=5000.0, until=20)
    j = judge_day(short, usual_days(), TH)
    assert j.fit is None and not j.flagged and j.excess_w is None


SHIPPED = """
excess_w = 150
first_day_w = 500
constant_w = 600
first_day_constant_w = 1500
min_evening_intervals = 8
estimate_doubt = "0.25"
min_intervals = 32
min_coverage = "0.95"
"""


def test_the_shipped_thresholds_read_and_bad_ones_are_refused() -> None:
    assert parse_thresholds(SHIPPED) == TH
    assert isinstance(TH, Thresholds) and TH.excess_w < TH.first_day_w
    with pytest.raises(ValueError, match="out of range"):
        parse_thresholds(SHIPPED.replace("excess_w = 150", "excess_w = 0"))
    with pytest.raises(ValueError, match="out of range"):
        parse_thresholds(SHIPPED.replace('estimate_doubt = "0.25"', 'estimate_doubt = "2"'))
    with pytest.raises(ValueError, match="first_day_w"):
        parse_thresholds(SHIPPED.replace("first_day_w = 500", ""))


def test_a_day_stored_before_estimates_were_counted_still_reads() -> None:
    from bijli.adapters.db.energy import slots_from_json, slots_to_json

    old = slots_from_json("[[100,0,90,5,50],[null,0,0,0,0]]")
    assert old[0] == Slot(supplied_wh=100, supplied_estimated=False, billed_wh=90, billed_estimated_wh=5, reporting=50)
    assert old[0].estimated == old[0].estimated_zero == 0 and old[1].supplied_wh is None
    now = replace(old[0], estimated=2, estimated_zero=1)
    assert slots_from_json(slots_to_json([now])) == (now,)
