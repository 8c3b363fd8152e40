"""The twin's relay and credit mirror: charges, offline disconnection, credit, commands, registers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from bijli.fleet.city import Consumer, build_city
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.headend.commands import tariff_args
from bijli.kernel.time import INTERVAL, INTERVAL_S, IST, epoch, ist_day, ist_midnight, utc_from_epoch
from bijli.meter.credit import MirrorTariff
from bijli.prepaid.charging import Account, Installation, Metered, MonthOpening, derive
from bijli.prepaid.model import fixed_price
from bijli.prepaid.policy import PrepaidPolicy, uppcl
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import tokens
from bijli.protocol.codec import seal
from bijli.protocol.events import EventCode
from bijli.protocol.frames import (
    PROTOCOL_VERSION,
    REGISTER_MODULUS,
    AckFrame,
    CommandFrame,
    DailyFrame,
    ReadingFrame,
    StatusFrame,
    TokenFrame,
    UplinkFrame,
)
from tests.support.keys import SITE
from tests.unit.fleet.world import events, frame, of

SECRET = SITE
LMV1 = builtin_tariffs()["UP-LMV1-DU"]
MONDAY = ist_midnight(date(2026, 3, 2)) + timedelta(hours=10)  # 10:00 IST
CL = "Civil Lines"
CITY = sorted(build_city(4), key=lambda c: c.area)  # two consumers in each area
METER = CITY[0].meter_id  # Civil Lines
OTHER = CITY[2].meter_id  # Mall Road
SHORT_GRACE = PrepaidPolicy(emergency_credit=timedelta(hours=1))


class World:
    """The twin driven in time order: each interval is closed as the clock passes its end."""

    def __init__(
        self,
        start: datetime = MONDAY,
        consumers: Sequence[Consumer] = CITY,
        policy: PrepaidPolicy | None = None,
        history_days: int = 7,
    ) -> None:
        self.start, self.t0 = start, float(epoch(start))
        options = TwinOptions(drift_ppm=0, policy=policy or uppcl(), history_days=history_days)
        self.twin = FleetTwin(consumers, [], SECRET, LMV1, start=start, first_counter=0, options=options)
        self.closed = 0
        self.log: list[Outgoing] = []
        self.commands = 0

    def run_to(self, t: float) -> list[Outgoing]:
        """Close every interval that has ended by `t`, run the modems to `t`, take what went out."""
        while self.t0 + (self.closed + 1) * INTERVAL_S <= t:
            self.twin.close_interval(self.start + self.closed * INTERVAL)
            self.closed += 1
        self.twin.advance(t)
        sent = self.twin.take_outgoing()
        self.log += sent
        return sent

    def interval(self, k: int) -> float:
        return self.t0 + k * INTERVAL_S

    def send(self, payload: bytes, at: float, meter_id: str = METER) -> list[Outgoing]:
        """A command reaches the meter at `at`; what the meter sent at that moment."""
        self.run_to(at)
        self.twin.command(meter_id, payload, at)
        return self.run_to(at)

    def order(
        self, action: str, at: float, meter_id: str = METER, args: dict[str, int] | None = None
    ) -> list[Outgoing]:
        """The head-end's next command to the meter, sealed with the meter's key."""
        self.commands += 1
        return self.send(sealed(meter_id, self.commands, action, at, args), at, meter_id)

    def disconnect_in_civil_lines(self, at: float) -> None:
        self.run_to(at)
        for operator in ("Jio", "Airtel"):
            self.twin.network(operator, CL, False, at)

    def reconnect_civil_lines(self, at: float) -> list[Outgoing]:
        self.run_to(at)
        for operator in ("Jio", "Airtel"):
            self.twin.network(operator, CL, True, at)
        return self.run_to(at + 60)


def sealed(
    meter_id: str, fc: int, action: str, at: float, args: dict[str, int] | None = None, key_of: str | None = None
) -> bytes:
    command = CommandFrame(
        v=PROTOCOL_VERSION, m=meter_id, fc=fc, ts=int(at), command_id=f"cmd-{fc}", action=action, args=args or {}
    )
    return seal(SECRET.frame_key(key_of or meter_id), command)


def acks(frames: Sequence[UplinkFrame]) -> list[tuple[str, str]]:
    return [(f.command_id, f.status) for f in frames if isinstance(f, AckFrame)]


def status(world: World, at: float, meter_id: str = METER) -> StatusFrame:
    """The meter's state, as a read_now command brings it."""
    (found,) = [f for f in of(meter_id, world.order("read_now", at, meter_id)) if isinstance(f, StatusFrame)]
    return found


