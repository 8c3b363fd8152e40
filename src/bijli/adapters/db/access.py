"""The access table group: staff, api_tokens, sessions, login_attempts, login_codes,
bulk_requests; and consumers found by mobile number in `accounts`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.access.model import Attempt, P, Role, roles_with
from bijli.access.ports import ApiToken, BulkRequest, SentCode, Session, StaffMember
from bijli.adapters.db import schema as t
from bijli.adapters.db import staff_tables as st
from bijli.adapters.db.sql import insert_ignoring


class _Table:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn


def _staff(row: Any, areas: Sequence[str] = ()) -> StaffMember:
    return StaffMember(
        username=row.username,
        role=Role(row.role),
        password_hash=row.password_hash,
        totp_secret=row.totp_secret,
        created_at=row.created_at,
        areas=tuple(areas),
        mobile=row.mobile,
        email=row.email,
        language=row.language,
    )


CASE_ROLES: Final = sorted(r.value for r in {*roles_with(P.WORK_CASES), *roles_with(P.INSPECT_CASES)})
"""The roles that work cases: an area's staff with one of these hear of its cases."""


class SqlStaff(_Table):
    def get(self, username: str) -> StaffMember | None:
        row = self.conn.execute(sa.select(t.staff).where(t.staff.c.username == username)).first()
        return None if row is None else _staff(row, self._areas([username]).get(username, ()))

    def _areas(self, usernames: Sequence[str] | None) -> dict[str, list[str]]:
        a = st.staff_areas.c
        q = sa.select(a.username, a.area).order_by(a.username, a.area)
        if usernames is not None:
            q = q.where(a.username.in_(usernames))
        found: dict[str, list[str]] = defaultdict(list)
        for r in self.conn.execute(q):
            found[r.username].append(r.area)
        return found

    def _set_areas(self, username: str, areas: Sequence[str]) -> None:
        self.conn.execute(st.staff_areas.delete().where(st.staff_areas.c.username == username))
        if areas:
            self.conn.execute(
                st.staff_areas.insert(), [{"username": username, "area": a} for a in dict.fromkeys(areas)]
            )

    def set_details(self, member: StaffMember) -> bool:
        done = self._update(
            member.username,
            role=member.role.value,
            mobile=member.mobile,
            email=member.email,
            language=member.language,
        )
        if done:
            self._set_areas(member.username, member.areas)
        return done

    def add(self, member: StaffMember) -> bool:
        before = self.get(member.username)
        if before is not None:
            return False
        insert_ignoring(
            self.conn,
            t.staff,
            [
                {
                    "username": member.username,
                    "role": member.role.value,
                    "password_hash": member.password_hash,
                    "totp_secret": member.totp_secret,
                    "created_at": member.created_at,
                    "mobile": member.mobile,
                    "email": member.email,
                    "language": member.language,
                }
            ],
            ["username"],
        )
        self._set_areas(member.username, member.areas)
        return True

    def _update(self, username: str, **values: Any) -> bool:
        done = self.conn.execute(t.staff.update().where(t.staff.c.username == username).values(**values))
        return done.rowcount == 1

    def set_password(self, username: str, password_hash: str) -> bool:
        return self._update(username, password_hash=password_hash)

    def set_totp(self, username: str, secret: str | None) -> bool:
        return self._update(username, totp_secret=secret, totp_last_step=None)

    def use_totp_step(self, username: str, step: int) -> bool:
        c = t.staff.c
        done = self.conn.execute(
            t.staff.update()
            .where(c.username == username, sa.or_(c.totp_last_step.is_(None), c.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return done.rowcount == 1

    def all(self) -> list[StaffMember]:
        areas = self._areas(None)
        rows = self.conn.execute(sa.select(t.staff).order_by(t.staff.c.username))
        return [_staff(r, areas.get(r.username, ())) for r in rows]


class SqlFieldStaff(_Table):
    """Who hears of a case: the staff of its area whose role works cases (`CASE_ROLES`)."""

    def of_areas(self, areas: Sequence[str]) -> dict[str, list[str]]:
        if not areas:
            return {}
        a, s = st.staff_areas.c, t.staff.c
        q = (
            sa.select(a.area, a.username)
            .join_from(st.staff_areas, t.staff, a.username == s.username)
            .where(a.area.in_(sorted(set(areas))), s.role.in_(CASE_ROLES))
            .order_by(a.area, a.username)
        )
        found: dict[str, list[str]] = defaultdict(list)
        for r in self.conn.execute(q):
            found[r.area].append(r.username)
        return dict(found)

    def known(self, usernames: Sequence[str]) -> set[str]:
        if not usernames:
            return set()
        s = t.staff.c
        return set(self.conn.execute(sa.select(s.username).where(s.username.in_(sorted(set(usernames))))).scalars())


def _token(row: Any) -> ApiToken:
    return ApiToken(
        name=row.name,
        role=Role(row.role),
        token_hash=row.token_hash,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )


class SqlApiTokens(_Table):
    def add(self, token: ApiToken) -> bool:
        exists = self.conn.execute(sa.select(t.api_tokens.c.name).where(t.api_tokens.c.name == token.name)).first()
        if exists is not None:
            return False
        row = {
            "name": token.name,
            "role": token.role.value,
            "token_hash": token.token_hash,
            "created_at": token.created_at,
            "created_by": token.created_by,
        }
        insert_ignoring(self.conn, t.api_tokens, [row], ["name"])
        return True

    def by_hash(self, token_hash: str) -> ApiToken | None:
        row = self.conn.execute(sa.select(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash)).first()
        return None if row is None else _token(row)

    def all(self) -> list[ApiToken]:
        return [_token(r) for r in self.conn.execute(sa.select(t.api_tokens).order_by(t.api_tokens.c.name))]

    def revoke(self, name: str, at: datetime) -> bool:
        c = t.api_tokens.c
        done = self.conn.execute(
            t.api_tokens.update().where(c.name == name, c.revoked_at.is_(None)).values(revoked_at=at)
        )
        return done.rowcount == 1


class SqlSessions(_Table):
    def add(self, session: Session) -> None:
        self.conn.execute(
            t.sessions.insert().values(
                key_hash=session.key_hash,
                subject=session.subject,
                role=session.role.value,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )
        # Ended sessions go as new ones start, so the table holds about the live ones.
        self.conn.execute(t.sessions.delete().where(t.sessions.c.expires_at <= session.created_at))

    def by_hash(self, key_hash: str, now: datetime) -> Session | None:
        c = t.sessions.c
        row = self.conn.execute(sa.select(t.sessions).where(c.key_hash == key_hash, c.expires_at > now)).first()
        if row is None:
            return None
        return Session(
            key_hash=row.key_hash,
            subject=row.subject,
            role=Role(row.role),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def end(self, key_hash: str) -> None:
        self.conn.execute(t.sessions.delete().where(t.sessions.c.key_hash == key_hash))


class SqlLoginAttempts(_Table):
    def add(self, subject: str, address: str, at: datetime, ok: bool) -> None:
        self.conn.execute(t.login_attempts.insert().values(subject=subject, address=address[:64], at=at, ok=ok))

    def of_subject(self, subject: str, since: datetime) -> list[Attempt]:
        c = t.login_attempts.c
        rows = self.conn.execute(sa.select(c.at, c.ok).where(c.subject == subject, c.at > since).order_by(c.id))
        return [Attempt(at=r.at, ok=r.ok) for r in rows]

    def from_address(self, address: str, since: datetime) -> list[datetime]:
        c = t.login_attempts.c
        return list(self.conn.execute(sa.select(c.at).where(c.address == address[:64], c.at > since)).scalars())


class SqlLoginCodes(_Table):
    def add(self, mobile: str, code_hash: str, sent_at: datetime, expires_at: datetime) -> None:
        self.conn.execute(
            t.login_codes.insert().values(mobile=mobile, code_hash=code_hash, sent_at=sent_at, expires_at=expires_at)
        )

    def latest(self, mobile: str, now: datetime) -> SentCode | None:
        c = t.login_codes.c
        row = self.conn.execute(
            sa.select(t.login_codes)
            .where(c.mobile == mobile, c.used_at.is_(None), c.expires_at > now)
            .order_by(c.sent_at.desc(), c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return SentCode(
            code_id=row.id,
            mobile=row.mobile,
            code_hash=row.code_hash,
            sent_at=row.sent_at,
            expires_at=row.expires_at,
            wrong_tries=row.wrong_tries,
        )

    def sent_since(self, mobile: str, since: datetime) -> list[datetime]:
        c = t.login_codes.c
        return list(self.conn.execute(sa.select(c.sent_at).where(c.mobile == mobile, c.sent_at > since)).scalars())

    def wrong_try(self, code_id: int) -> None:
        c = t.login_codes.c
        self.conn.execute(t.login_codes.update().where(c.id == code_id).values(wrong_tries=c.wrong_tries + 1))

    def spend(self, code_id: int, at: datetime) -> bool:
        c = t.login_codes.c
        done = self.conn.execute(t.login_codes.update().where(c.id == code_id, c.used_at.is_(None)).values(used_at=at))
        return done.rowcount == 1


class SqlConsumers(_Table):
    def meters_of(self, mobile: str) -> frozenset[str]:
        c = t.accounts.c
        q = sa.select(c.meter_id).where(c.mobile == mobile, c.meter_id.is_not(None))  # a closed account has none
        return frozenset(self.conn.execute(q).scalars())


def _bulk(row: Any) -> BulkRequest:
    return BulkRequest(
        request_id=row.request_id,
        action=row.action,
        meter_ids=tuple(json.loads(row.meter_ids)),
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        status=row.status,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
    )


class SqlBulkRequests(_Table):
    def add(self, request: BulkRequest) -> None:
        self.conn.execute(
            t.bulk_requests.insert().values(
                request_id=request.request_id,
                action=request.action,
                meter_ids=json.dumps(list(request.meter_ids)),
                reason=request.reason,
                requested_by=request.requested_by,
                requested_at=request.requested_at,
                status=request.status,
                note=request.note,
            )
        )

    def get(self, request_id: str) -> BulkRequest | None:
        row = self.conn.execute(sa.select(t.bulk_requests).where(t.bulk_requests.c.request_id == request_id)).first()
        return None if row is None else _bulk(row)

    def page(self, status: str | None, limit: int, offset: int) -> list[BulkRequest]:
        c = t.bulk_requests.c
        query = sa.select(t.bulk_requests).order_by(c.requested_at.desc(), c.request_id).limit(limit).offset(offset)
        if status is not None:
            query = query.where(c.status == status)
        return [_bulk(r) for r in self.conn.execute(query)]

    def decide(self, request_id: str, status: str, by: str, at: datetime, note: str) -> bool:
        c = t.bulk_requests.c
        done = self.conn.execute(
            t.bulk_requests.update()
            .where(c.request_id == request_id, c.status == "pending")
            .values(status=status, decided_by=by, decided_at=at, note=note)
        )
        return done.rowcount == 1
