"""`bijli onboard` as a utility uses it on PostgreSQL: a 24,000-row sheet with a few bad rows
puts the good rows in service and names the bad ones with their reasons; the same sheet again
duplicates nothing, and a changed row updates its records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bijli.adapters.db import engine as db
from tests.conftest import BIJLI, run_bijli
from tests.support.sheets import sheet_row, write_sheet

ROWS = 24_000
BAD = {
    5: {"mobile": "12345"},
    77: {"phase": "2"},
    500: {"meter_id": "KNCL0000001"},  # the first row's meter again
    9000: {"installed_on": "31-02-2026"},
    23_999: {"tariff_category": "LMV-9"},
}


def onboard(sheet: Path, store: list[str]) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [*BIJLI, "onboard", str(sheet), "--by", "e2e", *store], capture_output=True, text=True, timeout=600
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout + done.stderr
    return done.returncode, json.loads(lines[0]), done.stderr


@pytest.mark.postgres
def test_a_big_sheet_goes_in_with_its_bad_rows_named_and_taken_again_duplicates_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    sheet = tmp_path / "installations.csv"
    write_sheet(sheet, ROWS, BAD)
    run_bijli(["keys", "init", "--data-dir", str(tmp_path)])
    store = ["--data-dir", str(tmp_path), "--database-url", pg_url]

    code, first, progress = onboard(sheet, store)
    again_code, again, _ = onboard(sheet, store)

    assert (code, first["rows"], first["created"], first["updated"]) == (1, ROWS, ROWS - len(BAD), 0)
    assert first["rejected"] == [
        {"row": 7, "reason": "mobile '12345' is not an Indian mobile number (+91 and ten digits)"},
        {"row": 79, "reason": "phase '2' is not 1 or 3"},
        {"row": 502, "reason": "meter KNCL0000001 is installed on account KESCOCL0000001"},
        {
            "row": 9002,
            "reason": "installed_on '31-02-2026' is not a date (2026-11-10 or 10-11-2026) "
            "or a date and time (2026-11-10T11:30)",
        },
        {"row": 24_001, "reason": "tariff category 'LMV-9' is not one bijli charges by (known: UP-LMV1-DU)"},
    ]
    assert "onboarding" in progress
    assert (again_code, again["created"], again["updated"], again["rejected"]) == (1, 0, 0, first["rejected"])

    engine = db.create(pg_url)
    with engine.connect() as conn:
        in_service = conn.execute(
            sa.text(
                "SELECT count(*) FROM installations i JOIN meters m USING (meter_id) "
                "JOIN accounts a ON a.meter_id = i.meter_id "
                "WHERE i.removed_at IS NULL AND m.status = 'commissioned' AND a.status = 'active'"
            )
        ).scalar()
        ledger = dict(conn.execute(sa.text("SELECT kind, count(*) FROM ledger GROUP BY kind")).all())
        bad_meters = conn.execute(
            sa.text("SELECT count(*) FROM meters WHERE meter_id = ANY(:ids)"),
            {"ids": [sheet_row(i)["meter_id"] for i in BAD if i != 500]},
        ).scalar()
    engine.dispose()
    assert in_service == ROWS - len(BAD)
    owing = sum(1 for i in range(ROWS) if i not in BAD and sheet_row(i)["arrears"])
    assert ledger == {"opening": ROWS - len(BAD) - owing, "arrears": owing}
    assert bad_meters == 0

    changed = tmp_path / "changed.csv"
    write_sheet(changed, 3, {1: {"consumer_name": "Consumer Two Renamed", "sanctioned_load_kw": "3"}})
    code, third, _ = onboard(changed, store)
    assert (code, third) == (0, {"rows": 3, "created": 0, "updated": 1, "rejected": []})