def intervals(frames: Sequence[UplinkFrame]) -> list[tuple[int, int]]:
    return [(r.start, r.import_wh) for f in frames if isinstance(f, ReadingFrame) for r in f.intervals]


def opening(meter_id: str, paise: int) -> list[Consumer]:
    return [dataclasses.replace(c, opening_balance_paise=paise) if c.meter_id == meter_id else c for c in CITY]


# ---------------------------------------------------------------------- credit mirror


def test_credit_mirror_equals_the_servers_charges_to_the_paisa_across_a_day_and_a_month_end() -> None:
    start = ist_midnight(date(2026, 3, 31))
    world = World(start=start)
    world.run_to(float(epoch(start)) + 2 * 86400 + 30)  # all of 31 March and 1 April

    for c in CITY:
        frames = of(c.meter_id, world.log)
        records = sorted((r for f in frames if isinstance(f, ReadingFrame) for r in f.intervals), key=lambda r: r.start)
        assert len(records) == 192
        first = records[0]
        account = Account(
            account_no=c.account_no,
            sanctioned_load_w=c.sanctioned_load_w,
            tariff=LMV1,
            installations=(
                Installation(
                    account_no=c.account_no,
                    meter_id=c.meter_id,
                    installed_at=start,
                    opening_wh_total=(first.import_wh_total - first.import_wh) % REGISTER_MODULUS,
                ),
            ),
        )
        metered = [Metered(c.meter_id, utc_from_epoch(r.start), r.import_wh, r.import_wh_total) for r in records]
        march = [m for m in metered if ist_day(m.interval_start).month == 3]
        april_opens = MonthOpening(march[-1].wh_total, march[-1].interval_start + INTERVAL)
        derived = derive(account, "2026-03", None, metered) + derive(account, "2026-04", april_opens, metered)
        charged: list[tuple[int, int]] = []  # (interval end, paise), as the server derives them
        for charge in derived:
            paise = charge.total_paise
            day = ist_day(charge.interval_start)
            if charge.interval_start == ist_midnight(day):
                paise += fixed_price(LMV1, c.sanctioned_load_w, day).total_paise
            charged.append((epoch(charge.interval_start) + INTERVAL_S, paise))
        reports = [f for f in frames if isinstance(f, StatusFrame)]
        assert len(reports) == 48
        for report in reports:
            taken = sum(paise for end, paise in charged if end <= report.ts)
            assert report.balance_paise == c.opening_balance_paise - taken


# ---------------------------------------------------------------------- offline disconnection


