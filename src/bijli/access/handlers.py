"""Use cases of identity: staff and consumer logins, sessions, bearer tokens, staff accounts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from bijli.access import secrets
from bijli.access.model import (
    ATTEMPT_WINDOW,
    CODE_LIFETIME,
    MAX_ADDRESS_ATTEMPTS,
    MAX_CODES_SENT,
    SESSION_LIFETIME,
    STAFF_ROLES,
    Identity,
    Kind,
    Role,
    locked_until,
    normal_mobile,
    too_many,
)
from bijli.access.ports import (
    AccessUnit,
    ApiToken,
    Session,
    SmsSender,
    StaffMember,
    mobile_subject,
    staff_subject,
)
from bijli.accounts.model import is_email
from bijli.kernel.unit import Transactions

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,47}$")
MAX_AREA: Final = 64
MAX_EMAIL: Final = 254
LANGUAGES: Final = ("hi", "en")
CODE_TEXT = "bijli: your login code is {code}. It works once, for 5 minutes. Never share it."


class LoginRefused(Exception):
    """Wrong user name, password, code or second factor (which one is not said)."""


class TooManyAttempts(Exception):
    """Locked out for now: too many failures for a name or number, or attempts from an address."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many attempts; try again after {until.isoformat()}")
        self.until = until


class AccessError(ValueError):
    """A request about staff or tokens that cannot be carried out (the message says why)."""


