"""REST API v1 for money coming in: the payment gateway's webhook, and the reconciliation items
staff work through (docs/payments.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from bijli.access.model import Permission
from bijli.kernel.units import format_rupees
from bijli.payments import handlers as payments
from bijli.payments.model import (
    MAX_PAYMENT_PAISE,
    SIGNATURE_HEADER,
    BadEvent,
    BadSignature,
    PaymentConflict,
    PaymentStatus,
)
from bijli.web.api import PREFIX, Rupees
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.display import ist_text
from bijli.web.limits import EDGE, Limit, Offset, Paged, Problem, page_of


class WebhookEvent(BaseModel):
    """The body the gateway signs (documented here; the route reads the raw bytes it signed)."""

    event_id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
    payment_id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
    account_no: str = Field(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-]{0,31}$")
    amount_paise: int = Field(ge=1, le=MAX_PAYMENT_PAISE)
    status: Literal["captured", "failed", "refunded"]
    at: datetime = Field(description="When it happened, with a zone.")


class TokenOut(BaseModel):
    meter_id: str
    token_id: int = Field(description="Unique per meter; the `credit` command sent carries it too.")
    amount_paise: int = Field(description="The credit for the meter: the payment less its arrears share.")
    key_version: int
    status: str = Field(description="issued, redeemed, cancelled or undelivered.")


class WebhookAnswer(BaseModel):
    payment_id: str
    status: str = Field(description="The payment's state now: captured, failed or refunded.")
    applied: bool = Field(description="False when the call repeated what was known: nothing changed.")
    tokens: list[TokenOut] = Field(description="The token the payment bought (none for a failed payment).")


class ItemOut(BaseModel):
    id: int
    kind: str = Field(
        description=(
            "unmatched_redemption, mismatched_redemption, cancelled_token_redeemed, undelivered_credit or mirror_drift."
        )
    )
    meter_id: str | None
    account_no: str | None
    payment_id: str | None
    token_id: int | None
    amount_paise: int | None = Field(description="The redemption's amount, or the drift (mirror less ledger).")
    detail: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = Field(description="Null while open.")


class TrackStep(BaseModel):
    step: Literal["received", "credited", "reconnect_sent", "power_restored"]
    state: Literal["done", "pending", "not_needed", "failed"]
    at: datetime | None = Field(description="When it happened (UTC); null unless done. A meter's event: its clock.")
    at_ist: str | None = Field(
        examples=["04 Dec 2026, 12:00"], description="The same moment in IST, as people read it."
    )
    detail: str = Field(description="What happened, or what it waits for, in words.")


class PaymentTrack(BaseModel):
    """A payment from the gateway to the consumer's power."""

    payment_id: str
    account_no: str
    meter_id: str | None = Field(description="The meter the credit is for; null when the account has none.")
    amount: Rupees
    status: str = Field(description="The payment's state: captured, failed or refunded.")
    steps: list[TrackStep] = Field(description="received, credited, reconnect_sent, power_restored, in that order.")
    power_back_s: int | None = Field(
        description="Seconds from the payment's arrival to the power restored; null until it is (or when not needed)."
    )


class ItemPage(Paged):
    items: list[ItemOut] = Field(description="Newest first.")


PaymentId = Annotated[
    str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$", description="The gateway's payment id.")
]


class PaymentIdConvertor(Convertor[str]):
    """A payment id in a path, but never the webhook's: `GET /payments/webhook` stays a 405
    naming POST, not a search for a payment called "webhook"."""

    regex = r"(?!webhook$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


WEBHOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not a payment event (the signature was right)."},
    401: {"model": Problem, "description": f"The {SIGNATURE_HEADER} header is missing or does not match the body."},
    404: {"model": Problem, "description": "No such account."},
    409: {"model": Problem, "description": "The event contradicts the payment stored under its id."},
    503: {"model": Problem, "description": "This site has no webhook secret set up (docs/payments.md)."},
}
_BODY_SCHEMA = WebhookEvent.model_json_schema()