@pytest.mark.parametrize(
    ("negative_from", "cut_at", "holidays"),
    [
        # Emergency credit ends on a weekday morning: cut right then.
        (datetime(2026, 3, 2, 10, 15, tzinfo=IST), datetime(2026, 3, 5, 10, 15, tzinfo=IST), ()),
        # It ends in the evening: wait for 08:00.
        (datetime(2026, 3, 2, 19, 15, tzinfo=IST), datetime(2026, 3, 6, 8, 0, tzinfo=IST), ()),
        # It ends on a Sunday: wait for Monday 08:00.
        (datetime(2026, 3, 5, 10, 15, tzinfo=IST), datetime(2026, 3, 9, 8, 0, tzinfo=IST), ()),
        # It ends on the second Saturday (the 14th): not before Monday.
        (datetime(2026, 3, 11, 10, 15, tzinfo=IST), datetime(2026, 3, 16, 8, 0, tzinfo=IST), ()),
        # The first Saturday is a working day.
        (datetime(2026, 3, 4, 10, 15, tzinfo=IST), datetime(2026, 3, 7, 10, 15, tzinfo=IST), ()),
        # A public holiday (Holi): the next morning.
        (datetime(2026, 3, 1, 10, 15, tzinfo=IST), datetime(2026, 3, 5, 8, 0, tzinfo=IST), (date(2026, 3, 4),)),
    ],
    ids=["weekday", "evening", "sunday", "second-saturday", "first-saturday", "holiday"],
)
def test_an_offline_meter_disconnects_itself_after_emergency_credit_outside_friendly_hours(
    negative_from: datetime, cut_at: datetime, holidays: tuple[date, ...]
) -> None:
    # One paisa of opening credit: the first interval's charges take the balance negative.
    start = negative_from - INTERVAL
    consumers = [dataclasses.replace(c, opening_balance_paise=1) for c in CITY]
    world = World(start=start, consumers=consumers, policy=PrepaidPolicy(holidays=frozenset(holidays)))
    world.order("cutoff_permit", world.t0, args={"after": int(world.t0)})
    world.disconnect_in_civil_lines(world.t0)

    cut = float(epoch(cut_at))
    dark = world.run_to(cut + 3600)
    back = world.reconnect_civil_lines(cut + 3600)

    assert of(METER, dark) == []
    assert events(of(METER, back)) == [(301, cut)]
    assert next(f for f in of(METER, back) if isinstance(f, StatusFrame)).relay == 0
    after_cut = [(s, wh) for s, wh in intervals(of(METER, back)) if s >= cut]
    assert after_cut and all(wh == 0 for _, wh in after_cut)
    # The meter that can hear the server leaves disconnection to the server.
    assert events(of(OTHER, world.log)) == []
    assert all(f.relay == 1 for f in of(OTHER, world.log) if isinstance(f, StatusFrame))


def cut_off_for_credit() -> tuple[World, StatusFrame]:
    """A Civil Lines meter that ran out of credit offline and cut itself off at 11:15."""
    world = World(consumers=opening(METER, 1), policy=SHORT_GRACE)
    world.order("cutoff_permit", world.t0, args={"after": int(world.t0)})
    world.disconnect_in_civil_lines(world.t0)
    back = world.reconnect_civil_lines(world.t0 + 3 * 3600)
    assert events(of(METER, back)) == [(301, world.t0 + 5 * INTERVAL_S)]
    (state,) = [f for f in of(METER, back) if isinstance(f, StatusFrame)]
    assert state.relay == 0
    assert state.balance_paise < 0
    return world, state


def test_credit_that_leaves_the_balance_negative_keeps_the_meter_off() -> None:
    world, state = cut_off_for_credit()
    at = world.t0 + 3 * 3600 + 300

    sent = of(METER, world.order("credit", at, args={"amount_paise": -state.balance_paise - 1}))

    assert acks(sent) == [("cmd-2", "done")]
    assert events(sent) == []
    assert status(world, at + 1).relay == 0


def test_credit_that_makes_the_balance_whole_reconnects_a_meter_cut_off_for_credit() -> None:
    world, state = cut_off_for_credit()
    at = world.t0 + 3 * 3600 + 300

    sent = of(METER, world.order("credit", at, args={"amount_paise": -state.balance_paise}))

    assert events(sent) == [(302, at)]
    assert acks(sent) == [("cmd-2", "done")]
    after = status(world, at + 1)
    assert (after.relay, after.balance_paise) == (1, 0)
    world.run_to(at + 2 * 3600)
    assert all(wh > 0 for s, wh in intervals(of(METER, world.log)) if s >= at + INTERVAL_S)


