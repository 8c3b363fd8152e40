"""Roles and permissions as data, who is asking, and the lockout rules. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bijli.accounts.model import normal_mobile as normal_mobile  # where login has always found it


class Role(StrEnum):
    CONSUMER = "consumer"
    OPERATOR = "operator"
    FIELD_ENGINEER = "field_engineer"
    BILLING = "billing"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """What a route or an action needs; a role is the set of these it holds."""

    READ_OWN = "read_own"
    """A consumer's own meters, readings, balance and page."""
    READ_FLEET = "read_fleet"
    """Every meter, its readings, commands and status history; the operations page."""
    READ_REPORTS = "read_reports"
    READ_ACCOUNTS = "read_accounts"
    """Every account's monthly statements and ledger."""
    READ_AUDIT = "read_audit"
    DISCONNECT = "disconnect"
    RECONNECT = "reconnect"
    CREDIT = "credit"
    TARIFF_PUSH = "tariff_push"
    METER_READ = "meter_read"
    """Ask a meter for data or set it up: read_now, read_profile, time_sync, hotspot_settings."""
    DECOMMISSION = "decommission"
    """Take a meter out of service, or put it back."""
    BULK = "bulk"
    """Ask for, approve or refuse an action on many meters at once."""
    ONBOARD = "onboard"
    """Register consumers, install meters on accounts, replace meters."""
    CLOSE_ACCOUNT = "close_account"
    """Close an account: its meter's final reading, refund or arrears."""
    RECONCILIATION = "reconciliation"
    """The reconciliation items: redemptions no token explains, meters' credit drifting from the ledger."""
    TRACK_PAYMENTS = "track_payments"
    """Where any payment has got to, from the gateway to the consumer's power (a consumer: their own)."""
    VIEW_CASES = "view_cases"
    """Revenue-protection cases: the list, each with its evidence and history, the live stream."""
    WORK_CASES = "work_cases"
    """Assign a case, decide it (confirmed theft or false alarm), close or reopen it."""
    INSPECT_CASES = "inspect_cases"
    """Record a case's inspection on site."""
    ANSWER_DISPUTES = "answer_disputes"
    """Answer a household's dispute of a day's charge."""


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CONSUMER: frozenset({P.READ_OWN}),
    Role.OPERATOR: frozenset(
        {
            P.READ_FLEET,
            P.READ_REPORTS,
            P.READ_ACCOUNTS,
            P.DISCONNECT,
            P.RECONNECT,
            P.METER_READ,
            P.BULK,
            P.TRACK_PAYMENTS,
            P.VIEW_CASES,
            P.WORK_CASES,
        }
    ),
    Role.FIELD_ENGINEER: frozenset(
        {P.READ_FLEET, P.RECONNECT, P.METER_READ, P.DECOMMISSION, P.ONBOARD, P.VIEW_CASES, P.INSPECT_CASES}
    ),
    Role.BILLING: frozenset(
        {
            P.READ_FLEET,
            P.READ_REPORTS,
            P.READ_ACCOUNTS,
            P.CREDIT,
            P.TARIFF_PUSH,
            P.RECONCILIATION,
            P.CLOSE_ACCOUNT,
            P.TRACK_PAYMENTS,
            P.VIEW_CASES,
            P.ANSWER_DISPUTES,
        }
    ),
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset(
        {P.READ_FLEET, P.READ_REPORTS, P.READ_ACCOUNTS, P.READ_AUDIT, P.RECONCILIATION, P.VIEW_CASES}
    ),
}
"""The role table: docs/api.md shows it route by route, and tests/web/test_roles.py holds
every route to it."""

ACTION_PERMISSION: dict[str, Permission] = {
    "relay_disconnect": P.DISCONNECT,
    "relay_connect": P.RECONNECT,
    "credit": P.CREDIT,
    "tariff": P.TARIFF_PUSH,
    "read_now": P.METER_READ,
    "read_profile": P.METER_READ,
    "time_sync": P.METER_READ,
    "hotspot_settings": P.METER_READ,
}
"""The permission each command action needs of whoever asks for it."""

CASE_STEP_PERMISSION: dict[str, Permission] = {
    "assign": P.WORK_CASES,
    "inspect": P.INSPECT_CASES,
    "confirm": P.WORK_CASES,
    "false_alarm": P.WORK_CASES,
    "close": P.WORK_CASES,
    "reopen": P.WORK_CASES,
}
"""The permission each step of a case's workflow (`bijli.vigilance.cases.Step`) needs."""

BULK_ACTIONS = ("relay_disconnect", "relay_connect")
"""Actions that may be asked of many meters at once; each such request needs a second person."""

STAFF_ROLES = tuple(r for r in Role if r is not Role.CONSUMER)


class Kind(StrEnum):
    STAFF = "staff"
    CONSUMER = "consumer"
    TOKEN = "token"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who is asking: a staff member, a consumer (by mobile number) or an integration's token."""

    kind: Kind
    name: str
    """The name the audit trail shows: a staff user name, ``token:<name>``, or the mobile number."""
    role: Role
    meter_ids: frozenset[str] = frozenset()
    """A consumer's own meters (empty for everyone else)."""

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def may_see(self, meter_id: str) -> bool:
        """Whether this identity may read the meter: staff who read the fleet, or its consumer."""
        return self.can(P.READ_FLEET) or (self.can(P.READ_OWN) and meter_id in self.meter_ids)


def roles_with(permission: Permission) -> list[Role]:
    return [r for r in Role if permission in ROLE_PERMISSIONS[r]]


# Limits on guessing: a window, how many failures it allows per name and per address.
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
"""Failed logins (or codes) for one user name or mobile number within the window before it is locked."""
MAX_ADDRESS_ATTEMPTS = 30
"""Login attempts from one network address within the window."""
MAX_CODES_SENT = 3
"""One-time codes sent to one mobile number within the window."""
CODE_LIFETIME = timedelta(minutes=5)
CODE_DIGITS = 6
SESSION_LIFETIME = timedelta(hours=12)
"""A session ends this long after login, or at logout."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    at: datetime
    ok: bool


def locked_until(attempts: Sequence[Attempt], now: datetime, limit: int = MAX_FAILURES) -> datetime | None:
    """When a name (or mobile) may try again, if `limit` failures within the window since its
    last success lock it; None when it may try now. `attempts` in the order they were made."""
    since = now - ATTEMPT_WINDOW
    recent = sorted((a for a in attempts if a.at > since), key=lambda a: a.at)  # stable: ties keep their order
    failures: list[datetime] = []
    for a in recent:
        failures = [] if a.ok else [*failures, a.at]
    if len(failures) < limit:
        return None
    return failures[-limit] + ATTEMPT_WINDOW


def too_many(times: Sequence[datetime], now: datetime, limit: int) -> datetime | None:
    """When another attempt (or code) is allowed if `limit` happened within the window; else None."""
    recent = sorted(t for t in times if t > now - ATTEMPT_WINDOW)
    if len(recent) < limit:
        return None
    return recent[-limit] + ATTEMPT_WINDOW
