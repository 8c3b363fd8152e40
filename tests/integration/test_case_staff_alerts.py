"""A case tells the area's field staff: their alerts go into the outbox in the case's own
transaction (committed with it, rolled back with it), in their language, to those whose role
works cases; a case with no one to tell says so; an assignment tells the assignee. On SQLite
and PostgreSQL; the e-mail reaches a real SMTP server (aiosmtpd) once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.access.handlers import StaffDetails, add_staff
from bijli.access.model import Role
from bijli.adapters.db import alert_tables
from bijli.adapters.db import engine as db
from bijli.adapters.db.alerts import UnknownAccount
from bijli.adapters.db.store import Store
from bijli.adapters.mail.smtp import SmtpMail
from bijli.alerts.handlers import deliver_due
from bijli.alerts.model import AlertKind, Channel, DeliveryState
from bijli.fleet.city import build_city
from bijli.vigilance.cases import Step, StepRequest
from bijli.vigilance.handlers import act, case_with_history, cases, open_cases
from bijli.vigilance.ports import CaseFilter
from tests.conftest import free_port
from tests.support.alerts import Recorder
from tests.support.cases import hold_magnet, hooking, tamper
from tests.support.mailbox import Mailbox
from tests.support.sites import commissioned_store

NOW = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
CITY = build_city(4)
CIVIL_LINES = CITY[0]  # KNCL0000001, Civil Lines
INSTALLED = NOW - timedelta(days=30)
PASSWORD = "a long enough password 42"


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> Iterator[Store]:
    s = commissioned_store(database_url or db.sqlite_url(tmp_path), CITY, INSTALLED)
    yield s
    s.engine.dispose()


def staff(store: Store, name: str, role: Role, *areas: str, **details: str) -> None:
    add_staff(store, name, role, PASSWORD, NOW - timedelta(days=1), StaffDetails(areas=list(areas), **details))


def crew(store: Store) -> None:
    """Civil Lines: a field engineer (Hindi, SMS and e-mail) and an operator (SMS only) who
    work cases, a billing clerk who does not; Mall Road: its own field engineer."""
    staff(
        store,
        "fe-ravi",
        Role.FIELD_ENGINEER,
        "Civil Lines",
        mobile="9812345678",
        email="ravi@kesco.example",
        language="hi",
    )
    staff(store, "op-asha", Role.OPERATOR, "Civil Lines", "Mall Road", mobile="9876543210")
    staff(store, "bill-meena", Role.BILLING, "Civil Lines", mobile="9811111111")
    staff(store, "fe-mall", Role.FIELD_ENGINEER, "Mall Road", mobile="9822222222")


def magnet(store: Store, meter: str) -> str:
    """A magnet on `meter`, received and turned into its case by the round; the case id."""
    (case_id,) = hold_magnet(store, meter, NOW - timedelta(seconds=2), NOW, NOW + timedelta(seconds=1))
    return case_id


def told(store: Store) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Each staff alert: its fact key -> (kind, language, each channel's state)."""
    a, d = alert_tables.alerts.c, alert_tables.alert_deliveries.c
    found: dict[str, tuple[str, str, dict[str, str]]] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(a.staff_username, a.kind, a.language, d.channel, d.state)
            .join_from(alert_tables.alerts, alert_tables.alert_deliveries, a.alert_id == d.alert_id)
            .where(a.staff_username.is_not(None))
        )
        for r in rows:
            found.setdefault(r.staff_username, (r.kind, r.language, {}))[2][r.channel] = r.state
    return found


def alert_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(alert_tables.alerts)).scalar_one())


def test_a_magnet_tells_the_areas_field_staff_who_work_cases_in_their_language(store: Store) -> None:
    crew(store)
    case_id = magnet(store, CIVIL_LINES.meter_id)

    assert told(store) == {
        "fe-ravi": ("case_opened", "hi", {"sms": "pending", "email": "pending", "web": "skipped"}),
        "op-asha": ("case_opened", "en", {"sms": "pending", "email": "skipped", "web": "skipped"}),
    }  # not billing (its role works no cases), not Mall Road's engineer
    case, _ = case_with_history(store, case_id)
    assert case.staff_told == 2 and not case.no_field_staff
    sms = Recorder()
    report = deliver_due(store, {Channel.SMS: sms}, NOW + timedelta(seconds=2))
    assert report.sent == 3  # two staff and the consumer's tamper_reported
    by_to = {m.to: m for m in sms.sent}
    ravi, asha = by_to["+919812345678"], by_to["+919876543210"]
    assert ravi.language == "hi" and ravi.template_id == "1107176500000000702"
    assert case_id in ravi.text and CIVIL_LINES.meter_id in ravi.text and "चुंबक" in ravi.text
    assert "उच्च" in ravi.text and f"/operations/cases/{case_id}" in ravi.text
    assert asha.template_id == "1107176500000000701"
    assert asha.text.startswith(f"bijli: case {case_id} opened on 02 Nov 2026, 12:00, high severity: a magnet")
    assert f"at {CIVIL_LINES.meter_id}, Civil Lines, {CIVIL_LINES.transformer}." in asha.text
    # The consumer's notice of the tamper is kept as it was.
    (consumer,) = [m for m in sms.sent if m.to not in (ravi.to, asha.to)]
    assert consumer.template_id in ("1107176500000000601", "1107176500000000602") and case_id in consumer.text


