"""Screening a batch of meters' frames: what is kept, what is quarantined, and why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from msgspec.structs import replace

from bijli.headend.model import REPLAY_WINDOW, KeyRing, MeterRecord, Screened, screen
from bijli.headend.ports import Delivery
from bijli.kernel.time import epoch
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import (
    REGISTER_MODULUS,
    AckFrame,
    Event,
    EventFrame,
    IntervalRecord,
    ReadingFrame,
    StatusFrame,
    UplinkFrame,
)
from tests.support.keys import SITE

SECRET = SITE
ROOT = "bijli"
NOW = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
T = epoch(NOW)
LAST_ENDED = T - 900  # the interval that ended just now
CL1, CL2 = "KNCL0000001", "KNCL0000002"


def registry(*extra: MeterRecord) -> dict[str, MeterRecord]:
    records = [
        # CL1 has sent frames 1 to 10, all accepted: its window below 10 is full.
        MeterRecord(meter_id=CL1, status="commissioned", last_fc=10, connection=None, fc_window=(1 << 9) - 1),
        MeterRecord(meter_id=CL2, status="commissioned", last_fc=0, connection=None),
        *extra,
    ]
    return {r.meter_id: r for r in records}


def interval(start: int = LAST_ENDED, **changes: int) -> IntervalRecord:
    record = IntervalRecord(
        start=start,
        import_wh=120,
        import_vah=130,
        export_wh=0,
        voltage_dv=2300,
        current_ma=2087,
        import_wh_total=5_000_120,
    )
    return replace(record, **changes)


def reading(meter_id: str = CL1, fc: int = 11, *records: IntervalRecord, ts: int = T) -> ReadingFrame:
    return ReadingFrame(v=1, m=meter_id, fc=fc, ts=ts, intervals=list(records) or [interval()])


def delivered(frame: UplinkFrame, *, topic_kind: str | None = None, key_of: str | None = None) -> Delivery:
    kind = topic_kind or type(frame).__name__.removesuffix("Frame").lower()
    payload = seal(SECRET.frame_key(key_of or frame.m), frame)
    return Delivery(topics.uplink(ROOT, frame.m, kind), payload)


def run(*deliveries: Delivery, records: dict[str, MeterRecord] | None = None) -> Screened:
    return screen(deliveries, records if records is not None else registry(), KeyRing(SECRET), ROOT, NOW)


def reasons(screened: Screened) -> list[str]:
    return [r.refusal.code for r in screened.rejected]


def test_genuine_frames_are_accepted_in_frame_counter_order() -> None:
    out = run(delivered(reading(fc=13)), delivered(reading(fc=11)), delivered(reading(fc=12)))

    assert [a.frame.fc for a in out.accepted] == [11, 12, 13]
    assert out.rejected == []
    assert out.last_fc == {CL1: 13}


def test_every_kind_of_frame_is_accepted_on_its_own_topic() -> None:
    frames: list[UplinkFrame] = [
        reading(fc=11),
        EventFrame(v=1, m=CL1, fc=12, ts=T, events=[Event(code=251, at=T - 5)]),
        StatusFrame(v=1, m=CL1, fc=13, ts=T, sim=2, operator="Jio", rssi_dbm=-80, relay=1, balance_paise=5000),
        AckFrame(v=1, m=CL1, fc=14, ts=T, command_id="c-1", status="done"),
    ]

    out = run(*(delivered(f) for f in frames))

    assert [a.frame for a in out.accepted] == frames


def test_a_late_frame_below_the_highest_counter_counts_once_if_never_seen() -> None:
    records = {CL1: MeterRecord(meter_id=CL1, status="commissioned", last_fc=20, connection=None, fc_window=0b1)}

    out = run(delivered(reading(fc=17)), delivered(reading(fc=17)), delivered(reading(fc=19)), records=records)

    assert [a.frame.fc for a in out.accepted] == [17]
    assert reasons(out) == ["replayed", "replayed"]  # 17 a second time; 19 was accepted before


def test_a_frame_further_below_than_the_window_is_replayed() -> None:
    records = {CL1: MeterRecord(meter_id=CL1, status="commissioned", last_fc=100, connection=None, fc_window=0)}

    out = run(delivered(reading(fc=100 - REPLAY_WINDOW - 1)), records=records)

    assert reasons(out) == ["replayed"]


def event(fc: int, code: int = 251) -> EventFrame:
    return EventFrame(v=1, m=CL1, fc=fc, ts=T, events=[Event(code=code, at=T - 5)])


def test_an_event_that_passes_its_meters_older_frames_leaves_every_one_of_them_to_be_taken() -> None:
    # The event lane stores a tamper at once, before a meter's day of readings still waiting.
    first = run(delivered(event(fc=211)))
    assert [a.frame.fc for a in first.accepted] == [211]
    before = registry()[CL1]
    assert (first.last_fc[CL1], first.fc_window[CL1]) == (before.last_fc, before.fc_window)  # moves no counter

    backlog = [delivered(reading(CL1, fc)) for fc in range(11, 211)]  # 200 frames, all below it
    out = run(*backlog)

    assert [a.frame.fc for a in out.accepted] == list(range(11, 211))
    assert reasons(out) == []


def test_an_event_frame_on_a_counter_another_frame_took_is_replayed() -> None:
    records = {CL1: MeterRecord(meter_id=CL1, status="commissioned", last_fc=20, connection=None, fc_window=0b1)}

    out = run(delivered(event(fc=20)), delivered(event(fc=19)), delivered(event(fc=18)), records=records)

    assert [a.frame.fc for a in out.accepted] == [18]  # 20 and 19 were readings' counters
    assert reasons(out) == ["replayed", "replayed"]


@pytest.mark.parametrize("fc", [10, 9, 1, 0, -1])
def test_frame_whose_counter_is_not_above_the_last_accepted_is_replayed(fc: int) -> None:
    out = run(delivered(reading(fc=fc)))

    assert out.accepted == []
    assert reasons(out) == ["replayed"]


def test_the_same_counter_twice_in_one_batch_keeps_only_the_first() -> None:
    first = delivered(reading(CL1, 11))
    second = delivered(reading(CL1, 11, interval(import_wh=999, import_wh_total=5_000_999)))

    out = run(first, second)

    assert [a.delivery for a in out.accepted] == [first]
    assert [(r.delivery, r.refusal.code) for r in out.rejected] == [(second, "replayed")]


def test_a_redelivered_message_in_the_same_batch_is_not_counted_twice() -> None:
    message = delivered(reading(CL1, 11))

    out = run(message, message)

    assert len(out.accepted) == 1
    assert reasons(out) == ["replayed"]


def test_frame_from_an_unregistered_meter_is_refused() -> None:
    out = run(delivered(reading("KNMR0000099", 1)))

    assert reasons(out) == ["unknown-meter"]
    assert out.rejected[0].meter_id == "KNMR0000099"


@pytest.mark.parametrize("status", ["decommissioned", "installed", "suspended"])
def test_frame_from_a_meter_not_in_service_is_refused(status: str) -> None:
    records = registry(MeterRecord(meter_id="KNCL0000003", status=status, last_fc=0, connection=None))

    out = run(delivered(reading("KNCL0000003", 1)), records=records)

    assert reasons(out) == ["not-commissioned"]
    assert status in out.rejected[0].refusal.detail


def test_frame_signed_with_another_meters_key_is_forged() -> None:
    out = run(delivered(reading(CL1, 11), key_of=CL2))

    assert reasons(out) == ["forged"]


def test_forged_frames_do_not_use_up_the_meters_frame_counters() -> None:
    out = run(delivered(reading(CL1, 1_000_000), key_of=CL2), delivered(reading(CL1, 11)))

    assert [a.frame.fc for a in out.accepted] == [11]
    assert out.last_fc == {CL1: 11}


def test_frame_sent_from_a_clock_ahead_of_the_head_end_is_refused() -> None:
    out = run(delivered(reading(ts=T + 301)))

    assert reasons(out) == ["clock-ahead"]


def test_meter_clock_a_little_ahead_is_tolerated() -> None:
    out = run(delivered(reading(ts=T + 300)))

    assert len(out.accepted) == 1


def test_reading_for_an_interval_that_has_not_ended_is_clock_ahead() -> None:
    out = run(delivered(reading(CL1, 11, interval(start=T))))

    assert reasons(out) == ["clock-ahead"]


def test_reading_with_negative_energy_is_refused() -> None:
    out = run(delivered(reading(CL1, 11, interval(import_wh=-1))))

    assert reasons(out) == ["negative"]


@pytest.mark.parametrize("field", ["import_vah", "export_wh", "voltage_dv", "current_ma", "import_wh_total"])
def test_reading_with_any_negative_value_is_refused(field: str) -> None:
    out = run(delivered(reading(CL1, 11, interval(**{field: -5}))))

    assert reasons(out) == ["negative"]


@pytest.mark.parametrize("offset", [1, 60, 450, 899])
def test_reading_whose_interval_starts_off_the_15_minute_grid_is_misaligned(offset: int) -> None:
    out = run(delivered(reading(CL1, 11, interval(start=LAST_ENDED - 900 + offset))))

    assert reasons(out) == ["misaligned"]


def test_reading_frame_without_intervals_is_empty() -> None:
    frame = ReadingFrame(v=1, m=CL1, fc=11, ts=T, intervals=[])

    assert reasons(run(delivered(frame))) == ["empty"]


def test_reading_whose_register_is_beyond_its_range_is_refused() -> None:
    out = run(delivered(reading(CL1, 11, interval(import_wh=500, import_wh_total=REGISTER_MODULUS))))

    assert reasons(out) == ["register"]


def test_reading_just_after_the_register_rolled_over_is_accepted() -> None:
    out = run(delivered(reading(CL1, 11, interval(import_wh=500, import_wh_total=499))))

    assert reasons(out) == []


def test_one_bad_interval_refuses_the_whole_frame() -> None:
    frame = reading(CL1, 11, interval(start=LAST_ENDED - 900), interval(start=LAST_ENDED, import_wh=-1))

    out = run(delivered(frame))

    assert out.accepted == []
    assert reasons(out) == ["negative"]


def test_backlog_of_several_intervals_in_one_frame_is_accepted() -> None:
    backlog = [interval(start=LAST_ENDED - 900 * n) for n in range(95, -1, -1)]

    out = run(delivered(reading(CL1, 11, *backlog)))

    assert len(out.accepted) == 1
    assert isinstance(out.accepted[0].frame, ReadingFrame)
    assert len(out.accepted[0].frame.intervals) == 96


def test_reading_frame_on_the_status_topic_is_misdirected() -> None:
    out = run(delivered(reading(), topic_kind="status"))

    assert reasons(out) == ["misdirected"]


def test_frame_naming_another_meter_than_its_topic_is_misdirected() -> None:
    frame = reading(CL2, 1)
    payload = seal(SECRET.frame_key(CL1), frame)

    out = run(Delivery(topics.uplink(ROOT, CL1, "reading"), payload))

    assert reasons(out) == ["misdirected"]


@pytest.mark.parametrize(
    "topic",
    [
        "bijli/v1/m/KNCL0000001/up/telemetry",
        "other/v1/m/KNCL0000001/up/reading",
        "bijli/v1/m/kncl0000001/up/reading",
        "bijli/v1/m/KNCL0000001/down/command",
    ],
)
def test_message_on_a_topic_outside_the_layout_is_refused(topic: str) -> None:
    out = run(Delivery(topic, delivered(reading()).payload))

    assert reasons(out) == ["bad-topic"]
    assert out.rejected[0].meter_id is None


def test_rejecting_one_frame_does_not_stop_the_others() -> None:
    forged = delivered(reading(CL1, 11), key_of=CL2)
    good_cl1 = delivered(reading(CL1, 12))
    bad_topic = Delivery("bijli/v1/m/KNCL0000001/up/nonsense", b"{}")
    good_cl2 = delivered(reading(CL2, 1))
    replayed = delivered(reading(CL2, 0))
    unknown = delivered(reading("KNMR0000099", 1))

    out = run(forged, good_cl1, bad_topic, good_cl2, replayed, unknown)

    assert sorted(a.delivery.payload for a in out.accepted) == sorted([good_cl1.payload, good_cl2.payload])
    assert sorted(reasons(out)) == ["bad-topic", "forged", "replayed", "unknown-meter"]
    assert out.last_fc == {CL1: 12, CL2: 1}


def test_rejected_deliveries_are_kept_whole_for_audit() -> None:
    forged = delivered(reading(CL1, 11), key_of=CL2)

    out = run(forged)

    assert out.rejected[0].delivery == forged
    assert out.rejected[0].meter_id == CL1
    assert out.rejected[0].refusal.detail


def test_screening_a_batch_does_not_change_the_registry() -> None:
    records = registry()
    before = dict(records)

    run(delivered(reading(CL1, 11)), records=records)

    assert records == before


@pytest.mark.parametrize(
    "frame",
    [
        reading(CL1, 2**63),
        reading(CL1, 11, interval(import_wh=2**31, import_wh_total=2**40)),
        reading(CL1, 11, interval(start=-90_000_000_000)),  # year -882: utc_from_epoch raises
        EventFrame(v=1, m=CL1, fc=11, ts=T, events=[Event(code=201, at=10**12)]),  # year 33658
    ],
    ids=["counter-beyond-bigint", "energy-beyond-integer", "interval-before-year-1", "event-after-year-9999"],
)
def test_values_the_store_cannot_hold_are_refused_not_left_to_fail_the_batch(frame: UplinkFrame) -> None:
    out = run(delivered(frame))

    assert out.accepted == []


def test_a_key_ring_keeps_a_bounded_number_of_prepared_keys_and_still_checks_every_meter() -> None:
    ring = KeyRing(SECRET, prepared=1)
    frames = [reading(CL1, 11), reading(CL2, 1), reading(CL1, 12)]
    screened = screen([delivered(f) for f in frames], registry(), ring, ROOT, NOW)
    assert [a.frame.fc for a in screened.accepted] == [11, 12, 1]
    assert len(ring._prepared) == 1
