"""What identity and access need from a store, and from an SMS gateway."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bijli.access.model import Attempt, Role
from bijli.headend.ports import CommandUnit


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffMember:
    username: str
    role: Role
    password_hash: str
    totp_secret: str | None
    created_at: datetime
    areas: tuple[str, ...] = ()
    """The areas they work: a case opened there alerts them (if their role works cases)."""
    mobile: str | None = None
    email: str | None = None
    language: str = "en"
    """hi | en: the language of their alerts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    name: str
    role: Role
    token_hash: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    key_hash: str
    subject: str
    """A staff user name, or a consumer's mobile number."""
    role: Role
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SentCode:
    code_id: int
    mobile: str
    code_hash: str
    sent_at: datetime
    expires_at: datetime
    wrong_tries: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkRequest:
    request_id: str
    action: str
    meter_ids: tuple[str, ...]
    reason: str
    requested_by: str
    requested_at: datetime
    status: str
    """pending, approved or refused."""
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""


class StaffAccounts(Protocol):
    def get(self, username: str) -> StaffMember | None: ...
    def add(self, member: StaffMember) -> bool:
        """False if the user name is taken."""
        ...

    def set_password(self, username: str, password_hash: str) -> bool: ...
    def set_details(self, member: StaffMember) -> bool:
        """Store a member's role, areas, mobile, e-mail and language as given (not the password
        or second factor); False if there is no such member."""
        ...

    def set_totp(self, username: str, secret: str | None) -> bool: ...
    def use_totp_step(self, username: str, step: int) -> bool:
        """Record a TOTP step as used; False if it (or a later one) was used already: a code works once."""
        ...

    def all(self) -> list[StaffMember]: ...


class ApiTokens(Protocol):
    def add(self, token: ApiToken) -> bool:
        """False if a token of that name exists (revoked or not)."""
        ...

    def by_hash(self, token_hash: str) -> ApiToken | None: ...
    def all(self) -> list[ApiToken]: ...
    def revoke(self, name: str, at: datetime) -> bool: ...


class Sessions(Protocol):
    def add(self, session: Session) -> None: ...
    def by_hash(self, key_hash: str, now: datetime) -> Session | None:
        """The session if it has not ended."""
        ...

    def end(self, key_hash: str) -> None: ...


class LoginAttempts(Protocol):
    def add(self, subject: str, address: str, at: datetime, ok: bool) -> None: ...
    def of_subject(self, subject: str, since: datetime) -> list[Attempt]: ...
    def from_address(self, address: str, since: datetime) -> list[datetime]: ...


class OneTimeCodes(Protocol):
    def add(self, mobile: str, code_hash: str, sent_at: datetime, expires_at: datetime) -> None: ...
    def latest(self, mobile: str, now: datetime) -> SentCode | None:
        """The newest code sent to the number that is neither spent nor expired."""
        ...

    def sent_since(self, mobile: str, since: datetime) -> list[datetime]: ...
    def wrong_try(self, code_id: int) -> None: ...
    def spend(self, code_id: int, at: datetime) -> bool:
        """Mark the code used; False if it was used already."""
        ...


class Consumers(Protocol):
    def meters_of(self, mobile: str) -> frozenset[str]:
        """The meters whose accounts are registered to this mobile number."""
        ...


class BulkRequests(Protocol):
    def add(self, request: BulkRequest) -> None: ...
    def get(self, request_id: str) -> BulkRequest | None: ...
    def decide(self, request_id: str, status: str, by: str, at: datetime, note: str) -> bool:
        """Approve or refuse a pending request; False if it was not pending any more."""
        ...

    def page(self, status: str | None, limit: int, offset: int) -> list[BulkRequest]:
        """Requests (of one status, or all), newest first."""
        ...


class AccessUnit(Protocol):
    @property
    def staff(self) -> StaffAccounts: ...
    @property
    def tokens(self) -> ApiTokens: ...
    @property
    def sessions(self) -> Sessions: ...
    @property
    def attempts(self) -> LoginAttempts: ...
    @property
    def codes(self) -> OneTimeCodes: ...
    @property
    def consumers(self) -> Consumers: ...


class BulkUnit(CommandUnit, Protocol):
    @property
    def bulk(self) -> BulkRequests: ...


class SmsSender(Protocol):
    """The SMS channel (a gateway in production, the console in the demo)."""

    def send(self, to: str, text: str) -> None:
        """Send or raise SmsUnavailable."""
        ...


class SmsUnavailable(RuntimeError):
    """The SMS channel cannot take a message."""


def staff_subject(username: str) -> str:
    return f"staff:{username}"


def mobile_subject(mobile: str) -> str:
    return f"mobile:{mobile}"


def bulk_meter_list(meter_ids: Sequence[str]) -> tuple[str, ...]:
    """Meters in the order asked, each once."""
    return tuple(dict.fromkeys(meter_ids))
