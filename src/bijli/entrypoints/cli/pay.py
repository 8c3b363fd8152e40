"""`bijli pay`: the development gateway. A payment signed exactly as the webhook expects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape

from bijli import settings as settings_mod
from bijli.adapters import dev_gateway, keyfile
from bijli.adapters.payment_secret import PaymentSecretError
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened
from bijli.kernel.units import PAISE_PER_RUPEE, Paise, format_rupees
from bijli.payments import handlers as payments
from bijli.payments.model import (
    BadEvent,
    BadSignature,
    IssuedToken,
    PaymentConflict,
    PaymentStatus,
    TokenState,
    token_digits,
)
from bijli.protocol.tokens import group, time_of


def pay(
    account_no: Annotated[str, typer.Argument(help="The account paid for, e.g. KN-CL-000001.")],
    amount: Annotated[str, typer.Argument(help="Rupees, e.g. 500 or 499.50.")],
    url: Annotated[
        str | None,
        typer.Option("--url", help="A running `bijli serve` (e.g. http://127.0.0.1:8000): post the webhook to it."),
    ] = None,
    payment_id: Annotated[
        str | None, typer.Option("--payment-id", help="The gateway's payment id (default: a new DEV-… id).")
    ] = None,
    status: Annotated[
        PaymentStatus, typer.Option("--status", help="captured (default), failed, or refunded (of an earlier id).")
    ] = PaymentStatus.CAPTURED,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Pay through the development gateway: sign a payment event with the site's webhook secret
    (the data folder's payments.secret, or BIJLI_PAYMENT_SECRET) and deliver it to the webhook
    of a running `bijli serve` (--url), or, without --url, straight through the same use case on
    the data folder's store. Prints one JSON line: the payment, and the token to type at the
    meter's hotspot should the meter be offline."""
    paise = _paise(amount)
    try:
        cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    except PaymentSecretError as e:
        console.print(f"[red]{escape(str(e))}[/red]")
        raise typer.Exit(2) from e
    secret = cfg.payment_secret
    if secret is None:
        console.print(f"[red]no webhook secret: set {escape('BIJLI_PAYMENT_SECRET')} (docs/payments.md)[/red]")
        raise typer.Exit(2)
    pid = payment_id or dev_gateway.new_payment_id()
    body, signature = dev_gateway.signed_event(
        secret, account_no, paise, datetime.now(UTC), payment_id=pid, status=status
    )
    if url is not None:
        answer = _post(url, body, signature)
    else:
        with opened(cfg) as platform:
            try:
                taken = payments.take_webhook(
                    platform.store, body, signature, secret, cfg.site_keys.current, datetime.now(UTC)
                )
            except (BadSignature, BadEvent, payments.UnknownAccount, PaymentConflict) as e:
                console.print(f"[red]refused: {escape(str(e))}[/red]")
                raise typer.Exit(1) from e
        answer = {
            "payment_id": taken.payment_id,
            "status": taken.status.value,
            "applied": taken.applied,
            "tokens": [
                {"meter_id": t.meter_id, "token_id": t.token_id, "amount_paise": t.amount_paise,
                 "key_version": t.key_version, "status": t.status.value}
                for t in taken.tokens
            ],
        }  # fmt: skip
    for token in answer["tokens"]:
        digits = _digits(cfg, token)
        token["token"] = digits
        if digits is not None and token["status"] == TokenState.ISSUED.value:
            console.print(
                f"₹{format_rupees(token['amount_paise'])} for {token['meter_id']}: pushed to the meter; "
                f"if it is offline, type [bold]{group(digits)}[/bold] at its hotspot"
            )
    print(json.dumps({"account_no": account_no, "amount": format_rupees(paise), **answer}))


def _post(url: str, body: bytes, signature: str) -> dict[str, Any]:
    try:
        response = dev_gateway.post(url, body, signature)
    except httpx.HTTPError as e:
        console.print(f"[red]cannot reach {escape(url)}: {escape(str(e))}[/red]")
        raise typer.Exit(1) from e
    if response.status_code != 200:
        console.print(f"[red]refused ({response.status_code}): {escape(response.text)}[/red]")
        raise typer.Exit(1)
    answer: dict[str, Any] = response.json()
    return answer


def _digits(cfg: settings_mod.Settings, token: dict[str, Any]) -> str | None:
    issued = IssuedToken(
        meter_id=token["meter_id"],
        token_id=token["token_id"],
        account_no="",
        payment_id="",
        amount_paise=token["amount_paise"],
        issued_at=time_of(token["token_id"]),
        key_version=token["key_version"],
    )
    try:
        return token_digits(cfg.site_keys, issued)
    except keyfile.KeyFileError:
        return None


def _paise(amount: str) -> Paise:
    try:
        rupees = Decimal(amount.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{amount!r} is not an amount in rupees", param_hint="AMOUNT") from None
    paise = rupees * PAISE_PER_RUPEE
    if not rupees.is_finite() or paise != paise.to_integral_value() or paise <= 0:
        raise typer.BadParameter(f"{amount!r}: a positive amount in rupees and whole paise", param_hint="AMOUNT")
    return int(paise)
