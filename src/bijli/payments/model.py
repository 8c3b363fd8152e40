"""Payments and the tokens they buy, as rules: the webhook's signature and body, what each
state change of a payment posts, how a payment's credit reaches the meter once, and what
counts as the meter's credit drifting from the ledger. Pure: no I/O.

A payment moves along `TRANSITIONS` (a table): a new payment is captured or failed; a captured
one may be refunded. Every other report (the same state again, a late capture of a refunded
payment) changes nothing; a report that contradicts what is stored (another account or amount
for the same payment id) is refused.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Annotated, Final

import msgspec

from bijli.kernel.units import PAISE_PER_RUPEE, Paise
from bijli.prepaid.model import EntryKind, LedgerEntry
from bijli.prepaid.tariff import Tariff
from bijli.protocol import tokens
from bijli.protocol.keys import SiteKeys

SIGNATURE_HEADER: Final = "X-Bijli-Signature"
"""The header carrying ``sha256=`` and the hex HMAC-SHA256 of the raw body under the webhook secret."""
SIGNATURE_PREFIX: Final = "sha256="
MAX_PAYMENT_PAISE: Final = 10**8
"""₹10 lakh: above any one recharge; a larger amount is refused as malformed."""
DEFAULT_ARREARS_SHARE_PCT: Final = 20
"""The share of a recharge that recovers arrears where the account names none (KESCo: 10-25%)."""
KEPT_BODY_BYTES: Final = 4096
"""How much of a refused call's body is kept for audit."""

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
_ACCOUNT = r"^[A-Za-z0-9][A-Za-z0-9\-]{0,31}$"


class PaymentStatus(enum.StrEnum):
    """Where a payment is, as the gateway reports it."""

    CAPTURED = "captured"
    """The money is taken: the account is credited and a token issued."""
    FAILED = "failed"
    """The payment did not go through: nothing is credited."""
    REFUNDED = "refunded"
    """The money went back to the payer: the credit is reversed by its own entries."""


class PaymentEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One webhook call's body (JSON)."""

    event_id: Annotated[str, msgspec.Meta(pattern=_ID)]
    """The gateway's id of this notification (kept for audit; a repeat changes nothing)."""
    payment_id: Annotated[str, msgspec.Meta(pattern=_ID)]
    account_no: Annotated[str, msgspec.Meta(pattern=_ACCOUNT)]
    amount_paise: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAYMENT_PAISE)]
    status: PaymentStatus
    at: datetime
    """When the gateway says it happened (with a zone)."""


class BadEvent(ValueError):
    """A webhook body that is not a payment event; nothing changes."""


class BadSignature(ValueError):
    """A webhook call whose signature is missing or wrong; nothing changes."""


