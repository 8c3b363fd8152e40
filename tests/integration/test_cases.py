"""Cases on SQLite and PostgreSQL: opened once per key through the shared way in, opened from
the meters' events by the rules with the consumer's alert in the same transaction, and worked
through the workflow with every step audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.adapters.db import alert_tables
from bijli.adapters.db import engine as db
from bijli.adapters.db.store import Store
from bijli.fleet.city import build_city
from bijli.vigilance.cases import CaseOpening, Severity, Status, Step, StepRefused, StepRequest, SubjectLevel
from bijli.vigilance.handlers import act, case_with_history, cases, live_actions, open_cases, open_due_cases
from bijli.vigilance.ports import CaseFilter
from bijli.vigilance.rules import shipped_rules
from tests.support import cases as opening
from tests.support.ingest import receive_events
from tests.support.sites import commissioned_store

NOW = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
CITY = build_city(4)


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> Iterator[Store]:
    store = commissioned_store(database_url or db.sqlite_url(tmp_path), CITY, NOW - timedelta(days=30))
    yield store
    store.engine.dispose()


def alert_kinds(store: Store, account: str) -> list[str]:
    with store.engine.connect() as conn:
        a = alert_tables.alerts.c
        return list(conn.execute(sa.select(a.kind).where(a.account_no == account).order_by(a.alert_id)).scalars())


def hooking(key: str) -> CaseOpening:
    return opening.hooking(
        "DT-CL-001",
        "Civil Lines",
        NOW,
        key,
        evidence={"missing_wh": 41_000, "ranked": [{"meter_id": CITY[0].meter_id, "score": 0.8}]},
    )


def test_a_case_is_opened_once_per_key_and_says_so_in_its_history(store: Store) -> None:
    first = open_cases(store, [hooking("hooking:DT-CL-001:2026-11-01"), hooking("hooking:DT-CL-001:2026-11-01")])
    again = open_cases(store, [hooking("hooking:DT-CL-001:2026-11-01"), hooking("hooking:DT-CL-001:2026-11-02")])
    assert first[0] == first[1] == again[0] != again[1]
    case, history = case_with_history(store, first[0])
    assert case.status is Status.NEW and case.subject_level is SubjectLevel.TRANSFORMER
    assert case.evidence["ranked"][0]["meter_id"] == CITY[0].meter_id
    assert [(a.step, a.actor) for a in history] == [(Step.OPEN, "platform")]
    assert len(cases(store, CaseFilter(kind="hooking"), 10, 0)) == 2


def test_a_magnet_opens_one_case_and_alerts_its_consumer_and_repeats_open_nothing_more(store: Store) -> None:
    meter, account = CITY[0].meter_id, CITY[0].account_no
    went = NOW - timedelta(seconds=2)
    receive_events(store, NOW, (meter, 201, went), (CITY[1].meter_id, 101, went))
    done = open_due_cases(store, shipped_rules(), NOW + timedelta(seconds=1))
    assert len(done.opened) == 1
    receive_events(store, NOW + timedelta(minutes=1), (meter, 201, NOW + timedelta(seconds=50)))
    assert open_due_cases(store, shipped_rules(), NOW + timedelta(minutes=1, seconds=1)).opened == []
    found = cases(store, CaseFilter(subject_id=meter), 10, 0)
    assert [(c.kind, c.severity, c.account_no) for c in found] == [("magnet", Severity.HIGH, account)]
    assert cases(store, CaseFilter(subject_id=CITY[1].meter_id), 10, 0) == []  # a power failure is no theft
    assert alert_kinds(store, account) == ["tamper_reported"]
    assert alert_kinds(store, CITY[1].account_no) == []
    # After its restoration, the magnet again is a new incident: a new case.
    receive_events(
        store,
        NOW + timedelta(minutes=3),
        (meter, 202, NOW + timedelta(minutes=2)),
        (meter, 201, NOW + timedelta(minutes=3)),
    )
    assert len(open_due_cases(store, shipped_rules(), NOW + timedelta(minutes=3, seconds=1)).opened) == 1


def test_an_event_committed_late_is_still_seen_by_the_next_round(store: Store) -> None:
    meter = CITY[2].meter_id
    receive_events(store, NOW, (meter, 65, NOW))
    open_due_cases(store, shipped_rules(), NOW + timedelta(seconds=1))
    late = NOW - timedelta(seconds=5)  # stamped before the cursor
    receive_events(store, late, (meter, 251, late - timedelta(seconds=1)))
    assert len(open_due_cases(store, shipped_rules(), NOW + timedelta(seconds=2)).opened) == 1
    assert {c.kind for c in cases(store, CaseFilter(subject_id=meter), 10, 0)} == {"bypass", "cover_open"}


def test_many_events_at_one_instant_are_taken_batch_after_batch(store: Store) -> None:
    events = [(c.meter_id, code, NOW - timedelta(seconds=i)) for i, c in enumerate(CITY) for code in (201, 207, 65)]
    receive_events(store, NOW, *events)
    assert len(open_due_cases(store, shipped_rules(), NOW, limit=5).opened) == 12


def test_every_step_is_audited_and_a_step_out_of_order_changes_nothing(store: Store) -> None:
    (case_id,) = open_cases(store, [hooking("hooking:DT-CL-001:2026-11-03")])
    with pytest.raises(StepRefused):
        act(store, case_id, StepRequest(step=Step.CONFIRM, actor="op", reason="sure"), NOW)
    act(store, case_id, StepRequest(step=Step.ASSIGN, actor="op", reason="nearest", assignee="fe-ravi"), NOW)
    act(store, case_id, StepRequest(step=Step.INSPECT, actor="fe-ravi", reason="hook on pole 7"), NOW)
    case, _ = act(store, case_id, StepRequest(step=Step.CONFIRM, actor="op", reason="photos"), NOW)
    assert case.status is Status.CONFIRMED_THEFT and case.assignee == "fe-ravi"
    _, history = case_with_history(store, case_id)
    assert [(a.step, a.actor, a.reason) for a in history][1:] == [
        (Step.ASSIGN, "op", "nearest"),
        (Step.INSPECT, "fe-ravi", "hook on pole 7"),
        (Step.CONFIRM, "op", "photos"),
    ]
    live = live_actions(store, 0, "Civil Lines")
    assert [a.step for a, _ in live] == [Step.OPEN, Step.ASSIGN, Step.INSPECT, Step.CONFIRM]
    assert live_actions(store, 0, "Mall Road") == []
    assert all(c.status is Status.CONFIRMED_THEFT for _, c in live)


def test_a_disturbed_neutral_inside_a_transformer_outage_opens_nothing_but_one_alone_does(store: Store) -> None:
    a, b, alone = CITY[0], CITY[2], CITY[1]
    assert a.transformer == b.transformer != alone.transformer
    went = NOW - timedelta(minutes=5)
    receive_events(store, NOW, (a.meter_id, 101, went), (b.meter_id, 101, went + timedelta(seconds=20)))
    receive_events(store, NOW, (a.meter_id, 203, went + timedelta(seconds=30)), (alone.meter_id, 203, went))
    receive_events(store, NOW, (a.meter_id, 201, went + timedelta(seconds=40)))  # a magnet is theft, outage or not
    open_due_cases(store, shipped_rules(), NOW + timedelta(seconds=1))
    assert {c.kind for c in cases(store, CaseFilter(subject_id=a.meter_id), 10, 0)} == {"magnet"}
    assert {c.kind for c in cases(store, CaseFilter(subject_id=alone.meter_id), 10, 0)} == {"neutral_disturbance"}
