"""Consumers, their accounts, and meters' installations on them: the records and the rules a
request to put a meter into service (or take it out) must keep. Pure."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bijli.prepaid.charging import Installation as Installation  # the record is ours; charging reads it
from bijli.prepaid.model import EntryKind, LedgerEntry, opening
from bijli.protocol.frames import REGISTER_MODULUS

MAX_ID = 32
MAX_NAME = 128
MAX_ADDRESS = 256
MAX_PLACE = 32
"""Feeder and transformer codes (an area's name may be 64)."""
MAX_AREA = 64
MAX_REASON = 256
PHASES = (1, 3)
MAX_SANCTIONED_LOAD_W = 1_000_000
"""1 MW: far above any connection a prepaid meter serves, low enough to catch a unit slip."""
MAX_OPENING_PAISE = 10**11
"""₹100 crore: a bound on opening balances and arrears that catches a slip, not a rule."""
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$"
"""Consumer, account and meter ids: letters, digits and . _ / - (no spaces), 1 to 32."""
_ID = re.compile(ID_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Language(StrEnum):
    """The language a consumer reads their messages and statements in."""

    HINDI = "hi"
    ENGLISH = "en"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class Refused(ValueError):
    """A request onboarding does not take, with the reason in words; nothing changed."""


class NotFound(Refused):
    """The request names a consumer, account or meter that is not registered."""


class Conflict(Refused):
    """The request does not fit the records as they are (a meter installed elsewhere, an
    account that is closed, a consumer that exists already)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Consumer:
    """A person (or household) holding one or more accounts."""

    consumer_id: str
    name: str
    mobile: str
    """+91 and ten digits."""
    language: Language = Language.HINDI
    address: str = ""
    created_at: datetime
    email: str | None = None
    """Optional: alerts go by e-mail too."""

    def same_details(self, other: Consumer) -> bool:
        return (self.name, self.mobile, self.language, self.address, self.email) == (
            other.name,
            other.mobile,
            other.language,
            other.address,
            other.email,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterSite:
    """A meter and where it sits in the network."""

    meter_id: str
    area: str
    feeder: str
    transformer: str
    phases: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountTerms:
    """What an account is charged by: its tariff category, sanctioned load and the share of
    each recharge that recovers arrears (None: the utility's default)."""

    tariff_code: str
    sanctioned_load_w: int
    arrears_share_pct: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An account as recorded."""

    account_no: str
    consumer_id: str
    terms: AccountTerms
    status: AccountStatus
    meter_id: str | None
    """The meter installed now (None: none, e.g. once closed)."""
    opened_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Installing:
    """A meter put into service on an account: a new account for a registered consumer, or an
    active account that has no meter now."""

    account_no: str
    consumer_id: str
    meter: MeterSite
    terms: AccountTerms
    installed_at: datetime
    opening_wh_total: int
    """The import register read off the meter at installation."""
    opening_balance_paise: int = 0
    """Credit the account starts with (a prepaid balance carried over)."""
    arrears_paise: int = 0
    """What the consumer owes from before (recovered from recharges, a share at a time)."""

    @property
    def installation(self) -> Installation:
        return Installation(
            account_no=self.account_no,
            meter_id=self.meter.meter_id,
            installed_at=self.installed_at,
            opening_wh_total=self.opening_wh_total,
        )

    def entries(self) -> list[LedgerEntry]:
        """The opening balance and arrears as ledger entries (each once per account)."""
        found = []
        if self.opening_balance_paise:
            found.append(opening(self.account_no, self.opening_balance_paise))
        if self.arrears_paise:
            found.append(arrears(self.account_no, self.arrears_paise))
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Replacing:
    """A meter taken off an account and another put in its place: the old one's final
    reading closes its installation, the new one's opening reading starts the next."""

    old_meter_id: str
    closing_wh_total: int
    new: MeterSite
    opening_wh_total: int
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Closing:
    """An account closed: its meter's final reading, and why."""

    account_no: str
    closing_wh_total: int
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalStatement:
    """What closing an account settled: the prepaid balance and arrears at closure, and the
    one figure that leaves: refunded to the consumer if positive, owed by them if negative."""

    account_no: str
    balance_paise: int
    arrears_paise: int
    entry: LedgerEntry | None = field(default=None)

    @property
    def settlement_paise(self) -> int:
        """Balance less arrears: a refund due if positive, arrears due if negative."""
        return self.balance_paise - self.arrears_paise


def arrears(account_no: str, amount_paise: int) -> LedgerEntry:
    """What an account owes from before it was onboarded, as a negative entry of its own kind
    (kept apart from the prepaid balance: recharges recover it a share at a time)."""
    if amount_paise <= 0:
        raise ValueError("arrears are a positive amount owed")
    return LedgerEntry(
        account_no=account_no, kind=EntryKind.ARREARS, amount_paise=-amount_paise, reference=f"arrears:{account_no}"
    )


def final_settlement(account_no: str, balance_paise: int, arrears_paise: int) -> FinalStatement:
    """Closing an account: an entry that takes its prepaid balance to zero (a positive balance
    is refunded, a negative one joins the arrears due), once per account."""
    entry = None
    if balance_paise:
        entry = LedgerEntry(
            account_no=account_no,
            kind=EntryKind.FINAL_SETTLEMENT,
            amount_paise=-balance_paise,
            reference=f"final:{account_no}",
        )
    return FinalStatement(account_no=account_no, balance_paise=balance_paise, arrears_paise=arrears_paise, entry=entry)


def normal_mobile(text: str) -> str | None:
    """An Indian mobile number as stored (+91 and ten digits), from what a person types:
    98xxxxxxxx, 098xxxxxxxx, 91 98xxxxxxxx or +91 98xxx xxxxx. None if it is not one."""
    digits = "".join(c for c in text if c.isdigit())
    stripped = text.strip()
    if not digits or any(not (c.isdigit() or c in " -+") for c in stripped):
        return None
    if len(digits) == 12 and digits.startswith("91"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] not in "6789":
        return None
    return "+91" + digits


# ---------------------------------------------------------------------------- checks


def _text(problems: list[str], what: str, value: str, longest: int) -> None:
    if not value.strip():
        problems.append(f"{what} is empty")
    elif len(value) > longest:
        problems.append(f"{what} is longer than {longest} characters")
    elif _CONTROL.search(value):
        problems.append(f"{what} has control characters")


def _id(problems: list[str], what: str, value: str) -> None:
    if not _ID.match(value):
        problems.append(f"{what} {value!r} is not an id (letters, digits and . _ / -, 1 to {MAX_ID})")


def _refuse(problems: list[str]) -> None:
    if problems:
        raise Refused("; ".join(problems))


def _aware(problems: list[str], what: str, moment: datetime, now: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        problems.append(f"{what} needs a time zone")
    elif moment > now:
        problems.append(f"{what} {moment.isoformat()} is in the future")


def _register(problems: list[str], what: str, wh: int) -> None:
    if not 0 <= wh < REGISTER_MODULUS:
        problems.append(f"{what} must be 0 to {REGISTER_MODULUS - 1:,} Wh")


def check_consumer(c: Consumer) -> None:
    """Refuse a consumer record that breaks a rule (every problem named at once)."""
    problems: list[str] = []
    _id(problems, "consumer id", c.consumer_id)
    _text(problems, "name", c.name, MAX_NAME)
    if normal_mobile(c.mobile) != c.mobile:
        problems.append(f"mobile {c.mobile!r} is not an Indian mobile number (+91 and ten digits)")
    if c.address:
        _text(problems, "address", c.address, MAX_ADDRESS)
    if c.email is not None and not is_email(c.email):
        problems.append(f"email {c.email!r} is not an e-mail address (name@domain)")
    _refuse(problems)


MAX_EMAIL = 254
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def is_email(text: str) -> bool:
    """Whether `text` reads as an e-mail address a relay takes (``name@domain.tld``, ASCII)."""
    return len(text) <= MAX_EMAIL and _EMAIL.fullmatch(text) is not None


def check_site(problems: list[str], site: MeterSite) -> None:
    _id(problems, "meter id", site.meter_id)
    _text(problems, "area", site.area, MAX_AREA)
    _text(problems, "feeder", site.feeder, MAX_PLACE)
    _text(problems, "transformer", site.transformer, MAX_PLACE)
    if site.phases not in PHASES:
        problems.append(f"phase must be 1 or 3, not {site.phases}")


def check_terms(problems: list[str], terms: AccountTerms, tariffs: Collection[str]) -> None:
    if terms.tariff_code not in tariffs:
        known = ", ".join(sorted(tariffs))
        problems.append(f"tariff category {terms.tariff_code!r} is not one bijli charges by (known: {known})")
    if not 0 < terms.sanctioned_load_w <= MAX_SANCTIONED_LOAD_W:
        problems.append(f"sanctioned load must be 1 to {MAX_SANCTIONED_LOAD_W:,} W")
    if terms.arrears_share_pct is not None and not 0 <= terms.arrears_share_pct <= 100:
        problems.append("the arrears share must be 0 to 100 per cent")


def check_installing(i: Installing, tariffs: Collection[str], now: datetime) -> None:
    """Refuse an installation that breaks a rule of its own (every problem named at once)."""
    problems: list[str] = []
    _id(problems, "account", i.account_no)
    _id(problems, "consumer id", i.consumer_id)
    check_site(problems, i.meter)
    check_terms(problems, i.terms, tariffs)
    _aware(problems, "the installation time", i.installed_at, now)
    _register(problems, "the opening register", i.opening_wh_total)
    if i.opening_balance_paise and i.arrears_paise:
        problems.append("give an opening balance or arrears, not both")
    for what, paise in (("the opening balance", i.opening_balance_paise), ("arrears", i.arrears_paise)):
        if not 0 <= paise <= MAX_OPENING_PAISE:
            problems.append(f"{what} must be 0 to ₹{MAX_OPENING_PAISE // 100:,}")
    _refuse(problems)


def check_replacing(r: Replacing, now: datetime) -> None:
    problems: list[str] = []
    _id(problems, "meter id", r.old_meter_id)
    check_site(problems, r.new)
    if r.new.meter_id == r.old_meter_id:
        problems.append("the new meter is the old one")
    _register(problems, "the old meter's final register", r.closing_wh_total)
    _register(problems, "the new meter's opening register", r.opening_wh_total)
    _aware(problems, "the replacement time", r.at, now)
    _text(problems, "reason", r.reason, MAX_REASON)
    _refuse(problems)


def check_closing(c: Closing, now: datetime) -> None:
    problems: list[str] = []
    _register(problems, "the final register", c.closing_wh_total)
    _aware(problems, "the closing time", c.at, now)
    _text(problems, "reason", c.reason, MAX_REASON)
    _refuse(problems)


def check_removal(installation: Installation, closing_wh_total: int, at: datetime) -> None:
    """A meter comes off an account after it went on, reading at least what it read then."""
    if at <= installation.installed_at:
        raise Refused(
            f"meter {installation.meter_id} was installed at {installation.installed_at.isoformat()}; "
            f"it cannot come off before that ({at.isoformat()})"
        )
    if (closing_wh_total - installation.opening_wh_total) % REGISTER_MODULUS > REGISTER_MODULUS // 2:
        raise Refused(
            f"the final register {closing_wh_total:,} Wh is below the opening register "
            f"{installation.opening_wh_total:,} Wh of meter {installation.meter_id}"
        )
