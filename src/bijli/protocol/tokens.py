"""Recharge tokens: 20 digits a consumer types into the meter's hotspot page. Pure: no I/O.

In the spirit of STS (IEC 62055-41) with modern primitives. A token is a 66-bit integer
written as 20 decimal digits (zero-padded), most significant bits first:

=========  ====  ==========================================================================
field      bits  meaning
=========  ====  ==========================================================================
class       2    high bit: kind, 0 = credit (1 is refused as FORMAT for now); low bit: key
                 parity, 0 for a token key of an odd key version, 1 of an even one
token id   24    minutes since 2024-01-01T00:00Z: both the token's unique id and its issue time
amount     16    whole rupees, 1 to 65,535
tag        24    first 3 bytes of HMAC-SHA256(token key, class|id|amount as 6 bytes big-endian)
=========  ====  ==========================================================================

The token key is ``keys.token_key(token master secret, meter_id)``, so a token opens only the
meter it was issued for. A meter in the middle of a key change holds the token keys of two
consecutive versions; the class's parity bit tells it which one a token was made with (one
change at a time keeps the two versions' parities apart), so it checks one tag, never two.
A 24-bit tag means one forgery in 16.7 million tries; the meter locks its hotspot's token
entry after `MAX_FAILED_ATTEMPTS` failures in a row (the meter enforces that; this module
only names the number).

One token per meter per minute: the id is the minute of issue, and a meter takes each id
once. A vending service that needs more moves the id to the next free minute
(`next_free_id`, then ``issue_token(..., token_id=...)``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from bijli.kernel.units import PAISE_PER_RUPEE, Paise
from bijli.protocol import keys
from bijli.protocol.topics import METER_ID_PATTERN

BASE: Final = datetime(2024, 1, 1, tzinfo=UTC)
"""Token id 0: the minute 2024-01-01T00:00Z."""

DIGITS: Final = 20
CLASS_BITS: Final = 2
ID_BITS: Final = 24
AMOUNT_BITS: Final = 16
TAG_BITS: Final = 24
TOKEN_BITS: Final = CLASS_BITS + ID_BITS + AMOUNT_BITS + TAG_BITS  # 66: 2**66 - 1 has 20 digits

CREDIT: Final = 0
"""The only token kind so far: credit in whole rupees (the class's high bit)."""
EVEN_KEY: Final = 1
"""The class's low bit: set when the token key is of an even key version."""
MAX_TOKEN_ID: Final = 2**ID_BITS - 1
"""The last minute a token id can name: 2055-11-24T20:15Z."""
MIN_RUPEES: Final = 1
MAX_RUPEES: Final = 2**AMOUNT_BITS - 1

DEFAULT_VALIDITY: Final = timedelta(days=30)
"""A token not redeemed within this long after its issue is refused as EXPIRED."""
FUTURE_TOLERANCE: Final = timedelta(minutes=10)
"""How far a token's issue time may be ahead of the meter's clock."""
DEFAULT_CREDIT_LIMIT: Final[Paise] = 10_000_000
"""₹1,00,000: the most credit a meter will hold."""
DEFAULT_MEMORY: Final = 100
"""How many token ids a meter remembers."""
MAX_FAILED_ATTEMPTS: Final = 5
"""Refusals in a row (FORMAT or AUTHENTICATION) after which the meter locks its token entry."""

_SEPARATORS = re.compile(r"[ \-]")
_TWENTY_DIGITS = re.compile(r"[0-9]{20}")


class TokenStatus(enum.IntEnum):
    """What a meter says about a token.

    The checks run in the order FORMAT, AUTHENTICATION, USED, OLD, EXPIRED, FUTURE, RANGE;
    the first that fails gives the status.
    """

    ACCEPTED = 0
    FORMAT = 1
    """Not 20 digits, above 2**66 - 1, an unknown class or a zero amount."""
    AUTHENTICATION = 2
    """The tag does not match: forged, mistyped, or a token for another meter."""
    USED = 3
    """This meter has already taken a token with this id."""
    OLD = 4
    """The id is below the oldest the meter still remembers, so it may have been used."""
    EXPIRED = 5
    """Issued longer ago than the validity window, by the meter's clock."""
    RANGE = 6
    """The credit would go above the meter's limit."""
    FUTURE = 7
    """Issued more than `FUTURE_TOLERANCE` ahead of the meter's clock."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """An issued recharge token."""

    meter_id: str
    token_id: int
    amount_paise: Paise
    issued_at: datetime
    """The minute the id names (aware, UTC); seconds of the requested time are dropped."""
    digits: str
    """The 20 digits, zero-padded."""

    def grouped(self) -> str:
        """The digits in groups of four, as printed on a receipt: ``1234 5678 9012 3456 7890``."""
        return group(self.digits)


@dataclass(frozen=True, slots=True, kw_only=True)
class Redemption:
    """A meter's answer to a token: the status, and the id and amount once the tag is right."""

    status: TokenStatus
    token_id: int | None = None
    amount_paise: Paise | None = None


class UsedTokens:
    """The token ids a meter remembers (like STS's memory): small, and saved as a list of ints.

    It keeps the `capacity` highest ids it has taken. Because ids are issue minutes, these are
    in practice the last ones redeemed; keeping the highest (not the last typed) is what makes
    the OLD rule safe: every id it has forgotten is below `oldest`, and once the memory is
    full any id below `oldest` is refused, so no forgotten id is ever taken twice.
    """

    __slots__ = ("_capacity", "_ids")

    def __init__(self, capacity: int = DEFAULT_MEMORY) -> None:
        if capacity < 1:
            raise ValueError(f"a token memory needs room for at least one id, not {capacity}")
        self._capacity = capacity
        self._ids: set[int] = set()

    @property
    def capacity(self) -> int:
        """How many ids it holds at most."""
        return self._capacity

    @property
    def full(self) -> bool:
        """True once it holds `capacity` ids; from then on ids below `oldest` are OLD."""
        return len(self._ids) >= self._capacity

    @property
    def oldest(self) -> int | None:
        """The lowest id remembered, or None while the memory is empty."""
        return min(self._ids) if self._ids else None

    def contains(self, token_id: int) -> bool:
        """Whether this id has been taken and is still remembered."""
        return token_id in self._ids

    def __contains__(self, token_id: object) -> bool:
        return token_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def is_old(self, token_id: int) -> bool:
        """Whether an id is below what the memory can vouch for (full, and below `oldest`)."""
        oldest = self.oldest
        return self.full and oldest is not None and token_id < oldest

    def add(self, token_id: int) -> None:
        """Remember an id; when full, forget the lowest."""
        _check_id(token_id)
        self._ids.add(token_id)
        while len(self._ids) > self._capacity:
            self._ids.remove(min(self._ids))

    def to_list(self) -> list[int]:
        """The remembered ids, lowest first (what the meter saves)."""
        return sorted(self._ids)

    @classmethod
    def from_list(cls, ids: Iterable[int], capacity: int = DEFAULT_MEMORY) -> UsedTokens:
        """A memory restored from `to_list`; refuses repeated or out-of-range ids."""
        listed = list(ids)
        if len(set(listed)) != len(listed):
            raise ValueError("a token memory cannot hold the same id twice")
        if len(listed) > capacity:
            raise ValueError(f"{len(listed)} ids do not fit a token memory of {capacity}")
        memory = cls(capacity)
        for token_id in listed:
            memory.add(token_id)
        return memory

    def __repr__(self) -> str:
        return f"UsedTokens(capacity={self._capacity}, ids={self.to_list()!r})"


def token_key(master: bytes, meter_id: str) -> bytes:
    """The meter's token key: ``keys.derive(token master secret, keys.TOKEN_LABEL, meter_id)``."""
    return keys.token_key(master, meter_id)


def id_at(moment: datetime) -> int:
    """The token id of a moment: whole minutes since `BASE` (may lie outside the id range)."""
    _check_aware(moment, "a token time")
    return (moment - BASE) // timedelta(minutes=1)


def time_of(token_id: int) -> datetime:
    """The minute a token id names, as an aware UTC datetime."""
    return BASE + timedelta(minutes=token_id)


def next_free_id(used: set[int], issued_at: datetime) -> int:
    """The first id at or after the minute of `issued_at` that is not in `used`.

    `used` is the vending service's record of the ids it has issued to one meter.
    """
    token_id = id_at(issued_at)
    while token_id in used:
        token_id += 1
    return token_id


def issue_token(
    key: bytes,
    meter_id: str,
    amount_paise: Paise,
    issued_at: datetime,
    *,
    token_id: int | None = None,
    key_version: int = 1,
) -> Token:
    """A credit token for one meter (`key`: its token key, of `key_version`), worth whole
    rupees, with the minute of `issued_at` as its id.

    `token_id` moves the id to a later minute (at most `FUTURE_TOLERANCE` ahead, or a meter
    with a right clock would refuse it as FUTURE); see `next_free_id`.
    """
    if not METER_ID_PATTERN.fullmatch(meter_id):
        raise ValueError(f"{meter_id!r} is not a meter id (A-Z, 0-9 and '-', 3 to 32 long)")
    if isinstance(amount_paise, bool) or not isinstance(amount_paise, int):
        raise TypeError(f"an amount is integer paise, not {amount_paise!r}")
    if amount_paise % PAISE_PER_RUPEE:
        raise ValueError(f"a token carries whole rupees only, not {amount_paise} paise")
    rupees = amount_paise // PAISE_PER_RUPEE
    if not MIN_RUPEES <= rupees <= MAX_RUPEES:
        raise ValueError(f"a token carries ₹{MIN_RUPEES} to ₹{MAX_RUPEES:,} in whole rupees, not ₹{rupees:,}")
    minute = id_at(issued_at)
    if minute < 0:
        raise ValueError(f"a token cannot be issued before {BASE:%Y-%m-%dT%H:%MZ}, the first token id")
    if token_id is None:
        token_id = minute
    elif not minute <= token_id <= minute + FUTURE_TOLERANCE // timedelta(minutes=1):
        raise ValueError(
            f"token id {token_id} must name the minute of issue ({minute}) or one at most {FUTURE_TOLERANCE} later"
        )
    if token_id > MAX_TOKEN_ID:
        raise ValueError(f"token ids end at {time_of(MAX_TOKEN_ID):%Y-%m-%dT%H:%MZ}; cannot issue for {issued_at}")
    token_class = class_of(CREDIT, key_version)
    value = (_payload(token_class, token_id, rupees) << TAG_BITS) | _tag(key, token_class, token_id, rupees)
    return Token(
        meter_id=meter_id,
        token_id=token_id,
        amount_paise=amount_paise,
        issued_at=time_of(token_id),
        digits=f"{value:0{DIGITS}d}",
    )


def class_of(kind: int, key_version: int) -> int:
    """The 2-bit class of a token of `kind` made with a token key of `key_version`."""
    return kind << 1 | (EVEN_KEY if key_version % 2 == 0 else 0)


TokenKeys = bytes | Mapping[int, bytes]
"""A meter's token key, or its token keys by parity (0: odd key version, 1: even)."""


def redeem(
    token_key: TokenKeys,
    digits: str,
    now: datetime,
    used: UsedTokens,
    *,
    validity: timedelta = DEFAULT_VALIDITY,
    balance_paise: Paise = 0,
    credit_limit_paise: Paise = DEFAULT_CREDIT_LIMIT,
) -> Redemption:
    """What a meter does with typed digits; on ACCEPTED it remembers the id in `used`.

    `used` changes only when the token is ACCEPTED; adding the amount to the credit is the
    caller's job. Spaces and hyphens in `digits` are ignored. With keys by parity, the token's
    parity bit picks the key; a parity the meter holds no key for is AUTHENTICATION.
    """
    _check_aware(now, "the meter clock")
    compact = _SEPARATORS.sub("", digits)
    if not _TWENTY_DIGITS.fullmatch(compact):
        return Redemption(status=TokenStatus.FORMAT)
    value = int(compact)
    if value >> TOKEN_BITS:
        return Redemption(status=TokenStatus.FORMAT)
    tag = value & _mask(TAG_BITS)
    payload = value >> TAG_BITS
    rupees = payload & _mask(AMOUNT_BITS)
    token_id = (payload >> AMOUNT_BITS) & _mask(ID_BITS)
    token_class = payload >> (AMOUNT_BITS + ID_BITS)
    if token_class >> 1 != CREDIT or rupees < MIN_RUPEES:
        return Redemption(status=TokenStatus.FORMAT)
    key = token_key if isinstance(token_key, bytes) else token_key.get(token_class & EVEN_KEY)
    if key is None:
        return Redemption(status=TokenStatus.AUTHENTICATION)
    expected = _tag(key, token_class, token_id, rupees)
    if not hmac.compare_digest(tag.to_bytes(3, "big"), expected.to_bytes(3, "big")):
        return Redemption(status=TokenStatus.AUTHENTICATION)

    amount_paise = rupees * PAISE_PER_RUPEE
    issued_at = time_of(token_id)
    if used.contains(token_id):
        status = TokenStatus.USED
    elif used.is_old(token_id):
        status = TokenStatus.OLD
    elif now - issued_at > validity:
        status = TokenStatus.EXPIRED
    elif issued_at - now > FUTURE_TOLERANCE:
        status = TokenStatus.FUTURE
    elif balance_paise + amount_paise > credit_limit_paise:
        status = TokenStatus.RANGE
    else:
        status = TokenStatus.ACCEPTED
        used.add(token_id)
    return Redemption(status=status, token_id=token_id, amount_paise=amount_paise)


def group(digits: str) -> str:
    """Digits in groups of four separated by spaces."""
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _payload(token_class: int, token_id: int, rupees: int) -> int:
    """The 42 authenticated bits: class | id | amount."""
    return (token_class << (ID_BITS + AMOUNT_BITS)) | (token_id << AMOUNT_BITS) | rupees


def _tag(key: bytes, token_class: int, token_id: int, rupees: int) -> int:
    """First 3 bytes of HMAC-SHA256(key, the 42 payload bits as 6 bytes big-endian), as an int."""
    message = _payload(token_class, token_id, rupees).to_bytes(6, "big")
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[: TAG_BITS // 8], "big")


def _mask(bits: int) -> int:
    return (1 << bits) - 1


def _check_id(token_id: int) -> None:
    if not 0 <= token_id <= MAX_TOKEN_ID:
        raise ValueError(f"token id {token_id} is outside 0..{MAX_TOKEN_ID}")


def _check_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} needs a time zone (got naive {moment.isoformat()})")
