"""Last gasps grouped into transformer and feeder outages; operator outages from the meters' links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bijli.network.outages import (
    Failure,
    Link,
    OutageLevel,
    Place,
    covering,
    operator_outages,
    power_outages,
    tally,
)

T0 = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)
# Feeder F1 with transformers T1 and T2, feeder F2 with T3 alone; five meters on each (the DT meter included).
PLACES = {
    f"{t}-{n}": Place(meter_id=f"{t}-{n}", area="Civil Lines", feeder=f, transformer=t)
    for t, f in (("T1", "F1"), ("T2", "F1"), ("T3", "F2"))
    for n in range(5)
}
COUNTS = {"T1": 5, "T2": 5, "T3": 5, "F1": 2, "F2": 1}


def _down(transformer: str, meters: int, at: float = 0, back: float | None = 3600) -> list[Failure]:
    return [
        Failure(
            meter_id=f"{transformer}-{n}",
            started_at=T0 + timedelta(seconds=at + n),
            ended_at=None if back is None else T0 + timedelta(seconds=back + n),
        )
        for n in range(meters)
    ]


def test_one_transformer_losing_supply_is_one_transformer_outage() -> None:
    (outage,) = power_outages(_down("T1", 5), PLACES, COUNTS)
    assert (outage.level, outage.subject, outage.meters) == (OutageLevel.TRANSFORMER, "T1", 5)
    assert outage.started_at == T0
    assert outage.ended_at == T0 + timedelta(seconds=3604)


def test_a_whole_feeder_is_one_feeder_outage_not_one_per_transformer() -> None:
    (outage,) = power_outages(_down("T1", 5) + _down("T2", 5, at=3), PLACES, COUNTS)
    assert (outage.level, outage.subject, outage.meters) == (OutageLevel.FEEDER, "F1", 10)


def test_a_feeders_only_transformer_down_is_the_feeder_down() -> None:
    (outage,) = power_outages(_down("T3", 4), PLACES, COUNTS)
    assert (outage.level, outage.subject) == (OutageLevel.FEEDER, "F2")


def test_one_house_without_supply_is_no_outage() -> None:
    assert power_outages(_down("T1", 1), PLACES, COUNTS) == []
    assert power_outages(_down("T1", 2), PLACES, COUNTS) == []


def test_failures_far_apart_are_separate_outages_and_one_not_restored_keeps_it_open() -> None:
    found = power_outages(_down("T1", 5) + _down("T1", 5, at=7200, back=None), PLACES, COUNTS)
    assert [(o.subject, o.ended_at is None) for o in found] == [("T1", False), ("T1", True)]
    assert found[0].key != found[1].key


def test_a_meter_on_a_transformer_that_is_down_is_covered_while_it_lasts() -> None:
    outages = power_outages(_down("T1", 5) + _down("T2", 5), PLACES, COUNTS)
    assert covering(outages, PLACES["T2-3"], T0 + timedelta(minutes=30)) is not None
    assert covering(outages, PLACES["T2-3"], T0 + timedelta(hours=3)) is None
    assert covering(outages, PLACES["T3-0"], T0 + timedelta(minutes=30)) is None


def _links(area: str, jio: int, airtel: int, *, moved: int = 0, silent: int = 0) -> list[Link]:
    """Meters preferring Jio and Airtel; `moved` of the Jio ones on their Airtel SIM since T0, `silent` unheard."""
    now = T0 + timedelta(hours=1)
    links: list[Link] = []
    for n in range(jio):
        meter = f"{area}J{n}"
        if n < moved:
            links.append(Link(meter_id=meter, area=area, operator="Airtel", sim=2, switched_at=T0, last_seen=now))
        elif n < moved + silent:
            links.append(Link(meter_id=meter, area=area, operator="Jio", sim=1, switched_at=None, last_seen=T0))
        else:
            links.append(Link(meter_id=meter, area=area, operator="Jio", sim=1, switched_at=None, last_seen=now))
    links += [
        Link(meter_id=f"{area}A{n}", area=area, operator="Airtel", sim=1, switched_at=None, last_seen=now)
        for n in range(airtel)
    ]
    return links


def test_an_operator_down_in_an_area_is_recognised_from_failover_and_silence() -> None:
    now = T0 + timedelta(hours=1)
    links = _links("CL", 20, 20, moved=15, silent=4) + _links("MR", 20, 20)
    (outage,) = operator_outages(*tally(links, now), ("Jio", "Airtel"), now)
    assert (outage.level, outage.subject, outage.area, outage.meters) == (OutageLevel.OPERATOR, "Jio", "CL", 19)
    assert outage.started_at == T0


def test_an_operator_outage_starts_when_its_meters_left_not_when_a_long_silent_one_did() -> None:
    now = T0 + timedelta(hours=1)
    links = _links("CL", 20, 20, moved=15, silent=4)
    dead = [
        Link(meter_id=f"CLD{n}", area="CL", operator="Jio", sim=1, switched_at=None, last_seen=T0 - timedelta(hours=n))
        for n in (3, 5, 9)
    ]
    (outage,) = operator_outages(*tally(links + dead, now), ("Jio", "Airtel"), now)
    assert outage.started_at == T0
    assert outage.meters == 22


def test_a_few_meters_off_their_sim_or_silent_are_no_operator_outage() -> None:
    now = T0 + timedelta(hours=1)
    assert operator_outages(*tally(_links("CL", 20, 20, moved=2, silent=2), now), ("Jio", "Airtel"), now) == []


def test_a_whole_area_silent_is_not_taken_for_one_operator() -> None:
    now = T0 + timedelta(hours=1)
    everyone = [
        Link(meter_id=f"M{n}", area="CL", operator=("Jio", "Airtel")[n % 2], sim=1, switched_at=None, last_seen=T0)
        for n in range(40)
    ]
    assert operator_outages(*tally(everyone, now), ("Jio", "Airtel"), now) == []


def test_meters_without_supply_are_not_a_networks_silence() -> None:
    now = T0 + timedelta(hours=1)
    links = _links("CL", 20, 20, silent=20)
    assert len(operator_outages(*tally(links, now), ("Jio", "Airtel"), now)) == 1
    assert operator_outages(*tally(links, now), ("Jio", "Airtel"), now, frozenset(f"CLJ{n}" for n in range(20))) == []
