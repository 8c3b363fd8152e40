"""API v1: anomalies in consumer meters' days, scored and ranked, each with its reason."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from bijli.access.model import Permission
from bijli.kernel.time import ist_day
from bijli.vigilance.anomalies import AnomalyKind
from bijli.vigilance.handlers import score_anomalies
from bijli.web.api import PREFIX
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Day, Limit, Offset, Paged, window


class AnomalyOut(BaseModel):
    meter_id: str
    area: str
    transformer: str
    day: date
    kind: AnomalyKind
    score: float = Field(ge=0, le=1, description="0 to 1: how strongly the day shows it.")
    reason_en: str
    reason_hi: str
    figures: dict[str, Any] = Field(description="The figures behind the reason (kWh as exact decimal strings).")


class Anomalies(Paged):
    day: date
    items: list[AnomalyOut] = Field(description="Highest score first.")


Name = Annotated[str | None, Query(min_length=1, max_length=64)]


def router(ctx: WebContext) -> APIRouter:
    """Anomaly routes over one platform."""
    api = APIRouter(
        prefix=PREFIX,
        tags=["cases"],
        responses=EDGE,
        dependencies=[Depends(Auth(ctx).needs(Permission.VIEW_CASES))],
    )

    @api.get("/anomalies", summary="Consumer meters' anomalies of one IST day, ranked", response_model=Anomalies)
    def anomalies(
        day: Annotated[Day | None, Query(description="An IST day, YYYY-MM-DD (default: yesterday).")] = None,
        area: Name = None,
        transformer: Name = None,
        kind: Annotated[AnomalyKind | None, Query()] = None,
        min_score: Annotated[float, Query(ge=0, le=1, description="Leave out those scored lower.")] = 0.0,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Anomalies:
        """Each consumer meter's day scored for a sudden sustained drop, flat zero with the
        supply present, reverse energy, neutral-missing patterns and usage unlike its own
        history; highest score first, each with its reason in Hindi and English."""
        chosen = day or ist_day(ctx.clock.now()) - timedelta(days=1)
        found = score_anomalies(
            ctx.platform.store, chosen, area=area, transformer=transformer, kind=kind, min_score=min_score
        )
        page, next_offset = window(found, limit, offset)
        return Anomalies(
            day=chosen,
            items=[AnomalyOut(**{f: getattr(a, f) for f in AnomalyOut.model_fields}) for a in page],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    return api
