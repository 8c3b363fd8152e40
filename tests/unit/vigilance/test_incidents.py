"""Pairing a meter's events into incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bijli.protocol.events import EventCode
from bijli.vigilance.incidents import EventClass, MeterEvent, codes_of_kind, incident_of, kind_of, pair

T0 = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def _events(*logged: tuple[str, int, int]) -> list[MeterEvent]:
    return [
        MeterEvent(event_id=n, meter_id=meter, code=code, occurred_at=T0 + timedelta(seconds=s))
        for n, (meter, code, s) in enumerate(logged, start=1)
    ]


def test_occurrence_and_restoration_make_one_incident_with_its_duration() -> None:
    (incident,) = pair(_events(("M1", EventCode.MAGNET, 0), ("M1", EventCode.MAGNET_RESTORED, 90)))
    assert incident.kind == "magnet"
    assert incident.event_class is EventClass.TAMPER
    assert incident.started_at == T0
    assert incident.ended_at == T0 + timedelta(seconds=90)
    assert incident.duration == timedelta(seconds=90)
    assert not incident.is_open
    assert incident.event_ids == (1, 2)


def test_repeats_while_open_are_merged_with_a_count() -> None:
    (incident,) = pair(
        _events(
            ("M1", EventCode.NEUTRAL_MISSING, 0),
            ("M1", EventCode.NEUTRAL_MISSING, 10),
            ("M1", EventCode.NEUTRAL_MISSING, 20),
            ("M1", EventCode.NEUTRAL_MISSING_RESTORED, 30),
        )
    )
    assert incident.count == 3
    assert incident.duration == timedelta(seconds=30)


def test_a_repeat_after_the_restoration_is_a_new_incident() -> None:
    first, second = pair(
        _events(
            ("M1", EventCode.MAGNET, 0),
            ("M1", EventCode.MAGNET_RESTORED, 10),
            ("M1", EventCode.MAGNET, 20),
        )
    )
    assert (first.count, first.is_open) == (1, False)
    assert (second.count, second.is_open, second.started_at) == (1, True, T0 + timedelta(seconds=20))
    assert second.duration is None
    assert second.duration_until(T0 + timedelta(seconds=50)) == timedelta(seconds=30)


def test_cover_open_stays_open_and_merges_later_openings() -> None:
    (incident,) = pair(_events(("M1", EventCode.COVER_OPEN, 0), ("M1", EventCode.COVER_OPEN, 3600)))
    assert incident.is_open
    assert incident.count == 2


def test_restoration_without_its_occurrence_has_an_unknown_start() -> None:
    (incident,) = pair(_events(("M1", EventCode.POWER_RESTORED, 5)))
    assert incident.started_at is None
    assert incident.kind == "power_failure"
    assert incident.event_class is EventClass.POWER
    assert incident.count == 0
    assert incident.at == T0 + timedelta(seconds=5)
    assert incident.key.endswith(f":-{int((T0 + timedelta(seconds=5)).timestamp())}")


def test_meters_and_kinds_are_paired_apart_and_events_in_any_order() -> None:
    logged = _events(
        ("M2", EventCode.MAGNET_RESTORED, 40),
        ("M1", EventCode.MAGNET, 0),
        ("M2", EventCode.MAGNET, 5),
        ("M1", EventCode.POWER_FAILURE, 10),
        ("M1", EventCode.MAGNET_RESTORED, 20),
        ("M1", EventCode.POWER_RESTORED, 30),
    )
    incidents = pair(logged)
    assert [(i.meter_id, i.kind, i.duration) for i in incidents] == [
        ("M1", "magnet", timedelta(seconds=20)),
        ("M2", "magnet", timedelta(seconds=35)),
        ("M1", "power_failure", timedelta(seconds=20)),
    ]
    owner = incident_of(incidents)
    assert owner[1].meter_id == "M2" and owner[3] is owner[1]


def test_the_key_is_the_same_however_the_events_are_read() -> None:
    logged = _events(("M1", EventCode.BYPASS, 0), ("M1", EventCode.BYPASS_RESTORED, 60))
    assert pair(logged[:1])[0].key == pair(logged)[0].key == pair(list(reversed(logged)))[0].key


def test_transaction_events_are_instant_incidents() -> None:
    first, second = pair(_events(("M1", EventCode.CLOCK_SET, 0), ("M1", EventCode.CLOCK_SET, 1)))
    assert first.duration == timedelta(0) and second.duration == timedelta(0)
    assert first.event_class is EventClass.TRANSACTION


def test_kinds_name_their_codes() -> None:
    assert kind_of(EventCode.MAGNET_RESTORED) == "magnet_restored"
    assert kind_of(999) == "code_999"
    assert codes_of_kind("magnet") == (201, 202)
    assert codes_of_kind("cover_open") == (251,)
    assert codes_of_kind("clock_set") == (151,)
    assert codes_of_kind("nonsense") == ()
