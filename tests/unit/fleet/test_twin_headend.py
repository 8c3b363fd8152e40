"""A day of the twin's frames, outages and all, goes through the head-end's screening untouched."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, timedelta

from bijli.fleet.city import build_city, transformer_meters
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.headend.model import KeyRing, MeterRecord, Screened, screen
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, ist_midnight, utc_from_epoch
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import tokens
from bijli.protocol.codec import seal
from bijli.protocol.frames import (
    PROTOCOL_VERSION,
    REGISTER_MODULUS,
    CommandFrame,
    DailyFrame,
    EventFrame,
    ReadingFrame,
    StatusFrame,
    TokenFrame,
)
from tests.support.keys import SITE

SECRET = SITE
LMV1 = builtin_tariffs()["UP-LMV1-DU"]
START = ist_midnight(date(2026, 3, 2)) + timedelta(hours=12)  # a Monday, noon IST
T0 = float(epoch(START))
HOUR = 3600.0
CITY = sorted(build_city(8), key=lambda c: c.area)
DTS = transformer_meters(CITY)


class HeadEnd:
    """The twin's frames screened batch by batch as they arrive, the registry carried along."""

    def __init__(self, twin: FleetTwin) -> None:
        self.twin = twin
        self.ring = KeyRing(SECRET)
        self.registry = {
            m: MeterRecord(meter_id=m, status="commissioned", last_fc=0, connection=None) for m in twin.meter_ids
        }
        self.closed = 0
        self.screened: list[Screened] = []
        self.lost: list[Outgoing] = []

    def run_to(self, t: float, lose_after: float | None = None) -> None:
        """Close the intervals ended by `t`; deliver what went out (except what went out after
        `lose_after`: the link lost it, and the meters are told so)."""
        while T0 + (self.closed + 1) * INTERVAL_S <= t:
            self.twin.close_interval(START + self.closed * INTERVAL)
            self.closed += 1
        self.twin.advance(t)
        sent = self.twin.take_outgoing()
        if lose_after is not None:
            lost = [o for o in sent if o.at > lose_after]
            sent = [o for o in sent if o.at <= lose_after]
            self.twin.undelivered(lost)
            self.lost += lost
        self.deliver(sent)

    def deliver(self, sent: Sequence[Outgoing]) -> None:
        if not sent:
            return
        now = utc_from_epoch(int(max(o.at for o in sent)))
        out = screen([Delivery(o.topic, o.payload) for o in sent], self.registry, self.ring, "bijli", now)
        self.screened.append(out)
        self.registry = {
            m: MeterRecord(m, r.status, out.last_fc.get(m, r.last_fc), None) for m, r in self.registry.items()
        }

    def command(self, meter_id: str, fc: int, action: str, at: float, **args: int) -> None:
        self.run_to(at)
        frame = CommandFrame(
            v=PROTOCOL_VERSION, m=meter_id, fc=fc, ts=int(at), command_id=f"c{fc}", action=action, args=args
        )
        self.twin.command(meter_id, seal(SECRET.frame_key(meter_id), frame), at)


def test_a_day_with_outages_goes_through_the_head_end_with_nothing_refused() -> None:
    twin = FleetTwin(CITY, DTS, SECRET, LMV1, start=START, first_counter=0, options=TwinOptions(drift_ppm=0))
    head_end = HeadEnd(twin)
    cl, mr = CITY[0].meter_id, CITY[5].meter_id

    head_end.run_to(T0 + 2 * HOUR + 7)
    twin.network("Jio", "Civil Lines", False, T0 + 2 * HOUR + 7)  # one operator, two hours
    head_end.run_to(T0 + 4 * HOUR + 7)
    twin.network("Jio", "Civil Lines", True, T0 + 4 * HOUR + 7)
    head_end.run_to(T0 + 5 * HOUR)
    for operator in ("Jio", "Airtel"):  # no network at all in Mall Road for three hours
        twin.network(operator, "Mall Road", False, T0 + 5 * HOUR)
    twin.condition("magnet", [twin.index[mr]], True, T0 + 5 * HOUR + 300)
    head_end.run_to(T0 + 8 * HOUR)
    for operator in ("Jio", "Airtel"):
        twin.network(operator, "Mall Road", True, T0 + 8 * HOUR)
    head_end.command(cl, 1, "relay_disconnect", T0 + 8 * HOUR + 100)
    head_end.command(cl, 2, "relay_connect", T0 + 8 * HOUR + 1000)
    head_end.command(cl, 3, "time_sync", T0 + 8 * HOUR + 1100, t=int(T0 + 8 * HOUR + 1100) + 30)
    head_end.run_to(T0 + 9 * HOUR + 30, lose_after=T0 + 9 * HOUR - 1)  # the broker drops the last frames
    twin.broker(False, T0 + 9 * HOUR + 30)
    head_end.run_to(T0 + 9 * HOUR + 1830)
    twin.broker(True, T0 + 9 * HOUR + 1830)
    head_end.run_to(T0 + 11 * HOUR)
    twin.condition("power_failure", [twin.index[cl]], True, T0 + 11 * HOUR)  # across midnight
    head_end.run_to(T0 + 14 * HOUR)
    twin.condition("power_failure", [twin.index[cl]], False, T0 + 14 * HOUR)
    token = tokens.issue_token(SECRET.token_key(mr), mr, 50_000, utc_from_epoch(int(T0 + 15 * HOUR)).astimezone(UTC))
    head_end.run_to(T0 + 15 * HOUR)
    twin.redeem(mr, token.digits, T0 + 15 * HOUR)
    head_end.command(mr, 1, "read_profile", T0 + 15 * HOUR + 60, **{"from": int(T0), "to": int(T0 + 4 * HOUR)})
    head_end.run_to(T0 + 24 * HOUR + 30)

    assert head_end.lost
    assert [r.refusal for s in head_end.screened for r in s.rejected] == []
    accepted = [a.frame for s in head_end.screened for a in s.accepted]
    kinds = Counter(type(f) for f in accepted)
    assert {ReadingFrame, DailyFrame, EventFrame, StatusFrame, TokenFrame} <= set(kinds)
    stored = {(f.m, r.start) for f in accepted if isinstance(f, ReadingFrame) for r in f.intervals}
    assert stored == {(m, int(T0) + k * INTERVAL_S) for m in twin.meter_ids for k in range(96)}
    days = {(f.m, d.day_start) for f in accepted if isinstance(f, DailyFrame) for d in f.days}
    assert days == {(m, epoch(ist_midnight(date(2026, 3, 3)))) for m in twin.meter_ids}


def test_a_register_that_has_just_rolled_over_is_below_its_intervals_import() -> None:
    # The situation of the next test: a genuine reading the head-end must take.
    twin = FleetTwin(CITY, [], SECRET, LMV1, start=START, first_counter=0, options=TwinOptions(drift_ppm=0))
    twin.reg_import[0] = REGISTER_MODULUS - 10
    twin.close_interval(START)
    (reading,) = [o.frame for o in twin.take_outgoing() if o.meter == 0 and isinstance(o.frame, ReadingFrame)]

    (record,) = reading.intervals
    assert record.import_wh_total == record.import_wh - 10


def test_the_head_end_accepts_a_reading_whose_register_has_just_rolled_over() -> None:
    twin = FleetTwin(CITY, [], SECRET, LMV1, start=START, first_counter=0, options=TwinOptions(drift_ppm=0))
    head_end = HeadEnd(twin)
    twin.reg_import[0] = REGISTER_MODULUS - 10

    head_end.run_to(T0 + INTERVAL_S + 30)

    assert [r.refusal for s in head_end.screened for r in s.rejected] == []