def test_a_redeemed_token_reconnects_a_meter_cut_off_for_credit() -> None:
    world, state = cut_off_for_credit()
    at = world.t0 + 3 * 3600 + 300
    rupees = -state.balance_paise // 100 + 100
    token = tokens.issue_token(SECRET.token_key(METER), METER, rupees * 100, utc_from_epoch(int(at)).astimezone(UTC))

    world.run_to(at)
    result = world.twin.redeem(METER, token.grouped(), at)
    sent = of(METER, world.run_to(at))

    assert result.status is tokens.TokenStatus.ACCEPTED
    assert events(sent) == [(302, at)]
    reports = [r for f in sent if isinstance(f, TokenFrame) for r in f.redemptions]
    assert [(r.token_id, r.status, r.amount_paise, r.at) for r in reports] == [(token.token_id, 0, rupees * 100, at)]
    assert status(world, at + 1).relay == 1


def test_credit_does_not_reconnect_a_meter_disconnected_by_command() -> None:
    world = World()
    at = world.t0 + 600

    off = of(METER, world.order("relay_disconnect", at))
    credited = of(METER, world.order("credit", at + 60, args={"amount_paise": 50_000}))

    assert events(off) == [(301, at)]
    assert events(credited) == []
    assert status(world, at + 120).relay == 0


def test_an_operators_disconnection_holds_over_a_credit_cut_off_when_credit_arrives() -> None:
    world, state = cut_off_for_credit()
    at = world.t0 + 3 * 3600 + 300

    assert acks(of(METER, world.order("relay_disconnect", at))) == [("cmd-2", "done")]
    world.order("credit", at + 60, args={"amount_paise": -state.balance_paise + 10_000})

    assert status(world, at + 120).relay == 0


# ---------------------------------------------------------------------- commands


def test_relay_commands_act_and_are_acknowledged() -> None:
    world = World()
    off_at, on_at = world.interval(2), world.interval(4)

    off = of(METER, world.order("relay_disconnect", off_at))
    world.run_to(on_at)
    on = of(METER, world.order("relay_connect", on_at))
    world.run_to(world.interval(6) + 30)

    assert acks(off) == [("cmd-1", "done")]
    assert events(off) == [(301, off_at)]
    assert acks(on) == [("cmd-2", "done")]
    assert events(on) == [(302, on_at)]
    supplied = dict(intervals(of(METER, world.log)))
    assert [supplied[int(world.interval(k))] == 0 for k in range(6)] == [False, False, True, True, False, False]


def test_a_replayed_command_is_refused_and_changes_nothing() -> None:
    world = World()
    at = world.t0 + 600
    payload = sealed(METER, 5, "relay_disconnect", at)

    first = of(METER, world.send(payload, at))
    again = of(METER, world.send(payload, at + 10))
    same_counter = of(METER, world.send(sealed(METER, 5, "relay_connect", at + 20), at + 20))
    older = of(METER, world.send(sealed(METER, 4, "relay_connect", at + 30), at + 30))

    assert acks(first) == [("cmd-5", "done")]
    assert acks(again) == [("cmd-5", "refused")]
    assert acks(same_counter) == [("cmd-5", "refused")]
    assert acks(older) == [("cmd-4", "refused")]
    assert events(again + same_counter + older) == []
    world.commands = 5
    assert status(world, at + 40).relay == 0


@pytest.mark.parametrize("key_of", [OTHER, "KNXX0000001"], ids=["neighbours-key", "unknown-key"])
def test_a_command_sealed_with_the_wrong_key_is_ignored(key_of: str) -> None:
    world = World()
    at = world.t0 + 600

    sent = world.send(sealed(METER, 1, "relay_disconnect", at, key_of=key_of), at)

    assert sent == []
    world.commands = 1
    assert status(world, at + 10).relay == 1


def test_a_command_for_another_meter_is_ignored() -> None:
    world = World()
    at = world.t0 + 600

    sent = world.send(sealed(OTHER, 1, "relay_disconnect", at), at, meter_id=METER)

    assert sent == []


def test_unknown_actions_and_bad_arguments_are_refused() -> None:
    world = World()
    at = world.t0 + 600

    sent = world.order("self_destruct", at) + world.order("credit", at + 1, args={"amount_paise": 0})

    assert acks(of(METER, sent)) == [("cmd-1", "refused"), ("cmd-2", "refused")]


