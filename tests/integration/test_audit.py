"""The audit trail read back from SQLite and PostgreSQL: commands, status changes, bulk requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bijli import settings
from bijli.access import bulk
from bijli.accounts.handlers import change_status
from bijli.bootstrap import bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.headend.command_records import CommandRequest
from bijli.headend.handlers import submit_command
from bijli.mdm.meters import MeterStatus

T0 = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
CITY = [c.meter_id for c in build_city(3)]


def test_the_trail_lists_who_asked_for_what_newest_first(database_url: str | None, tmp_path: Path) -> None:
    platform = bootstrap(
        settings.build(data_dir=tmp_path / "data", database_url=database_url, broker_url="memory", new_site=True)
    )
    try:
        commission_city(platform.store, platform.settings.tariff_code, build_city(3), T0 - timedelta(days=1))
        asked = CommandRequest(
            meter_id=CITY[0],
            action="relay_disconnect",
            args={},
            reason="arrears",
            requested_by="sharma",
            idempotency_key="k1",
            expires_in=timedelta(hours=1),
        )
        command, _ = submit_command(platform.store, asked, T0)
        change_status(
            platform.store,
            CITY[1],
            MeterStatus.DECOMMISSIONED,
            changed_by="khan",
            reason="removed",
            now=T0 + timedelta(minutes=1),
        )
        request = bulk.request_bulk(
            platform.store, "relay_connect", [CITY[2]], "restore", "sharma", T0 + timedelta(minutes=2)
        )
        bulk.refuse_bulk(platform.store, request.request_id, "verma", "wait", T0 + timedelta(minutes=3))

        entries = platform.audit.entries(limit=10, offset=0)
        assert [(e.at, e.who, e.what, e.meter_id, e.detail) for e in entries] == [
            (T0 + timedelta(minutes=3), "verma", "bulk-refused", None, "wait"),
            (T0 + timedelta(minutes=2), "sharma", "bulk:relay_connect", None, "restore"),
            (T0 + timedelta(minutes=1), "khan", "status:commissioned->decommissioned", CITY[1], "removed"),
            (T0, "sharma", "command:relay_disconnect", CITY[0], "arrears"),
        ]
        assert entries[3].reference == command.command_id and entries[0].reference == request.request_id
        page = platform.audit.entries(limit=2, offset=2)
        assert [e.what for e in page] == ["status:commissioned->decommissioned", "command:relay_disconnect"]
    finally:
        platform.close()
