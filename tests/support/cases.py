"""Cases for tests: a store with a small city in service, openings as the detectors write them,
and tamper events taken the way the head-end takes them and turned into cases by the round."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bijli.adapters.db.store import Store
from bijli.protocol.events import EventCode
from bijli.vigilance.cases import CaseOpening, Severity, SubjectLevel
from bijli.vigilance.handlers import open_due_cases
from bijli.vigilance.rules import shipped_rules
from tests.support.ingest import receive_events


def hold_magnet(store: Store, meter_id: str, held_at: datetime, received_at: datetime, round_at: datetime) -> list[str]:
    """A magnet held to `meter_id` at `held_at`: its event received at `received_at`, then the
    cases' round at `round_at`; the ids of the cases that round opened."""
    receive_events(store, received_at, (meter_id, EventCode.MAGNET, held_at))
    return open_due_cases(store, shipped_rules(), round_at).opened


def hooking(transformer: str, area: str, at: datetime, key: str | None = None, **more: Any) -> CaseOpening:
    """A hooking case on `transformer` opened at `at`: 18% of its energy billed to nobody."""
    return CaseOpening(
        key=f"hooking:{transformer}:{at.date().isoformat()}" if key is None else key,
        kind="hooking",
        severity=Severity.HIGH,
        subject_level=SubjectLevel.TRANSFORMER,
        subject_id=transformer,
        area=area,
        opened_at=at,
        reason_code="energy_missing",
        reason_en=f"18% of the energy into {transformer} is billed to nobody",
        reason_hi=f"{transformer} में आई ऊर्जा का 18% किसी के बिल में नहीं",
        **more,
    )


TAMPER_REASONS: dict[str, tuple[str, str]] = {
    "magnet": ("A magnet was held to the meter", "मीटर पर चुंबक लगाया गया"),
    "bypass": ("Current bypassing the meter", "मीटर को बायपास करती धारा"),
}
"""(English, Hindi) reason of each kind of tamper case the tests open by hand."""


def tamper(kind: str, meter_id: str, area: str, at: datetime, key: str | None = None, **more: Any) -> CaseOpening:
    """A high-severity `kind` case on meter `meter_id` opened at `at` (`kind` one of TAMPER_REASONS)."""
    reason_en, reason_hi = TAMPER_REASONS[kind]
    return CaseOpening(
        key=f"{kind}:{meter_id}:{at.isoformat()}" if key is None else key,
        kind=kind,
        severity=Severity.HIGH,
        subject_level=SubjectLevel.METER,
        subject_id=meter_id,
        area=area,
        opened_at=at,
        reason_code=kind,
        reason_en=reason_en,
        reason_hi=reason_hi,
        **more,
    )