def check_name(name: str, what: str) -> str:
    if not NAME.match(name):
        raise AccessError(f"a {what} is 2 to 48 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
    return name


def _check_address(uow: AccessUnit, address: str, now: datetime) -> None:
    until = too_many(uow.attempts.from_address(address, now - ATTEMPT_WINDOW), now, MAX_ADDRESS_ATTEMPTS)
    if until is not None:
        raise TooManyAttempts(until)


def _check_subject(uow: AccessUnit, subject: str, now: datetime) -> None:
    until = locked_until(uow.attempts.of_subject(subject, now - ATTEMPT_WINDOW), now)
    if until is not None:
        raise TooManyAttempts(until)


def _new_session(uow: AccessUnit, subject: str, role: Role, now: datetime) -> str:
    key = secrets.new_token()
    expires = now + SESSION_LIFETIME
    uow.sessions.add(
        Session(key_hash=secrets.token_hash(key), subject=subject, role=role, created_at=now, expires_at=expires)
    )
    return key


def staff_login(
    store: Transactions[AccessUnit], username: str, password: str, totp_code: str, address: str, now: datetime
) -> str:
    """A new session key for a staff member whose password (and second factor, if they set
    one up) is right. LoginRefused, or TooManyAttempts while the name or address is locked."""
    username = username.strip().lower()
    subject = staff_subject(username)
    with store.transaction() as uow:
        _check_address(uow, address, now)
        _check_subject(uow, subject, now)
        member = uow.staff.get(username)
    ok = secrets.verify_password(member.password_hash if member else secrets.dummy_hash(), password)
    step = None
    if ok and member is not None and member.totp_secret is not None:
        step = secrets.totp_step(member.totp_secret, totp_code, now)
        ok = step is not None
    with store.transaction() as uow:
        if ok and member is not None and step is not None:
            ok = uow.staff.use_totp_step(member.username, step)  # a code works once
        uow.attempts.add(subject, address, now, ok)
        if ok and member is not None:
            return _new_session(uow, member.username, member.role, now)
    raise LoginRefused("wrong user name, password or code")


def send_code(store: Transactions[AccessUnit], sms: SmsSender, mobile_text: str, address: str, now: datetime) -> str:
    """Send a one-time code to a consumer's mobile number, if an account has it; the number as
    stored. Nothing tells whether an account has it. AccessError for what is not a mobile
    number, TooManyAttempts when the number had its codes for now or the address tried too often."""
    mobile = normal_mobile(mobile_text)
    if mobile is None:
        raise AccessError("that is not a mobile number: ten digits, starting with 6, 7, 8 or 9")
    with store.transaction() as uow:
        _check_address(uow, address, now)
        _check_subject(uow, mobile_subject(mobile), now)
        until = too_many(uow.codes.sent_since(mobile, now - ATTEMPT_WINDOW), now, MAX_CODES_SENT)
        if until is not None:
            raise TooManyAttempts(until)
        if not uow.consumers.meters_of(mobile):
            uow.attempts.add(mobile_subject(mobile), address, now, True)  # counts toward the address's limit
            return mobile
    code = secrets.new_code()
    code_hash = secrets.hash_password(code)
    with store.transaction() as uow:
        uow.codes.add(mobile, code_hash, now, now + CODE_LIFETIME)
    sms.send(mobile, CODE_TEXT.format(code=code))
    return mobile


def consumer_login(store: Transactions[AccessUnit], mobile_text: str, code: str, address: str, now: datetime) -> str:
    """A new session key for the consumer whose latest code this is; the code is spent.
    LoginRefused (a wrong, used or expired code), or TooManyAttempts."""
    mobile = normal_mobile(mobile_text) or ""
    subject = mobile_subject(mobile)
    with store.transaction() as uow:
        _check_address(uow, address, now)
        _check_subject(uow, subject, now)
        sent = uow.codes.latest(mobile, now) if mobile else None
    ok = secrets.verify_password(sent.code_hash if sent else secrets.dummy_hash(), code.strip())
    with store.transaction() as uow:
        if sent is not None:
            ok = ok and uow.codes.spend(sent.code_id, now)
            if not ok:
                uow.codes.wrong_try(sent.code_id)
        uow.attempts.add(subject, address, now, ok)
        if ok:
            return _new_session(uow, mobile, Role.CONSUMER, now)
    raise LoginRefused("wrong or expired code")


def identify_session(store: Transactions[AccessUnit], key: str, now: datetime) -> Identity | None:
    """Who holds this session key, or None if it is unknown or has ended."""
    with store.transaction() as uow:
        session = uow.sessions.by_hash(secrets.token_hash(key), now)
        if session is None:
            return None
        if session.role is Role.CONSUMER:
            meters = uow.consumers.meters_of(session.subject)
            return Identity(kind=Kind.CONSUMER, name=session.subject, role=session.role, meter_ids=meters)
        member = uow.staff.get(session.subject)
        if member is None or member.role is not session.role:  # removed, or given another role since
            return None
        return Identity(kind=Kind.STAFF, name=member.username, role=member.role)


def identify_token(store: Transactions[AccessUnit], token: str) -> Identity | None:
    """Which integration this bearer token is, or None if unknown or revoked."""
    with store.transaction() as uow:
        found = uow.tokens.by_hash(secrets.token_hash(token))
    if found is None or found.revoked_at is not None:
        return None
    return Identity(kind=Kind.TOKEN, name=f"token:{found.name}", role=found.role)


def logout(store: Transactions[AccessUnit], key: str) -> None:
    with store.transaction() as uow:
        uow.sessions.end(secrets.token_hash(key))


def staff_role(text: str) -> Role:
    try:
        role = Role(text)
    except ValueError:
        role = Role.CONSUMER
    if role is Role.CONSUMER:
        raise AccessError(f"a staff role is one of {', '.join(r.value for r in STAFF_ROLES)}")
    return role


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffDetails:
    """What to set of a staff member besides their password (None: leave it as it is)."""

    role: Role | None = None
    areas: Sequence[str] | None = None
    mobile: str | None = None
    """A mobile number, or "" to remove it."""
    email: str | None = None
    """An e-mail address, or "" to remove it."""
    language: str | None = None


def _with_details(member: StaffMember, details: StaffDetails) -> StaffMember:
    """The member with `details` applied, each checked (AccessError says what is wrong)."""
    areas = member.areas
    if details.areas is not None:
        areas = tuple(dict.fromkeys(" ".join(a.split()) for a in details.areas))
        if any(not a or len(a) > MAX_AREA or not a.isprintable() for a in areas):
            raise AccessError(f"an area is 1 to {MAX_AREA} printable characters, e.g. Civil Lines")
    mobile = member.mobile
    if details.mobile is not None:
        mobile = normal_mobile(details.mobile) if details.mobile.strip() else None
        if details.mobile.strip() and mobile is None:
            raise AccessError("that is not a mobile number: ten digits, starting with 6, 7, 8 or 9")
    email = member.email
    if details.email is not None:
        email = details.email.strip() or None
        if email is not None and (len(email) > MAX_EMAIL or not is_email(email)):
            raise AccessError(f"that is not an e-mail address (name@domain): {email!r}")
    language = member.language
    if details.language is not None:
        if details.language not in LANGUAGES:
            raise AccessError(f"a language is one of {', '.join(LANGUAGES)}")
        language = details.language
    return replace(member, role=details.role or member.role, areas=areas, mobile=mobile, email=email, language=language)


def add_staff(
    store: Transactions[AccessUnit],
    username: str,
    role: Role,
    password: str,
    now: datetime,
    details: StaffDetails | None = None,
) -> StaffMember:
    """A new staff member, with their areas, mobile, e-mail and language if given. AccessError
    for a bad name, a name taken or a detail that is not right; WeakPassword."""
    check_name(username, "user name")
    member = StaffMember(username=username, role=role, password_hash="", totp_secret=None, created_at=now)
    member = _with_details(member, details or StaffDetails())
    secrets.check_password_strength(password, username)
    member = replace(member, password_hash=secrets.hash_password(password))
    with store.transaction() as uow:
        if not uow.staff.add(member):
            raise AccessError(f"there is a staff member called {username} already")
    return member


def set_staff(store: Transactions[AccessUnit], username: str, details: StaffDetails) -> StaffMember:
    """Change a staff member's role, areas, mobile, e-mail or language; the member as it now
    stands. AccessError for no such member or a detail that is not right."""
    with store.transaction() as uow:
        member = uow.staff.get(username)
        if member is None:
            raise AccessError(f"no staff member called {username}")
        changed = _with_details(member, details)
        uow.staff.set_details(changed)
        return changed


def change_password(store: Transactions[AccessUnit], username: str, password: str) -> None:
    secrets.check_password_strength(password, username)
    with store.transaction() as uow:
        if not uow.staff.set_password(username, secrets.hash_password(password)):
            raise AccessError(f"no staff member called {username}")


def set_up_totp(store: Transactions[AccessUnit], username: str, enable: bool = True) -> str | None:
    """A new TOTP secret for a staff member (their logins then need its codes), or none (off)."""
    secret = secrets.new_totp_secret() if enable else None
    with store.transaction() as uow:
        if not uow.staff.set_totp(username, secret):
            raise AccessError(f"no staff member called {username}")
    return secret


def create_token(store: Transactions[AccessUnit], name: str, role: Role, created_by: str, now: datetime) -> str:
    """A new bearer token for an integration, shown this once; only its hash is kept."""
    check_name(name, "token name")
    if role is Role.CONSUMER:
        raise AccessError("tokens are for staff roles; consumers log in with their mobile number")
    token = secrets.new_token()
    record = ApiToken(name=name, role=role, token_hash=secrets.token_hash(token), created_at=now, created_by=created_by)
    with store.transaction() as uow:
        if not uow.tokens.add(record):
            raise AccessError(f"there is a token called {name} already; revoke it or choose another name")
    return token


def revoke_token(store: Transactions[AccessUnit], name: str, now: datetime) -> None:
    with store.transaction() as uow:
        if not uow.tokens.revoke(name, now):
            raise AccessError(f"no live token called {name}")


def tokens(store: Transactions[AccessUnit]) -> list[ApiToken]:
    """Every token ever made, revoked ones too, by name."""
    with store.transaction() as uow:
        return uow.tokens.all()


def staff_members(store: Transactions[AccessUnit]) -> list[StaffMember]:
    with store.transaction() as uow:
        return uow.staff.all()
