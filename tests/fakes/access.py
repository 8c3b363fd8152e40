"""The access repositories in memory: staff, tokens, sessions, attempts, codes, bulk requests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from bijli.access.model import Attempt
from bijli.access.ports import ApiToken, BulkRequest, SentCode, Session, StaffMember

if TYPE_CHECKING:
    from tests.fakes.store import State


@dataclass(slots=True)
class AccessState:
    staff: dict[str, StaffMember] = field(default_factory=dict)
    totp_steps: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    attempts: list[tuple[str, str, Attempt]] = field(default_factory=list)
    codes: list[SentCode] = field(default_factory=list)
    used_codes: set[int] = field(default_factory=set)
    bulk: dict[str, BulkRequest] = field(default_factory=dict)


class _Access:
    def __init__(self, state: State) -> None:
        self.a = state.access
        self.s = state


class MemoryStaff(_Access):
    def get(self, username: str) -> StaffMember | None:
        return self.a.staff.get(username)

    def add(self, member: StaffMember) -> bool:
        return self.a.staff.setdefault(member.username, member) is member

    def set_password(self, username: str, password_hash: str) -> bool:
        return self._change(username, password_hash=password_hash)

    def set_details(self, member: StaffMember) -> bool:
        return self._change(
            member.username,
            role=member.role,
            areas=member.areas,
            mobile=member.mobile,
            email=member.email,
            language=member.language,
        )

    def set_totp(self, username: str, secret: str | None) -> bool:
        self.a.totp_steps.pop(username, None)
        return self._change(username, totp_secret=secret)

    def _change(self, username: str, **values: object) -> bool:
        if username not in self.a.staff:
            return False
        self.a.staff[username] = replace(self.a.staff[username], **values)  # type: ignore[arg-type]
        return True

    def use_totp_step(self, username: str, step: int) -> bool:
        if self.a.totp_steps.get(username, -1) >= step:
            return False
        self.a.totp_steps[username] = step
        return True

    def all(self) -> list[StaffMember]:
        return sorted(self.a.staff.values(), key=lambda m: m.username)


class MemoryTokens(_Access):
    def add(self, token: ApiToken) -> bool:
        return self.a.tokens.setdefault(token.name, token) is token

    def by_hash(self, token_hash: str) -> ApiToken | None:
        return next((t for t in self.a.tokens.values() if t.token_hash == token_hash), None)

    def all(self) -> list[ApiToken]:
        return sorted(self.a.tokens.values(), key=lambda t: t.name)

    def revoke(self, name: str, at: datetime) -> bool:
        token = self.a.tokens.get(name)
        if token is None or token.revoked_at is not None:
            return False
        self.a.tokens[name] = replace(token, revoked_at=at)
        return True


class MemorySessions(_Access):
    def add(self, session: Session) -> None:
        self.a.sessions[session.key_hash] = session

    def by_hash(self, key_hash: str, now: datetime) -> Session | None:
        found = self.a.sessions.get(key_hash)
        return found if found is not None and found.expires_at > now else None

    def end(self, key_hash: str) -> None:
        self.a.sessions.pop(key_hash, None)


class MemoryAttempts(_Access):
    def add(self, subject: str, address: str, at: datetime, ok: bool) -> None:
        self.a.attempts.append((subject, address, Attempt(at=at, ok=ok)))

    def of_subject(self, subject: str, since: datetime) -> list[Attempt]:
        return [a for s, _, a in self.a.attempts if s == subject and a.at > since]

    def from_address(self, address: str, since: datetime) -> list[datetime]:
        return [a.at for _, ad, a in self.a.attempts if ad == address and a.at > since]


class MemoryCodes(_Access):
    def add(self, mobile: str, code_hash: str, sent_at: datetime, expires_at: datetime) -> None:
        code_id = len(self.a.codes) + 1
        self.a.codes.append(
            SentCode(
                code_id=code_id,
                mobile=mobile,
                code_hash=code_hash,
                sent_at=sent_at,
                expires_at=expires_at,
                wrong_tries=0,
            )
        )

    def latest(self, mobile: str, now: datetime) -> SentCode | None:
        live = [
            c for c in self.a.codes if c.mobile == mobile and c.code_id not in self.a.used_codes and c.expires_at > now
        ]
        return max(live, key=lambda c: (c.sent_at, c.code_id), default=None)

    def sent_since(self, mobile: str, since: datetime) -> list[datetime]:
        return [c.sent_at for c in self.a.codes if c.mobile == mobile and c.sent_at > since]

    def wrong_try(self, code_id: int) -> None:
        c = self.a.codes[code_id - 1]
        self.a.codes[code_id - 1] = replace(c, wrong_tries=c.wrong_tries + 1)

    def spend(self, code_id: int, at: datetime) -> bool:
        if code_id in self.a.used_codes:
            return False
        self.a.used_codes.add(code_id)
        return True


class MemoryConsumers(_Access):
    def meters_of(self, mobile: str) -> frozenset[str]:
        return frozenset(
            a.meter_id
            for a in self.s.accounts.values()
            if a.meter_id is not None and self.s.consumers[a.consumer_id].mobile == mobile
        )


class MemoryBulk(_Access):
    def add(self, request: BulkRequest) -> None:
        self.a.bulk[request.request_id] = request

    def get(self, request_id: str) -> BulkRequest | None:
        return self.a.bulk.get(request_id)

    def page(self, status: str | None, limit: int, offset: int) -> list[BulkRequest]:
        chosen = [r for r in self.a.bulk.values() if status is None or r.status == status]
        chosen.sort(key=lambda r: r.request_id)
        chosen.sort(key=lambda r: r.requested_at, reverse=True)
        return chosen[offset : offset + limit]

    def decide(self, request_id: str, status: str, by: str, at: datetime, note: str) -> bool:
        found = self.a.bulk.get(request_id)
        if found is None or found.status != "pending":
            return False
        self.a.bulk[request_id] = replace(found, status=status, decided_by=by, decided_at=at, note=note)
        return True
