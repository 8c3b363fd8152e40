"""What every API route shares at its edge: the errors it may answer, paging, and the bounds
on days, times and audit text, each said in the OpenAPI document and enforced alike."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_PREFIX
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema

from bijli.web.edge import MAX_BODY

T = TypeVar("T")

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000
"""Far past any list bijli keeps (3.5 crore meters), far below what a database can skip."""

YEARS = r"(20\d\d|2100)"
DAY_PATTERN = rf"^{YEARS}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
MONTH_PATTERN = rf"^{YEARS}-(0[1-9]|1[0-2])$"
CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
AUDIT_PATTERN = rf"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$"
"""Text kept in an audit trail: something besides spaces, and no control characters (no line
breaks, escapes or NULs to forge a line of the trail or a terminal's display)."""


class Problem(BaseModel):
    """An error that names what is wrong in words."""

    detail: str


EDGE: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "The request is not one bijli reads: a Host it does not serve, or a body that is not JSON.",
    },
    413: {"model": Problem, "description": f"The request body is larger than {MAX_BODY} bytes."},
    422: {
        "description": "A parameter or a field breaks its rule; each problem names it.",
        "content": {"application/json": {"schema": {"$ref": f"{REF_PREFIX}HTTPValidationError"}}},
    },
    503: {
        "model": Problem,
        "description": "The database did not answer in time (the statement timeout); try again after Retry-After.",
    },
}
"""Errors any API route may answer, the same everywhere (routers take them as `responses`)."""


def invalid(where: str, field: str, message: str, value: object) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors (`where`: query, path or body)."""
    return RequestValidationError([{"type": "value_error", "loc": (where, field), "msg": message, "input": value}])


class Paged(BaseModel):
    """A page of a list: where it starts, how long it may be, and where the next one starts."""

    limit: int = Field(description="Items per page asked for.")
    offset: int = Field(description="Items skipped before this page.")
    next_offset: int | None = Field(description="The `offset` of the next page; null on the last page.")


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, 0 to {MAX_OFFSET}.")]


def page_of(rows: Sequence[T], limit: int, offset: int) -> tuple[list[T], int | None]:
    """The page out of `rows` fetched as `limit + 1` from `offset`, and the next page's offset."""
    more = len(rows) > limit
    return list(rows[:limit]), (offset + limit if more else None)


def window(rows: Sequence[T], limit: int, offset: int) -> tuple[list[T], int | None]:
    """The page of a whole list already in memory, and the next page's offset."""
    return page_of(rows[offset : offset + limit + 1], limit, offset)


def _day_text(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


def _day_in_calendar(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def _moment_text(value: object) -> object:
    # A bare number would otherwise pass as seconds since 1970, which no caller means.
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.\d*)?", value.strip()):
        raise ValueError("a time is written in ISO 8601: YYYY-MM-DDThh:mm:ss with Z or an offset")
    return value


def _moment_in_calendar(moment: datetime) -> datetime:
    # The year first: a time at the end of year 9999 west of UTC cannot be moved to UTC at all.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not EARLIEST.year <= aware.year <= LATEST.year or not EARLIEST <= aware <= LATEST:
        raise ValueError(f"a time from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}")
    return moment


def in_calendar(day: date) -> bool:
    """Whether bijli answers for `day` (from 2000 to 2100)."""
    return FIRST_DAY <= day <= LAST_DAY


def asked_day(text: str | None) -> date | None:
    """The day a page's ``?day=`` names (YYYY-MM-DD), None when it names none; 400 for a day
    that is not a date or is outside the calendar bijli answers for."""
    if text is None or text == "":
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"day {text!r} is not a date like 2026-11-02") from None
    if not in_calendar(day):
        raise HTTPException(status_code=400, detail=f"day {text} is outside {FIRST_DAY} to {LAST_DAY}")
    return day


Day = Annotated[
    date,
    BeforeValidator(_day_text),
    AfterValidator(_day_in_calendar),
    # The pattern alone says it: a generator that honours `format: date` as well would draw from
    # years 1 to 9999 and find almost none in the pattern's two centuries.
    WithJsonSchema({"type": "string", "pattern": DAY_PATTERN, "examples": ["2026-11-02"]}),
]
"""A day from 2000-01-01 to 2100-12-31, written YYYY-MM-DD."""
Moment = Annotated[datetime, BeforeValidator(_moment_text), AfterValidator(_moment_in_calendar)]
"""A time in ISO 8601 from 2000 to the end of 2100 (`format: date-time`; the years in words)."""


def audit_text(max_length: int, description: str) -> Any:
    """A `Field` for text an audit trail keeps: 1 to `max_length` characters, not blank, no control characters."""
    return Field(min_length=1, max_length=max_length, pattern=AUDIT_PATTERN, description=description)