def test_hotspot_settings_change_how_long_the_hotspot_stays_open() -> None:
    world = World()
    at = world.t0 + 600

    assert acks(of(METER, world.order("hotspot_settings", at, args={"window_s": 60}))) == [("cmd-1", "done")]
    world.twin.press_button(METER, at + 10)

    assert world.twin.hotspot_open(METER, at + 69)
    assert not world.twin.hotspot_open(METER, at + 71)


def test_time_sync_sets_the_meters_clock() -> None:
    world = World()
    at = world.t0 + 600
    head_end_time = int(at) + 90  # the meter was 90 s slow

    synced = of(METER, world.order("time_sync", at, args={"t": head_end_time}))
    later = world.run_to(world.interval(3) + 30)

    assert events(synced) == [(151, head_end_time)]
    assert acks(synced) == [("cmd-1", "done")]
    assert {f.ts for f in synced} == {head_end_time}
    assert {frame(o).ts - o.at for o in later if o.topic.split("/")[3] == METER} == {90}
    assert {frame(o).ts - o.at for o in later if o.topic.split("/")[3] == OTHER} == {0}


def test_read_profile_returns_the_stored_intervals_of_a_range() -> None:
    world = World()
    world.run_to(world.interval(130) + 30)
    live = {r.start: r for f in of(METER, world.log) if isinstance(f, ReadingFrame) for r in f.intervals}
    at = world.interval(130) + 60

    small = of(
        METER, world.order("read_profile", at, args={"from": int(world.interval(2)), "to": int(world.interval(6))})
    )
    large = of(METER, world.order("read_profile", at + 1, args={"from": 0, "to": int(at)}))

    (answer,) = [f for f in small if isinstance(f, ReadingFrame)]
    assert answer.intervals == [live[int(world.interval(k))] for k in range(2, 6)]
    assert [(f.command_id, f.status, f.detail) for f in small if isinstance(f, AckFrame)] == [
        ("cmd-1", "done", "4 intervals")
    ]
    frames = [f for f in large if isinstance(f, ReadingFrame)]
    assert [len(f.intervals) for f in frames] == [96, 34]
    assert [r for f in frames for r in f.intervals] == [live[s] for s in sorted(live)]


def test_read_profile_answers_only_from_the_history_the_meter_keeps() -> None:
    world = World(history_days=1)
    world.run_to(world.interval(120) + 30)
    at = world.interval(120) + 60

    sent = of(METER, world.order("read_profile", at, args={"from": 0, "to": int(at)}))

    starts = [r.start for f in sent if isinstance(f, ReadingFrame) for r in f.intervals]
    assert starts == [int(world.interval(k)) for k in range(24, 120)]


# ---------------------------------------------------------------------- registers


def test_the_import_register_rolls_over_and_never_goes_backwards_modulo() -> None:
    world = World(start=ist_midnight(date(2026, 3, 2)) + timedelta(hours=20))  # evening: a heavy load
    world.run_to(world.interval(1) + 30)
    i = world.twin.index[METER]
    world.twin.reg_import[i] = REGISTER_MODULUS - 50

    world.run_to(world.interval(20) + 30)  # past midnight

    records = [r for f in of(METER, world.log) if isinstance(f, ReadingFrame) for r in f.intervals]
    rolled = records[1]
    assert rolled.import_wh > 50
    assert rolled.import_wh_total == rolled.import_wh - 50
    totals = [REGISTER_MODULUS - 50] + [r.import_wh_total for r in records[1:]]
    for before, r in zip(totals, records[1:], strict=False):
        assert 0 <= r.import_wh_total < REGISTER_MODULUS
        assert (r.import_wh_total - before) % REGISTER_MODULUS == r.import_wh
    (midnight,) = [d for f in of(METER, world.log) if isinstance(f, DailyFrame) for d in f.days]
    (last_of_day,) = [r for r in records if r.start + INTERVAL_S == midnight.day_start]
    assert midnight.import_wh_total == last_of_day.import_wh_total