def router(ctx: WebContext) -> APIRouter:
    """The payment routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["v1", "payments"], responses=EDGE)
    register_url_convertor("payment_id", PaymentIdConvertor())
    platform = ctx.platform
    auth = Auth(ctx)

    @api.post(
        "/payments/webhook",
        response_model=WebhookAnswer,
        responses=WEBHOOK_ERRORS,
        dependencies=[Depends(auth.gateway())],
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}},
    )
    async def webhook(
        request: Request,
        signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=128)] = None,
    ) -> WebhookAnswer:
        """The payment gateway reports a payment captured, failed or refunded. Signed: the
        header carries ``sha256=`` and the hex HMAC-SHA256 of the raw body under the site's
        webhook secret. Applied once per payment and state; a repeat answers 200 and changes nothing."""
        secret = platform.settings.payment_secret
        if secret is None:
            raise HTTPException(503, "this site takes no payments: it has no webhook secret (docs/payments.md)")
        body = await request.body()
        try:
            taken = await run_in_threadpool(
                payments.take_webhook,
                platform.store,
                body,
                signature,
                secret,
                platform.ring.site.current,
                ctx.clock.now(),
            )
        except BadSignature as e:
            raise HTTPException(401, str(e)) from None
        except BadEvent as e:
            raise HTTPException(400, str(e)) from None
        except payments.UnknownAccount as e:
            raise HTTPException(404, str(e)) from None
        except PaymentConflict as e:
            raise HTTPException(409, str(e)) from None
        return WebhookAnswer(
            payment_id=taken.payment_id,
            status=PaymentStatus(taken.status).value,
            applied=taken.applied,
            tokens=[
                TokenOut(
                    meter_id=tok.meter_id,
                    token_id=tok.token_id,
                    amount_paise=tok.amount_paise,
                    key_version=tok.key_version,
                    status=tok.status.value,
                )
                for tok in taken.tokens
            ],
        )

    @api.get(
        "/payments/{payment_id:payment_id}",
        response_model=PaymentTrack,
        responses={404: {"model": Problem, "description": "No such payment."}},
        dependencies=[Depends(auth.payment())],
    )
    def payment(payment_id: PaymentId) -> PaymentTrack:
        """Where a payment has got to: received -> credited (the credit command acknowledged, or
        the token typed at the meter) -> reconnect sent (the supply service's `relay_connect`,
        or not needed) -> power restored (confirmed by the meter), with times."""
        found = payments.tracked(platform.store, payment_id)
        if found is None:
            raise HTTPException(404, f"payment {payment_id} not found")
        return PaymentTrack(
            payment_id=found.payment_id,
            account_no=found.account_no,
            meter_id=found.meter_id,
            amount=format_rupees(found.amount_paise),
            status=found.status.value,
            steps=[
                TrackStep(
                    step=s.stage.value,
                    state=s.state.value,
                    at=None if s.at is None else s.at.astimezone(UTC),
                    at_ist=None if s.at is None else ist_text(s.at),
                    detail=s.detail,
                )
                for s in found.steps
            ],
            power_back_s=found.power_back_s,
        )

    @api.get(
        "/reconciliation",
        response_model=ItemPage,
        dependencies=[Depends(auth.needs(Permission.RECONCILIATION))],
    )
    def reconciliation(
        state: Annotated[Literal["open", "resolved", "all"], Query(description="Which items.")] = "open",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> ItemPage:
        """What did not add up: redemptions no issued token explains, and meters whose credit
        mirror drifted from the ledger by more than one interval's charge."""
        found = payments.reconciliation_items(platform.store, state, limit + 1, offset)
        rows, next_offset = page_of(found, limit, offset)
        return ItemPage(
            limit=limit,
            offset=offset,
            next_offset=next_offset,
            items=[
                ItemOut(
                    id=o.id,
                    kind=o.item.kind.value,
                    meter_id=o.item.meter_id,
                    account_no=o.item.account_no,
                    payment_id=o.item.payment_id,
                    token_id=o.item.token_id,
                    amount_paise=o.item.amount_paise,
                    detail=o.item.detail,
                    opened_at=o.opened_at,
                    updated_at=o.updated_at,
                    resolved_at=o.resolved_at,
                )
                for o in rows
            ],
        )

    return api
