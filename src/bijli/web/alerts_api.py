"""An account's alerts: the list with each channel's delivery state (API v1), and the live
feed the consumer page follows (server-sent events)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from bijli.alerts import handlers as alerts
from bijli.alerts.model import AlertRecord
from bijli.alerts.texts import render
from bijli.web.accounts_api import NO_ACCOUNT, AccountId
from bijli.web.api import PREFIX
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Limit, Offset, Paged, page_of
from bijli.web.live import event_stream, resume_after, sse

LIVE_WAIT_S = 25
"""How long one live-feed response stays open (the browser's EventSource then reconnects,
sending the last event id it saw)."""
LIVE_POLL_S = 1.0


class DeliveryOut(BaseModel):
    channel: Literal["sms", "email", "web"]
    state: Literal["pending", "sending", "sent", "failed", "skipped"] = Field(
        description="pending (due, or waiting for a retry), sending (a worker holds it), sent, failed (final, "
        "with the reason) or skipped (no address on this channel)."
    )
    attempts: int = Field(description="Tries so far.")
    sent_at: datetime | None = Field(description="When the provider took it; null until sent.")
    next_try_at: datetime | None = Field(description="When it is tried (again); null once final.")
    last_error: str = Field(description="Why the last try failed (empty if none did).")


ConsumerKind = Literal[
    "low_balance", "disconnect_notice", "disconnected", "reconnected", "payment_received", "tamper_reported"
]
"""The kinds an account's alerts have (the staff kinds, case_opened and case_assigned, go to staff)."""


class AlertOut(BaseModel):
    alert_id: int
    kind: ConsumerKind
    raised_at: datetime
    language: str = Field(description="The consumer's language when it was raised: hi or en.")
    subject: str = Field(description="The alert's title, in that language.")
    text: str = Field(description="The text the consumer gets, in that language.")
    facts: dict[str, int | str] = Field(description="What the alert says, as figures (money in paise).")
    deliveries: list[DeliveryOut] = Field(description="One per channel.")


class AccountAlerts(Paged):
    account_no: str
    items: list[AlertOut] = Field(description="Newest first.")


def alert_out(a: AlertRecord) -> AlertOut:
    text = render(a.kind, a.facts, a.language, a.account_no, a.raised_at)
    return AlertOut(
        alert_id=a.alert_id,
        kind=cast(ConsumerKind, a.kind.value),
        raised_at=a.raised_at.astimezone(UTC),
        language=a.language,
        subject=text.subject,
        text=text.text,
        facts=dict(a.facts),
        deliveries=[
            DeliveryOut(
                channel=d.channel.value,
                state=d.state.value,
                attempts=d.attempts,
                sent_at=None if d.sent_at is None else d.sent_at.astimezone(UTC),
                next_try_at=None if d.next_try_at is None else d.next_try_at.astimezone(UTC),
                last_error=d.last_error,
            )
            for d in a.deliveries
        ],
    )


def router(ctx: WebContext) -> APIRouter:
    """The alerts' routes."""
    api = APIRouter(responses=EDGE)
    one_account = [Depends(Auth(ctx).account())]

    def known(account_id: str) -> None:
        if ctx.platform.queries.account_mobile(account_id) is None:
            raise HTTPException(status_code=404, detail=f"account {account_id} not found")

    @api.get(
        f"{PREFIX}/accounts/{{account_id}}/alerts",
        tags=["v1"],
        response_model=AccountAlerts,
        responses=NO_ACCOUNT,
        dependencies=one_account,
    )
    def account_alerts(account_id: AccountId, limit: Limit = 100, offset: Offset = 0) -> AccountAlerts:
        """The account's alerts, newest first, each with its delivery state per channel (SMS,
        e-mail, web live feed) and its text in the consumer's language."""
        known(account_id)
        rows = alerts.alerts_of(ctx.platform.store, account_id, limit + 1, offset)
        page, next_offset = page_of(rows, limit, offset)
        return AccountAlerts(
            account_no=account_id,
            items=[alert_out(a) for a in page],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @api.get("/accounts/{account_id}/alerts/live", include_in_schema=False, dependencies=one_account)
    async def live_feed(
        account_id: AccountId,
        after: Annotated[int, Query(ge=0, le=2**62, description="The last alert id seen.")] = 0,
        wait: Annotated[int, Query(ge=0, le=60, description="Seconds to stay open.")] = LIVE_WAIT_S,
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    ) -> StreamingResponse:
        """The account's web live feed as server-sent events: each alert once its web delivery
        is sent (event ``alert``, id = the alert id), for `wait` seconds; a reconnecting
        browser resumes after the `Last-Event-ID` it sends."""
        await asyncio.to_thread(known, account_id)  # off the event loop: a query
        seen = resume_after(last_event_id, after)

        def poll() -> list[str]:
            nonlocal seen
            found = alerts.feed_of(ctx.platform.store, account_id, seen)
            seen = max([seen, *(a.alert_id for a in found)])
            return [sse("alert", alert_out(a).model_dump(mode="json"), a.alert_id) for a in found]

        return event_stream(poll, LIVE_POLL_S, wait)

    return api
