"""The development gateway: makes a payment event and signs it exactly as the webhook
expects (docs/payments.md), then delivers it to a running `bijli serve` over HTTP. What
`bijli pay` and the demo's Recharge page use; never a real gateway."""

from __future__ import annotations

import secrets
from datetime import datetime

import httpx

from bijli.kernel.units import Paise
from bijli.payments.model import SIGNATURE_HEADER, PaymentEvent, PaymentStatus, event_body, sign

WEBHOOK_PATH = "/api/v1/payments/webhook"


def new_payment_id() -> str:
    """A payment id as a gateway makes one (``DEV-`` and 16 hex digits)."""
    return f"DEV-{secrets.token_hex(8)}"


def signed_event(
    secret: bytes,
    account_no: str,
    amount_paise: Paise,
    at: datetime,
    *,
    payment_id: str,
    status: PaymentStatus = PaymentStatus.CAPTURED,
) -> tuple[bytes, str]:
    """The webhook body for a payment and its signature header's value."""
    event = PaymentEvent(
        event_id=f"evt-{secrets.token_hex(8)}",
        payment_id=payment_id,
        account_no=account_no,
        amount_paise=amount_paise,
        status=status,
        at=at,
    )
    body = event_body(event)
    return body, sign(secret, body)


def post(base_url: str, body: bytes, signature: str, timeout_s: float = 30.0) -> httpx.Response:
    """Deliver a signed body to the webhook of the bijli at `base_url`."""
    return httpx.post(
        base_url.rstrip("/") + WEBHOOK_PATH,
        content=body,
        headers={SIGNATURE_HEADER: signature, "content-type": "application/json"},
        timeout=timeout_s,
    )
