"""The API's limits: paging on every list, bounded offsets and dates, audit text without control
characters, one documented error schema, and reports that do not rescan the fleet each call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from bijli.bootstrap import Platform
from bijli.web.limits import MAX_OFFSET
from tests.web.conftest import DEMO_METERS, LAST_SEEN, MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient  # imported at run time by conftest, quietly

DAY = "2026-11-02"
WINDOW = {"start": "2026-11-02T00:00:00+05:30", "end": "2026-11-03T00:00:00+05:30"}


def first_meter(api: TestClient) -> str:
    meter_id: str = api.get("/api/v1/meters").json()["items"][0]["meter_id"]
    return meter_id


ACCOUNT = "KESCOCL0000001"
"""The first meter's account."""


def lists(meter_id: str) -> list[tuple[str, dict[str, str], str]]:
    """Every list and report of the API: path, its required parameters, the key of its items."""
    return [
        (f"/api/v1/accounts/{ACCOUNT}/ledger", WINDOW, "items"),
        (f"/api/v1/accounts/{ACCOUNT}/alerts", {}, "items"),
        ("/api/v1/meters", {}, "items"),
        (f"/api/v1/meters/{meter_id}/readings", WINDOW, "items"),
        (f"/api/v1/meters/{meter_id}/edits", WINDOW, "items"),
        (f"/api/v1/meters/{meter_id}/commands", {}, "items"),
        (f"/api/v1/meters/{meter_id}/status-history", {}, "items"),
        ("/api/v1/reports/non-communicating", {"hours": "1"}, "items"),  # every meter, two days on
        ("/api/v1/fleet/connectivity", {}, "groups"),
        ("/api/v1/usage", {"level": "meter", "day": DAY}, "items"),
        ("/api/v1/balances", {"day": DAY}, "items"),
        ("/api/v1/anomalies", {"day": DAY}, "items"),
        ("/api/v1/audit", {}, "items"),
        ("/api/v1/commands/bulk", {}, "items"),
        ("/api/v1/reconciliation", {"state": "all"}, "items"),
        ("/api/v1/cases", {}, "items"),
        ("/api/v1/events", {}, "items"),
        ("/api/v1/outages", {}, "items"),
        ("/api/v1/disputes", {"state": "all"}, "items"),
    ]


def test_every_list_in_the_document_is_paged(api: TestClient) -> None:
    """Any operation whose answer holds a list (`items`, `groups`) takes `limit` and `offset` and
    says `next_offset`; and the walk below covers every one of them."""
    document = api.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    listing = set()
    for path, item in document["paths"].items():
        for method, op in item.items():
            ok = next(code for code in op["responses"] if code.startswith("2"))
            ref = op["responses"][ok]["content"]["application/json"]["schema"].get("$ref", "")
            fields = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            if {"items", "groups"} & set(fields):
                listing.add(path)
                assert {p["name"] for p in op.get("parameters", [])} >= {"limit", "offset"}, f"{method} {path}"
                assert "next_offset" in fields, f"{method} {path}"
    meter_id = first_meter(api)
    assert listing == {
        path.replace(meter_id, "{meter_id}").replace(ACCOUNT, "{account_id}") for path, _, _ in lists(meter_id)
    }


def test_walking_the_pages_gives_every_item_once(api: TestClient) -> None:
    meter_id = first_meter(api)
    for path, params, key in lists(meter_id):
        everything = api.get(path, params={**params, "limit": "500"}).json()  # 500: the most commands take
        assert everything["next_offset"] is None, path
        walked: list[Any] = []
        offset: int | None = 0
        while offset is not None:
            page = api.get(path, params={**params, "limit": "2", "offset": str(offset)}).json()
            assert len(page[key]) <= 2 and (page["limit"], page["offset"]) == (2, offset)
            walked.extend(page[key])
            offset = page["next_offset"]
        assert walked == everything[key], path


def test_the_meters_pages_say_where_the_next_one_starts(api: TestClient) -> None:
    first = api.get("/api/v1/meters", params={"limit": "3"}).json()
    assert (first["next_offset"], first["total"]) == (3, DEMO_METERS)
    last = api.get("/api/v1/meters", params={"limit": "3", "offset": "3"}).json()
    assert (len(last["items"]), last["next_offset"]) == (DEMO_METERS - 3, None)


@pytest.mark.parametrize("offset", [str(2**63), str(2**63 - 1), str(MAX_OFFSET + 1), "-1", "1e3"])
def test_an_offset_out_of_bounds_is_422_on_every_list(api: TestClient, offset: str) -> None:
    for path, params, _ in lists(first_meter(api)):
        r = api.get(path, params={**params, "offset": offset})
        assert r.status_code == 422, path
        assert r.json()["detail"][0]["loc"] == ["query", "offset"]