def test_the_case_and_its_staff_alerts_roll_back_together(store: Store) -> None:
    crew(store)
    good = hooking("CL-F01-DT01", "Civil Lines", NOW, "hooking:CL-F01-DT01:2026-11-01", notify_field_staff=True)
    broken = tamper(  # its consumer's alert names an account the store does not hold
        "magnet",
        "KNCL0000002",
        "Civil Lines",
        NOW,
        "magnet:KNCL0000002:1",
        account_no="NO-SUCH-ACCOUNT",
        notify_consumer=True,
        notify_field_staff=True,
    )
    with pytest.raises(UnknownAccount):
        open_cases(store, [good, broken])
    assert cases(store, CaseFilter(area="Civil Lines"), 10, 0) == []
    assert alert_count(store) == 0  # neither case, nor any staff alert

    (case_id,) = open_cases(store, [good])  # alone, it commits with its staff's alerts
    assert set(told(store)) == {"fe-ravi", "op-asha"}
    assert cases(store, CaseFilter(area="Civil Lines"), 10, 0)[0].case_id == case_id


def test_a_case_where_no_field_staff_is_on_record_says_so(store: Store) -> None:
    staff(store, "bill-meena", Role.BILLING, "Mall Road", mobile="9811111111")  # works no cases
    staff(store, "fe-silent", Role.FIELD_ENGINEER, "Mall Road")  # no mobile, no e-mail: cannot be told
    case_id = magnet(store, CITY[1].meter_id)  # Mall Road
    case, _ = case_with_history(store, case_id)
    assert case.staff_told == 0 and case.no_field_staff
    assert told(store) == {"fe-silent": ("case_opened", "en", {"sms": "skipped", "email": "skipped", "web": "skipped"})}


def test_an_assignment_tells_the_assignee_once_per_assignment(store: Store) -> None:
    crew(store)
    case_id = magnet(store, CIVIL_LINES.meter_id)
    act(store, case_id, StepRequest(step=Step.ASSIGN, actor="op-asha", reason="nearest", assignee="fe-mall"), NOW)
    act(store, case_id, StepRequest(step=Step.ASSIGN, actor="op-asha", reason="by hand", assignee="a contractor"), NOW)
    a = alert_tables.alerts.c
    with store.engine.connect() as conn:
        assigned = conn.execute(
            sa.select(a.staff_username, a.facts).where(a.kind == AlertKind.CASE_ASSIGNED.value)
        ).all()
    assert [(r.staff_username, r.facts["case_id"]) for r in assigned] == [("fe-mall", case_id)]  # not a stranger


@pytest.mark.postgres
def test_a_field_officers_email_arrives_once_for_a_magnet_case(pg_url: str, tmp_path: Path) -> None:
    store = commissioned_store(pg_url, CITY, INSTALLED)
    box = Mailbox(free_port(), tmp_path / "mailbox.jsonl").start()
    try:
        crew(store)
        case_id = magnet(store, CIVIL_LINES.meter_id)
        mail = SmtpMail("127.0.0.1", box.port, "alerts@kesco.example", mode="plain")
        first = deliver_due(store, {Channel.EMAIL: mail}, NOW + timedelta(seconds=2))
        again = deliver_due(store, {Channel.EMAIL: mail}, NOW + timedelta(hours=3))
        assert (first.sent, again.claimed) == (1, 0)
        (got,) = box.messages()
        assert got["to"] == ["ravi@kesco.example"] and got["language"] == "hi"
        assert case_id in got["subject"] and f"/operations/cases/{case_id}" in got["text"]
        assert got["message_id"].startswith("<bijli-alert-") and got["message_id"].endswith("-email@kesco.example>")
        assert told(store)["fe-ravi"][2]["email"] == DeliveryState.SENT.value
    finally:
        box.kill()
        store.engine.dispose()