def test_a_pushed_tariff_is_acknowledged_logged_and_charged_from_its_day() -> None:
    world = World()
    effective = ist_day(world.start) + timedelta(days=1)
    dearer = dataclasses.replace(
        LMV1.on(effective),
        effective_from=effective,
        slabs=tuple(dataclasses.replace(s, rate=s.rate * 2) for s in LMV1.on(effective).slabs),
    )
    at = world.interval(1) + 10
    sent = of(METER, world.order("tariff", at, args=tariff_args(dearer)))
    assert acks(sent) == [("cmd-1", "done")]
    assert (EventCode.TARIFF_PROGRAMMED, int(at)) in events(sent)

    i = world.twin.index[METER]
    next_midnight = float(epoch(ist_midnight(effective)))
    world.run_to(next_midnight)  # every interval of the day before, by the published rates
    before_day = int(world.twin.balance[i]), int(world.twin.month_wh[i])
    world.run_to(next_midnight + INTERVAL_S)  # the first interval of the new day, by the new rates
    wh = int(world.twin.month_wh[i]) - before_day[1]
    charged = before_day[0] - int(world.twin.balance[i])
    own = MirrorTariff(dearer)
    one = np.array([before_day[1]], dtype=np.int64)
    expected = own.interval_charge(one, np.array([wh], dtype=np.int64)) + own.fixed_charge(
        world.twin.sanctioned_w[i : i + 1], effective
    )
    assert wh > 0 and charged == int(expected[0])
    published = MirrorTariff(LMV1.on(effective))
    assert charged > int(published.interval_charge(one, np.array([wh], dtype=np.int64))[0])


# ---------------------------------------------------------------------- supply's permit and cut


def test_an_offline_meter_without_the_servers_permit_never_cuts_itself() -> None:
    world = World(consumers=opening(METER, 1), policy=SHORT_GRACE)
    world.disconnect_in_civil_lines(world.t0)

    back = world.reconnect_civil_lines(world.t0 + 6 * 3600)

    assert events(of(METER, back)) == []
    assert next(f for f in of(METER, back) if isinstance(f, StatusFrame)).relay == 1


def test_an_offline_meter_cuts_itself_no_earlier_than_the_permit_says() -> None:
    world = World(consumers=opening(METER, 1), policy=SHORT_GRACE)
    after = int(world.t0) + 3 * 3600
    assert acks(of(METER, world.order("cutoff_permit", world.t0, args={"after": after}))) == [("cmd-1", "done")]
    world.disconnect_in_civil_lines(world.t0)

    back = world.reconnect_civil_lines(world.t0 + 6 * 3600)

    assert events(of(METER, back)) == [(301, after)]


def test_credit_that_makes_the_balance_whole_voids_the_permit() -> None:
    world = World(consumers=opening(METER, 1), policy=SHORT_GRACE)
    world.order("cutoff_permit", world.t0, args={"after": int(world.t0)})
    world.order("credit", world.t0 + 1800, args={"amount_paise": 100_000})
    world.disconnect_in_civil_lines(world.t0 + 1800)

    back = world.reconnect_civil_lines(world.t0 + 6 * 3600)

    assert events(of(METER, back)) == []


def test_a_disconnect_for_credit_is_refused_while_the_meters_balance_is_not_negative() -> None:
    world = World()
    at = world.t0 + 600

    sent = of(METER, world.order("relay_disconnect", at, args={"for_credit": 1}))

    assert acks(sent) == [("cmd-1", "refused")]
    assert events(sent) == []
    assert status(world, at + 1).relay == 1


def test_a_disconnect_that_arrives_after_its_until_is_refused() -> None:
    world = World()
    at = world.t0 + 600

    sent = of(METER, world.order("relay_disconnect", at, args={"until": int(at) - 1}))

    assert acks(sent) == [("cmd-1", "refused")]
    assert status(world, at + 1).relay == 1
