"""Consumers, their accounts, and meters' installations on them. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bijli.kernel.time import ist_day, month_key
from bijli.prepaid.charging import Installation

__all__ = ["AccountStatus", "Consumer", "Installation", "Language", "MeterRegistration"]


class Language(StrEnum):
    """The language a consumer reads their messages and statements in."""

    HINDI = "hi"
    ENGLISH = "en"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


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


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRegistration:
    """A meter and its consumer's account, as commissioned (a transformer's meter has none)."""

    meter_id: str
    area: str
    feeder: str
    transformer: str
    phases: int
    installed_at: datetime
    account_no: str | None = None
    consumer_id: str | None = None
    """The consumer holding the account (None: one of its own, named by the account number)."""
    consumer_name: str = ""
    mobile: str = ""
    language: Language = Language.HINDI
    tariff_code: str = ""
    sanctioned_load_w: int = 0
    initial_register_wh: int | None = None
    """The import register at installation: the first month's charges count from it."""

    @property
    def first_month(self) -> str:
        """The billing month the meter was installed in (IST)."""
        return month_key(ist_day(self.installed_at))

    @property
    def holder(self) -> str:
        """The consumer holding the account."""
        return self.consumer_id or self.account_no or ""
