"""REST API v1 for what the meters report about themselves and the network: their events, each
with the incident it belongs to, and the outages found from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from bijli.access.model import Permission
from bijli.adapters.db.event_reads import EventFilter, EventView
from bijli.adapters.db.outages import OutageFilter, OutageView
from bijli.network.outages import OutageLevel
from bijli.protocol.events import EventCode
from bijli.vigilance.incidents import EventClass, Incident, class_of, codes_of_kind, is_restoration, kind_of
from bijli.web.api import PREFIX
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Limit, Moment, Offset, Paged, Problem, invalid, page_of
from bijli.web.live import event_stream, sse

Class = Literal["tamper", "power", "relay", "transaction"]
LIVE_WAIT_S = 25
"""How long one live-stream response stays open (an EventSource then reconnects)."""
LIVE_POLL_S = 1.0
LIVE_ROWS = 50
"""The outages a live stream follows: the control room's first page."""
KINDS = sorted({kind_of(c) for c in EventCode if not is_restoration(c)})
"""Incident kinds a caller may ask for (each with its restoration)."""


class IncidentOut(BaseModel):
    """An occurrence and its restoration, paired."""

    key: str = Field(description="Stable: meter:code:start-epoch (meter:code:-end-epoch when its start is unknown).")
    kind: str = Field(examples=["magnet"], description="The occurrence's kind.")
    event_class: str = Field(description="tamper, power, relay, transaction or other.")
    started_at: datetime | None = Field(description="The occurrence (UTC); null when it was not stored.")
    ended_at: datetime | None = Field(description="The restoration (UTC); null while it lasts.")
    ongoing: bool
    duration_s: int | None = Field(description="Seconds from occurrence to restoration; null while it lasts.")
    count: int = Field(description="Occurrences merged into it: repeats logged before the restoration.")


class EventOut(BaseModel):
    event_id: int
    meter_id: str
    area: str | None
    feeder: str | None
    transformer: str | None
    code: int = Field(examples=[201], description="The IS 15959 event code: odd an occurrence, even its restoration.")
    kind: str = Field(examples=["magnet", "magnet_restored"])
    event_class: str = Field(description="tamper, power, relay, transaction or other.")
    restoration: bool
    occurred_at: datetime = Field(description="When the meter logged it (UTC).")
    received_at: datetime = Field(description="When the head-end stored it (UTC).")
    incident: IncidentOut


class EventPage(Paged):
    items: list[EventOut] = Field(description="Latest first, by when they occurred.")


class OutageOut(BaseModel):
    outage_id: int
    level: Literal["feeder", "transformer", "operator"] = Field(
        description="feeder or transformer: the supply was off (last gasps); operator: a mobile network was down "
        "in the area (failover and silence)."
    )
    subject: str = Field(description="The feeder, the transformer, or the operator.")
    area: str
    started_at: datetime
    ended_at: datetime | None = Field(description="Null while it lasts.")
    ongoing: bool
    duration_s: int | None = Field(description="Seconds it lasted; null while it lasts.")
    meters: int = Field(description="Meters it took.")
    found_at: datetime
    updated_at: datetime


class OutageDetail(OutageOut):
    meter_ids: list[str] = Field(description="Every meter it took.")


class OutagePage(Paged):
    items: list[OutageOut] = Field(description="The latest begun first.")


NO_OUTAGE: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such outage."}}


def incident_out(i: Incident) -> IncidentOut:
    duration = i.duration
    return IncidentOut(
        key=i.key,
        kind=i.kind,
        event_class=i.event_class.value,
        started_at=_utc(i.started_at),
        ended_at=_utc(i.ended_at),
        ongoing=i.is_open,
        duration_s=None if duration is None else int(duration.total_seconds()),
        count=i.count,
    )


def event_out(e: EventView) -> EventOut:
    return EventOut(
        event_id=e.event_id,
        meter_id=e.meter_id,
        area=e.area,
        feeder=e.feeder,
        transformer=e.transformer,
        code=e.code,
        kind=kind_of(e.code),
        event_class=class_of(e.code).value,
        restoration=is_restoration(e.code),
        occurred_at=e.occurred_at.astimezone(UTC),
        received_at=e.received_at.astimezone(UTC),
        incident=incident_out(e.incident),
    )