class PaymentConflict(ValueError):
    """A report about a stored payment that contradicts it (account, amount) or a state change
    no gateway makes (a refund of a payment never captured); nothing changes."""


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check_signature(secret: bytes, body: bytes, header: str | None) -> None:
    """`BadSignature` unless `header` is `sign(secret, body)` (compared in constant time)."""
    if not header:
        raise BadSignature(f"no {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(header.strip().encode(), sign(secret, body).encode()):
        raise BadSignature(f"the {SIGNATURE_HEADER} header does not match the body")


def parse_event(body: bytes) -> PaymentEvent:
    """The event in a webhook body; `BadEvent` with the reason if it is not one."""
    try:
        event = msgspec.json.decode(body, type=PaymentEvent)
    except msgspec.ValidationError as e:
        raise BadEvent(f"not a payment event: {e}") from None
    except msgspec.DecodeError as e:
        raise BadEvent(f"not JSON: {e}") from None
    if event.at.tzinfo is None:
        raise BadEvent("`at` needs a time zone")
    return event


def event_body(event: PaymentEvent) -> bytes:
    """The JSON body a gateway sends for `event` (what the development gateway signs)."""
    return msgspec.json.encode(event)


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """A payment as stored."""

    payment_id: str
    account_no: str
    amount_paise: Paise
    status: PaymentStatus
    arrears_recovered_paise: Paise = 0


class Step(enum.StrEnum):
    """What a reported state does to a payment."""

    CAPTURE = "capture"
    FAIL = "fail"
    REFUND = "refund"
    NOTHING = "nothing"
    """A repeat, or news the payment has moved past: applied already, nothing changes."""
    REFUSE = "refuse"


TRANSITIONS: Final[dict[tuple[PaymentStatus | None, PaymentStatus], Step]] = {
    (None, PaymentStatus.CAPTURED): Step.CAPTURE,
    (None, PaymentStatus.FAILED): Step.FAIL,
    (None, PaymentStatus.REFUNDED): Step.REFUSE,
    (PaymentStatus.FAILED, PaymentStatus.CAPTURED): Step.CAPTURE,
    (PaymentStatus.FAILED, PaymentStatus.FAILED): Step.NOTHING,
    (PaymentStatus.FAILED, PaymentStatus.REFUNDED): Step.REFUSE,
    (PaymentStatus.CAPTURED, PaymentStatus.CAPTURED): Step.NOTHING,
    (PaymentStatus.CAPTURED, PaymentStatus.FAILED): Step.NOTHING,
    (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED): Step.REFUND,
    (PaymentStatus.REFUNDED, PaymentStatus.CAPTURED): Step.NOTHING,
    (PaymentStatus.REFUNDED, PaymentStatus.FAILED): Step.NOTHING,
    (PaymentStatus.REFUNDED, PaymentStatus.REFUNDED): Step.NOTHING,
}
"""(stored state or None for a new payment, reported state) -> what happens. A failed payment
may still be captured (a retried authorisation under the same id); a late `failed` for a
captured payment changes nothing (the capture is the gateway's final word on the money)."""


def step_for(stored: Payment | None, event: PaymentEvent) -> Step:
    """What `event` does to the payment stored under its id; `PaymentConflict` if it cannot be."""
    if stored is not None and (stored.account_no, stored.amount_paise) != (event.account_no, event.amount_paise):
        raise PaymentConflict(
            f"payment {event.payment_id} is stored for account {stored.account_no}, {stored.amount_paise} paise; "
            f"this event says account {event.account_no}, {event.amount_paise} paise"
        )
    step = TRANSITIONS[(None if stored is None else stored.status, event.status)]
    if step is Step.REFUSE:
        was = "never captured" if stored is None or stored.status is not PaymentStatus.CAPTURED else stored.status
        raise PaymentConflict(f"payment {event.payment_id} cannot be {event.status.value}: it was {was}")
    return step


def recovery(amount_paise: Paise, arrears_paise: Paise, share_pct: int) -> Paise:
    """Of a recharge, the share that recovers arrears: `share_pct` of it in whole rupees
    (so a whole-rupee recharge leaves a whole-rupee credit for a token), never more than the
    arrears outstanding."""
    if arrears_paise <= 0 or share_pct <= 0:
        return 0
    share = amount_paise * share_pct // 100 // PAISE_PER_RUPEE * PAISE_PER_RUPEE
    return min(share, arrears_paise)


def capture_entries(payment_id: str, account_no: str, amount_paise: Paise, recovered: Paise) -> list[LedgerEntry]:
    """The entries of a captured payment: the recharge, and the arrears it recovers as a line of its own."""
    entries = [
        LedgerEntry(
            account_no=account_no, kind=EntryKind.RECHARGE, amount_paise=amount_paise, reference=f"payment:{payment_id}"
        )
    ]
    if recovered:
        entries.append(
            LedgerEntry(
                account_no=account_no,
                kind=EntryKind.ARREARS_RECOVERY,
                amount_paise=-recovered,
                reference=f"arrears_recovery:{payment_id}",
            )
        )
    return entries


def refund_entries(payment: Payment) -> list[LedgerEntry]:
    """The entries reversing a refunded payment: the recharge out, its arrears share back."""
    entries = [
        LedgerEntry(
            account_no=payment.account_no,
            kind=EntryKind.REFUND,
            amount_paise=-payment.amount_paise,
            reference=f"refund:{payment.payment_id}",
        )
    ]
    if payment.arrears_recovered_paise:
        entries.append(
            LedgerEntry(
                account_no=payment.account_no,
                kind=EntryKind.ARREARS_RECOVERY,
                amount_paise=payment.arrears_recovered_paise,
                reference=f"arrears_recovery_refunded:{payment.payment_id}",
            )
        )
    return entries


# ------------------------------------------------------------------------- tokens


class TokenState(enum.StrEnum):
    ISSUED = "issued"
    """Bought and on its way: by a `credit` command, by the consumer at the hotspot, or both."""
    REDEEMED = "redeemed"
    """The meter reported taking it (once, whichever way it came)."""
    CANCELLED = "cancelled"
    """Its payment was refunded before the meter took it."""
    UNDELIVERED = "undelivered"
    """Its validity (and its push's) ran out a day ago and no meter reported taking it: the
    ledger holds credit the meter does not (a reconciliation item says so)."""


IN_FLIGHT: Final = frozenset({TokenState.ISSUED, TokenState.UNDELIVERED})
"""Tokens whose credit the ledger holds and the meter, as far as bijli knows, does not."""
UNDELIVERED_AFTER: Final = tokens.DEFAULT_VALIDITY + timedelta(days=1)
"""How long after its issue a token no meter reported taking counts as undelivered (its
validity, and a day for a meter's report of it to arrive)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    """A line of the token register."""

    meter_id: str
    token_id: int
    account_no: str
    payment_id: str
    amount_paise: Paise
    issued_at: datetime
    key_version: int
    status: TokenState = TokenState.ISSUED
    redeemed_at: datetime | None = None


class ItemKind(enum.StrEnum):
    """What a reconciliation item is about."""

    UNMATCHED_REDEMPTION = "unmatched_redemption"
    """A meter took a token the register has no record of."""
    MISMATCHED_REDEMPTION = "mismatched_redemption"
    """A meter took a registered token for another amount than was issued."""
    CANCELLED_TOKEN_REDEEMED = "cancelled_token_redeemed"
    """A meter took a token whose payment was refunded (the meter holds credit the ledger does not)."""
    UNDELIVERED_CREDIT = "undelivered_credit"
    """A payment's token expired without any meter reporting it: credit paid for never arrived."""
    MIRROR_DRIFT = "mirror_drift"
    """A meter's credit mirror and the ledger differ by more than one interval's charge."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A reconciliation item to open (or, for a drift, to keep up to date)."""

    kind: ItemKind
    detail: str
    meter_id: str | None = None
    account_no: str | None = None
    payment_id: str | None = None
    token_id: int | None = None
    amount_paise: Paise | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedItem:
    """A reconciliation item as stored: open until `resolved_at`."""

    id: int
    item: Item
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reported:
    """A redemption a meter reported: the token it took and the amount it added."""

    meter_id: str
    token_id: int
    amount_paise: Paise
    redeemed_at: datetime


def undelivered(token: IssuedToken) -> Item:
    """The item for a token whose validity ran out with no meter reporting it."""
    return Item(
        kind=ItemKind.UNDELIVERED_CREDIT,
        meter_id=token.meter_id,
        account_no=token.account_no,
        payment_id=token.payment_id,
        token_id=token.token_id,
        amount_paise=token.amount_paise,
        detail=(
            f"token {token.token_id} for {token.amount_paise} paise (payment {token.payment_id}) expired "
            f"without meter {token.meter_id} reporting it: the ledger holds credit the meter does not"
        ),
    )


def match(issued: IssuedToken | None, reported: Reported) -> Item | None:
    """What a meter's redemption says against the register: None when it is the token issued
    (or a repeat of a report already matched), else the item it opens."""
    where = f"meter {reported.meter_id} took token {reported.token_id} for {reported.amount_paise} paise"
    if issued is None:
        return Item(
            kind=ItemKind.UNMATCHED_REDEMPTION,
            meter_id=reported.meter_id,
            token_id=reported.token_id,
            amount_paise=reported.amount_paise,
            detail=f"{where}; no such token was issued",
        )
    base = {
        "meter_id": reported.meter_id,
        "account_no": issued.account_no,
        "payment_id": issued.payment_id,
        "token_id": reported.token_id,
        "amount_paise": reported.amount_paise,
    }
    if issued.amount_paise != reported.amount_paise:
        return Item(
            kind=ItemKind.MISMATCHED_REDEMPTION,
            detail=f"{where}; it was issued for {issued.amount_paise} paise (payment {issued.payment_id})",
            **base,  # type: ignore[arg-type]
        )
    if issued.status is TokenState.CANCELLED:
        return Item(
            kind=ItemKind.CANCELLED_TOKEN_REDEEMED,
            detail=f"{where}; its payment {issued.payment_id} was refunded",
            **base,  # type: ignore[arg-type]
        )
    return None


# ------------------------------------------------------------------------- the mirror


def drift_tolerance(tariff: Tariff, sanctioned_load_w: int, day: date) -> Paise:
    """One interval's charge at most: the sanctioned load for 15 minutes at the top slab's rate,
    and a day's fixed charge, each with duty (the ledger posts a day's fixed charge at once,
    so meter and ledger may be that far apart for a moment), rounded up to the paisa."""
    version = tariff.on(day)
    top = max(s.rate for s in version.slabs)
    energy = top * Decimal(sanctioned_load_w) / 1000 / 4
    fixed = version.fixed_per_kw_month * Decimal(sanctioned_load_w) / 1000 / 28
    total = (energy + fixed) * (1 + version.duty_rate) * PAISE_PER_RUPEE
    return int(total.to_integral_value(rounding=ROUND_CEILING))


def mirror_drift(mirror_paise: Paise, balance_paise: Paise, in_flight_paise: Paise) -> Paise:
    """How far the meter's credit is from what the ledger says it should hold: the balance less
    the credit paid for that has not reached the meter yet (tokens issued, not yet taken)."""
    return mirror_paise - (balance_paise - in_flight_paise)


def token_digits(site: SiteKeys, token: IssuedToken) -> str | None:
    """The 20 digits of a registered token, made again from the site's keys (the register
    keeps no digits); None for an amount a token cannot carry (paise) or an id past its minute."""
    if token.amount_paise % PAISE_PER_RUPEE:
        return None
    try:
        issued = tokens.issue_token(
            site.token_key(token.meter_id, token.key_version),
            token.meter_id,
            token.amount_paise,
            token.issued_at,
            token_id=token.token_id,
            key_version=token.key_version,
        )
    except (ValueError, KeyError):
        return None
    return issued.digits