def test_the_largest_offset_is_an_empty_last_page(api: TestClient) -> None:
    for path, params, key in lists(first_meter(api)):
        page = api.get(path, params={**params, "offset": str(MAX_OFFSET)}).json()
        assert (page[key], page["next_offset"]) == ([], None), path


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/reports/collection", {"day": "9999-12-31"}, "day"),
        ("/api/v1/reports/collection", {"day": "0001-01-01"}, "day"),
        ("/api/v1/reports/collection", {"day": "1999-12-31"}, "day"),
        ("/api/v1/reports/collection", {"day": "0"}, "day"),
        ("/api/v1/usage", {"day": "9999-12-31"}, "day"),
        ("/api/v1/usage", {"month": "9999-12"}, "month"),
        ("/api/v1/usage", {"month": "2026-13"}, "month"),
        ("{meter}/readings", {"start": "9999-12-31T23:59:59-12:00", "end": "9999-12-31T23:59:59-12:00"}, "start"),
        ("{meter}/readings", {"start": "0001-01-01T00:00:00+05:30", "end": WINDOW["end"]}, "start"),
        ("{meter}/readings", {"start": WINDOW["start"], "end": "2101-01-01T00:00:01Z"}, "end"),
        ("{meter}/readings", {"start": "1700000000", "end": WINDOW["end"]}, "start"),
        ("{meter}/edits", {"start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"}, "start"),
    ],
)
def test_days_and_times_beyond_2000_to_2100_are_422_not_500(
    api: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    url = path.replace("{meter}", f"/api/v1/meters/{first_meter(api)}")
    r = api.get(url, params=params)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", field]


def test_the_calendars_ends_are_answered(api: TestClient) -> None:
    assert api.get("/api/v1/reports/collection", params={"day": "2100-12-31"}).json()["intervals_actual"] == 0
    assert api.get("/api/v1/reports/collection", params={"day": "2000-01-01"}).status_code == 200
    assert api.get("/api/v1/usage", params={"month": "2100-12"}).json()["items"] == []
    end = {"start": "2100-12-31T00:00:00+05:30", "end": "2101-01-01T00:00:00Z"}
    assert api.get(f"/api/v1/meters/{first_meter(api)}/readings", params=end).json()["items"] == []


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_consumer_page_refuses_a_day_beyond_the_calendar_with_a_page(api: TestClient, day: str) -> None:
    r = api.get(f"/consumer/{first_meter(api)}", params={"day": day})
    assert r.status_code == 400
    assert "text/html" in r.headers["content-type"]
    assert "outside 2000-01-01 to 2100-12-31" in r.text


def test_usage_without_a_day_or_a_month_is_422_in_the_documented_shape(api: TestClient) -> None:
    r = api.get("/api/v1/usage")
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["query", "day"] and "either day" in problem["msg"]


@pytest.mark.parametrize("text", ["moved out\nmeter removed", "ok\x1b[2J", "nul\x00", "tab\there", "\x85next line"])
def test_control_characters_in_audit_text_are_refused_and_change_nothing(api: TestClient, text: str) -> None:
    meter_id = first_meter(api)
    history = api.get(f"/api/v1/meters/{meter_id}/status-history").json()
    commands = api.get(f"/api/v1/meters/{meter_id}/commands").json()

    decommission = api.post(f"/api/v1/meters/{meter_id}/decommission", json={"reason": text})
    command = api.post(f"/api/v1/meters/{meter_id}/commands", json={"action": "read_now", "reason": text})
    keyed = api.post(
        f"/api/v1/meters/{meter_id}/commands", json={"action": "read_now", "reason": "audit", "idempotency_key": text}
    )

    for r, field in ((decommission, "reason"), (command, "reason"), (keyed, "idempotency_key")):
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", field]
    assert api.get(f"/api/v1/meters/{meter_id}/status-history").json() == history
    assert api.get(f"/api/v1/meters/{meter_id}/commands").json() == commands


def test_audit_text_may_be_hindi(api: TestClient) -> None:
    meter_id = first_meter(api)
    body = {"action": "read_now", "reason": "उपभोक्ता की शिकायत"}
    r = api.post(f"/api/v1/meters/{meter_id}/commands", json=body)
    assert r.status_code == 202
    assert r.json()["reason"] == "उपभोक्ता की शिकायत"


def test_every_operation_documents_its_answer_and_the_edge_errors(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            ok = next(code for code in op["responses"] if code.startswith("2"))
            schema = op["responses"][ok]["content"]["application/json"]["schema"]
            assert schema.get("$ref") or schema.get("type"), where
            assert {"400", "413", "422", "503"} <= set(op["responses"]), where
            assert op["responses"]["400"]["content"] == op["responses"]["413"]["content"], where
            validation = op["responses"]["422"]["content"]["application/json"]["schema"]
            assert validation == {"$ref": "#/components/schemas/HTTPValidationError"}, where


@contextmanager
def statements(platform: Platform) -> Iterator[list[str]]:
    """The SQL statements the web's reads run inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = platform.reads.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_the_collection_report_reads_the_fleets_day_once_not_on_every_call(
    platform: Platform, make_client: MakeClient
) -> None:
    api = make_client(platform)
    with statements(platform) as seen:
        first = api.get("/api/v1/reports/collection", params={"day": "2026-10-30"}).json()
        again = [api.get("/api/v1/reports/collection", params={"day": "2026-10-30"}).json() for _ in range(5)]
    assert again == [first] * 5
    assert sum("readings" in s for s in seen) == 1


def test_the_non_communicating_report_counts_all_and_lists_a_page(platform: Platform, make_client: MakeClient) -> None:
    api = make_client(platform, LAST_SEEN + timedelta(days=2))
    silent = api.get("/api/v1/reports/non-communicating", params={"hours": "1", "limit": "1"}).json()
    assert silent["count"] == DEMO_METERS
    assert len(silent["items"]) == 1 and silent["next_offset"] == 1