def outage_out(v: OutageView) -> OutageOut:
    o = v.outage
    return OutageOut(
        outage_id=v.outage_id,
        level=o.level.value,
        subject=o.subject,
        area=o.area,
        started_at=o.started_at.astimezone(UTC),
        ended_at=_utc(o.ended_at),
        ongoing=o.ended_at is None,
        duration_s=None if o.ended_at is None else int((o.ended_at - o.started_at).total_seconds()),
        meters=o.meters,
        found_at=v.found_at.astimezone(UTC),
        updated_at=v.updated_at.astimezone(UTC),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _span(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise invalid("query", name, f"{name} needs a time zone: add Z or an offset such as +05:30", str(moment))
    if start is not None and end is not None and end <= start:
        raise invalid("query", "end", "end must be later than start", end.isoformat())
    return _utc(start), _utc(end)


def _codes(kind: str | None, event_class: Class | None) -> tuple[int, ...] | None:
    codes: set[int] | None = None
    if kind is not None:
        found = codes_of_kind(kind)
        if not found:
            raise invalid("query", "kind", f"unknown kind; known: {', '.join(KINDS)}", kind)
        codes = set(found)
    if event_class is not None:
        in_class = {int(c) for c in EventCode if class_of(c) is EventClass(event_class)}
        codes = in_class if codes is None else codes & in_class
    return None if codes is None else tuple(sorted(codes))


Place = Annotated[str | None, Query(max_length=64)]
Start = Annotated[Moment | None, Query(description="ISO 8601 with a time zone; from this moment on.")]
End = Annotated[Moment | None, Query(description="ISO 8601 with a time zone; before this moment.")]


def router(ctx: WebContext) -> APIRouter:
    """The events' and outages' routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["v1", "events"], responses=EDGE)
    fleet = [Depends(Auth(ctx).needs(Permission.READ_FLEET))]
    platform = ctx.platform

    @api.get("/events", response_model=EventPage, dependencies=fleet)
    def events(
        meter: Annotated[str | None, Query(max_length=32, description="One meter's events.")] = None,
        area: Place = None,
        feeder: Annotated[str | None, Query(max_length=32)] = None,
        transformer: Annotated[str | None, Query(max_length=32)] = None,
        kind: Annotated[
            str | None,
            Query(
                max_length=40,
                description="An incident kind (magnet, cover_open, power_failure, ...): its "
                "occurrences and restorations.",
            ),
        ] = None,
        event_class: Annotated[
            Class | None, Query(alias="class", description="tamper, power, relay or transaction.")
        ] = None,
        start: Start = None,
        end: End = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> EventPage:
        """The meters' events, latest first, each with the incident it belongs to (occurrence and
        restoration paired, with its duration; repeats while it lasted merged, with their count)."""
        first, last = _span(start, end)
        which = EventFilter(
            meter_id=meter,
            area=area,
            feeder=feeder,
            transformer=transformer,
            codes=_codes(kind, event_class),
            start=first,
            end=last,
        )
        rows = platform.events.events(which, limit + 1, offset)
        page, next_offset = page_of(rows, limit, offset)
        return EventPage(items=[event_out(e) for e in page], limit=limit, offset=offset, next_offset=next_offset)

    @api.get("/outages", response_model=OutagePage, dependencies=fleet)
    def outages(
        level: Annotated[Literal["feeder", "transformer", "operator"] | None, Query()] = None,
        area: Place = None,
        subject: Annotated[str | None, Query(max_length=64, description="A feeder, transformer or operator.")] = None,
        ongoing: Annotated[
            bool | None, Query(description="true: only those still going on; false: only ended.")
        ] = None,
        start: Annotated[Moment | None, Query(description="ISO 8601 with a time zone; going on at or after.")] = None,
        end: Annotated[Moment | None, Query(description="ISO 8601 with a time zone; begun before.")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> OutagePage:
        """Outages: a feeder's or a transformer's supply off (its meters' last gasps, one record
        however many meters), or a mobile network down in an area; the latest begun first."""
        first, last = _span(start, end)
        which = OutageFilter(
            level=None if level is None else OutageLevel(level).value,
            area=area,
            subject=subject,
            ongoing=ongoing,
            start=first,
            end=last,
        )
        rows = platform.outages.outages(which, limit + 1, offset)
        page, next_offset = page_of(rows, limit, offset)
        return OutagePage(items=[outage_out(o) for o in page], limit=limit, offset=offset, next_offset=next_offset)

    @api.get("/outages/live", include_in_schema=False, dependencies=fleet)
    async def outages_live(
        level: Annotated[Literal["feeder", "transformer", "operator"] | None, Query()] = None,
        area: Place = None,
        ongoing: Annotated[bool | None, Query()] = None,
        wait: Annotated[int, Query(ge=0, le=60, description="Seconds to stay open.")] = LIVE_WAIT_S,
    ) -> StreamingResponse:
        """The latest 50 outages (by `level`, `area`, `ongoing`) as server-sent events, for
        `wait` seconds: an event ``outages`` at once with all of them, then one whenever any
        begins, changes, ends or goes, holding those that are new or changed (``items``) and
        the ids of the whole list in order (``ids``: an outage not among them has left it)."""
        which = OutageFilter(level=level, area=area, ongoing=ongoing)
        seen: dict[int, datetime] | None = None  # None: nothing sent yet

        def poll() -> list[str]:
            nonlocal seen
            rows = platform.outages.outages(which, LIVE_ROWS, 0)
            now_seen = {v.outage_id: v.updated_at for v in rows}
            if seen is not None and now_seen == seen:
                return []
            before = seen or {}
            changed = [outage_out(v) for v in rows if before.get(v.outage_id) != v.updated_at]
            seen = now_seen
            data = {"items": [o.model_dump(mode="json") for o in changed], "ids": [v.outage_id for v in rows]}
            return [sse("outages", data)]

        return event_stream(poll, LIVE_POLL_S, wait)

    @api.get("/outages/{outage_id}", response_model=OutageDetail, responses=NO_OUTAGE, dependencies=fleet)
    def outage(outage_id: Annotated[int, Path(ge=1, le=2**62)]) -> OutageDetail:
        """One outage with every meter it took."""
        found = platform.outages.outage(outage_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"outage {outage_id} not found")
        return OutageDetail(**outage_out(found).model_dump(), meter_ids=list(found.outage.meter_ids))

    return api
