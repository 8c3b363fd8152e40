"""The day chart: one bar per interval received, IST hours, exact totals."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bijli.adapters.db.queries import ReadingView
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.web.chart import day_chart

DAY = date(2026, 11, 2)


def reading(slot: int, wh: int, day: date = DAY, quality: str = "actual") -> ReadingView:
    return ReadingView(
        interval_start=ist_midnight(day) + slot * INTERVAL,
        import_wh=wh,
        import_wh_total=10_000 + wh,
        voltage_dv=2300,
        current_ma=500,
        quality=quality,
    )


def test_a_full_day_has_96_bars_and_an_exact_total() -> None:
    chart = day_chart(DAY, [reading(n, 100 + n) for n in range(96)])
    assert len(chart.bars) == 96
    assert chart.intervals_received == 96
    assert chart.total_kwh == Decimal(sum(100 + n for n in range(96))) / 1000
    assert chart.peak is not None and chart.peak.span == "23:45\u201300:00"
    assert chart.peak.kwh == Decimal("0.195")


def test_bars_grow_with_energy_and_stay_inside_the_plot() -> None:
    chart = day_chart(DAY, [reading(0, 50), reading(1, 200), reading(2, 0)])
    small, big, empty = chart.bars
    assert big.height > small.height > empty.height == 0
    for bar in chart.bars:
        assert chart.top <= bar.y <= chart.baseline
        assert abs(bar.y + bar.height - chart.baseline) < 1e-9
    assert chart.levels[-1].position <= big.y + 1e-9


def test_missing_intervals_leave_gaps_where_they_belong() -> None:
    chart = day_chart(DAY, [reading(0, 10), reading(95, 10)])
    first, last = chart.bars
    assert first.span == "00:00\u201300:15"
    assert last.span == "23:45\u201300:00"
    assert last.x - first.x > 0.9 * chart.plot_width


def test_readings_of_other_days_are_left_out() -> None:
    chart = day_chart(
        DAY, [reading(0, 10, DAY - timedelta(days=1)), reading(0, 20), reading(0, 30, DAY + timedelta(days=1))]
    )
    assert [b.kwh for b in chart.bars] == [Decimal("0.020")]


def test_hours_are_labelled_in_ist_every_three_hours() -> None:
    chart = day_chart(DAY, [])
    assert [h.label for h in chart.hours] == [f"{h:02d}:00" for h in range(0, 25, 3)]
    assert chart.bars == [] and chart.peak is None and chart.total_kwh == 0


def test_gridlines_are_round_numbers_above_the_peak() -> None:
    chart = day_chart(DAY, [reading(0, 730)])
    assert [lv.label for lv in chart.levels] == ["0", "0.2", "0.4", "0.6", "0.8"]


def test_estimated_intervals_are_drawn_apart_and_left_out_of_what_was_measured() -> None:
    readings = [reading(0, 100), reading(1, 400, quality="estimated"), reading(2, 150)]

    chart = day_chart(DAY, readings)

    assert [b.estimated for b in chart.bars] == [False, True, False]
    assert chart.total_kwh == Decimal("0.250") and chart.estimated_kwh == Decimal("0.400")
    assert (chart.intervals_received, chart.intervals_estimated) == (2, 1)
    assert chart.peak is not None and chart.peak.kwh == Decimal("0.150")  # an estimate is no peak
    assert chart.bars[1].label.endswith("(estimated)")
