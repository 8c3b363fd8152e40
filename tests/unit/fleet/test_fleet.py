"""A fleet of meter twins: every meter reports every interval, signed, counted and consistent."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import pytest

from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.headend.model import KeyRing, MeterRecord, screen
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, epoch, ist_midnight
from bijli.prepaid.model import fixed_price
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import topics
from bijli.protocol.codec import Refusal, open_frame
from bijli.protocol.frames import ReadingFrame, StatusFrame, UplinkFrame
from tests.support.keys import SITE

SECRET = SITE
METERS = 6
ROUNDS = 8
START = ist_midnight(date(2026, 3, 1))
LMV1 = builtin_tariffs()["UP-LMV1-DU"]


def new_fleet(meters: int = METERS, seed: int = 7, start: datetime = START) -> FleetTwin:
    return FleetTwin(
        build_city(meters), [], SECRET, LMV1, start=start, seed=seed, first_counter=0, options=TwinOptions(drift_ppm=0)
    )


def report(fleet: FleetTwin, start: datetime) -> list[Outgoing]:
    fleet.close_interval(start)
    return fleet.take_outgoing()


def run_rounds(fleet: FleetTwin, rounds: int = ROUNDS) -> list[list[Outgoing]]:
    return [report(fleet, START + n * INTERVAL) for n in range(rounds)]


def opened(out: Outgoing) -> tuple[str, str, UplinkFrame]:
    parsed = topics.parse_uplink("bijli", out.topic)
    assert parsed is not None, out.topic
    meter_id, kind = parsed
    frame = open_frame(SECRET.frame_key(meter_id), meter_id, out.payload)
    assert not isinstance(frame, Refusal), frame
    return meter_id, kind, frame


@pytest.fixture(scope="module")
def rounds() -> list[list[Outgoing]]:
    return run_rounds(new_fleet())


def test_every_meter_sends_one_reading_per_interval(rounds: list[list[Outgoing]]) -> None:
    meter_ids = {c.meter_id for c in build_city(METERS)}
    for n, sent in enumerate(rounds):
        readings = [opened(o) for o in sent if o.topic.endswith("/up/reading")]
        assert sorted(m for m, _, _ in readings) == sorted(meter_ids)
        for _, _, frame in readings:
            assert isinstance(frame, ReadingFrame)
            assert [r.start for r in frame.intervals] == [epoch(START + n * INTERVAL)]


def test_every_meter_sends_its_status_once_an_hour(rounds: list[list[Outgoing]]) -> None:
    per_round = [sum(o.topic.endswith("/up/status") for o in sent) for sent in rounds]

    assert per_round == [METERS, 0, 0, 0, METERS, 0, 0, 0]


def test_every_frame_opens_with_its_meters_key_on_the_right_topic(rounds: list[list[Outgoing]]) -> None:
    for sent in rounds:
        for out in sent:
            meter_id, kind, frame = opened(out)
            assert frame.m == meter_id
            assert kind == ("reading" if isinstance(frame, ReadingFrame) else "status")


def test_no_frame_opens_with_a_neighbours_key(rounds: list[list[Outgoing]]) -> None:
    out = rounds[0][0]
    meter_id, _, _ = opened(out)
    neighbour = next(c.meter_id for c in build_city(METERS) if c.meter_id != meter_id)

    assert isinstance(open_frame(SECRET.frame_key(neighbour), meter_id, out.payload), Refusal)


def test_cumulative_register_rises_by_exactly_each_intervals_energy(rounds: list[list[Outgoing]]) -> None:
    last_total: dict[str, int] = {}
    for sent in rounds:
        for out in sent:
            meter_id, _, frame = opened(out)
            if not isinstance(frame, ReadingFrame):
                continue
            (record,) = frame.intervals
            if meter_id in last_total:
                assert record.import_wh_total == last_total[meter_id] + record.import_wh
            last_total[meter_id] = record.import_wh_total
    assert len(last_total) == METERS


def test_frame_counters_strictly_increase_across_all_kinds(rounds: list[list[Outgoing]]) -> None:
    counters: dict[str, list[int]] = defaultdict(list)
    for sent in rounds:
        for out in sent:
            meter_id, _, frame = opened(out)
            counters[meter_id].append(frame.fc)

    for seen in counters.values():
        assert seen == list(range(1, len(seen) + 1))
        assert len(seen) == ROUNDS + 2  # a reading each round and a status each hour


def test_frames_are_sent_at_the_end_of_their_interval(rounds: list[list[Outgoing]]) -> None:
    for n, sent in enumerate(rounds):
        assert {opened(o)[2].ts for o in sent} == {epoch(START + (n + 1) * INTERVAL)}


def test_head_end_accepts_everything_a_healthy_fleet_sends() -> None:
    fleet = new_fleet()
    registry = {
        c.meter_id: MeterRecord(meter_id=c.meter_id, status="commissioned", last_fc=0, connection=None)
        for c in fleet.consumers
    }
    ring = KeyRing(SECRET)

    for n in range(ROUNDS):
        sent = report(fleet, START + n * INTERVAL)
        out = screen([Delivery(o.topic, o.payload) for o in sent], registry, ring, "bijli", START + (n + 1) * INTERVAL)
        assert out.rejected == []
        assert len(out.accepted) == len(sent)
        registry = {m: MeterRecord(m, r.status, out.last_fc.get(m, r.last_fc), None) for m, r in registry.items()}


def test_credit_mirror_falls_as_energy_and_fixed_charges_are_taken() -> None:
    fleet = new_fleet()
    openings = [c.opening_balance_paise for c in fleet.consumers]

    sent = run_rounds(fleet, 5)
    status = {m: f for m, _, f in map(opened, sent[4]) if isinstance(f, StatusFrame)}

    for i, c in enumerate(fleet.consumers):
        assert fleet.balance[i] < openings[i]
        assert fleet.balance.dtype.kind == "i"  # whole paise, never float
        assert status[c.meter_id].balance_paise == fleet.balance[i]


def test_a_recharge_reaches_the_credit_mirror() -> None:
    fleet = new_fleet(2)
    before = int(fleet.balance[1])

    fleet.credit(1, 50_000, START.timestamp())

    assert fleet.balance[1] == before + 50_000


def test_same_seed_gives_the_same_frames() -> None:
    assert run_rounds(new_fleet(), 3) == run_rounds(new_fleet(), 3)


def test_first_interval_of_each_ist_day_takes_that_days_fixed_charge() -> None:
    new_year = ist_midnight(date(2027, 1, 1))
    fleet = new_fleet(2, start=new_year - INTERVAL)
    fixed = fixed_price(LMV1, fleet.consumers[0].sanctioned_load_w, date(2027, 1, 1)).total_paise

    report(fleet, new_year - INTERVAL)  # 23:45 IST on 31 December
    before_midnight = int(fleet.balance[0])
    report(fleet, new_year)
    after_first = int(fleet.balance[0])
    report(fleet, new_year + INTERVAL)
    after_second = int(fleet.balance[0])

    assert before_midnight - after_first > fixed
    assert after_first - after_second < fixed
