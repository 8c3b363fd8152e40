"""A household shares a read-only view of its account with a family member: a link holding a
random token (only its hash is kept), optionally named ("Papa"), that ends when it expires or
when the household revokes it. Who made and revoked each link, and when, is kept. Pure rules,
the repository they need, and the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, Protocol

from bijli.access import secrets
from bijli.kernel.unit import Transactions

LIFETIMES: Final = (7, 30, 90, 365)
"""The days a link may live for, as the page offers them."""
DEFAULT_DAYS: Final = 90
MAX_LIVE: Final = 10
"""Links an account may have live at once (revoke one to make another)."""
MAX_NAME: Final = 40
RECENT_RECHARGES: Final = 5
State = Literal["live", "revoked", "expired"]


class ShareError(ValueError):
    """A link that cannot be made or revoked, with the reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareLink:
    link_id: int
    account_no: str
    meter_id: str
    name: str | None
    """What the household calls whoever it is for ("Papa"); None when not named."""
    made_by: str
    made_at: datetime
    expires_at: datetime
    revoked_by: str | None = None
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> State:
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "live"


@dataclass(frozen=True, slots=True, kw_only=True)
class Recharge:
    at: datetime
    amount_paise: int


def clean_name(name: str) -> str | None:
    """A link's name as kept: spaces collapsed, at most `MAX_NAME` characters, no control
    characters; None when blank."""
    cleaned = " ".join(name.split())
    if not cleaned:
        return None
    if len(cleaned) > MAX_NAME:
        raise ShareError(f"the name is longer than {MAX_NAME} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise ShareError("the name holds control characters")
    return cleaned


class ShareLinks(Protocol):
    def add(self, link: ShareLink, token_hash: str) -> ShareLink:
        """Keep a new link under its token's hash (its id is given by the store)."""
        ...

    def of_account(self, account_no: str) -> list[ShareLink]:
        """Every link the account ever made, the newest first."""
        ...

    def by_hash(self, token_hash: str) -> ShareLink | None: ...

    def revoke(self, link_id: int, account_no: str, by: str, at: datetime) -> bool:
        """End a link of the account that is not revoked yet; False otherwise."""
        ...

    def recharges(self, account_no: str, limit: int) -> list[Recharge]:
        """The account's latest recharges, the newest first."""
        ...


class ShareUnit(Protocol):
    @property
    def share_links(self) -> ShareLinks: ...


def make_link(
    store: Transactions[ShareUnit],
    *,
    account_no: str,
    meter_id: str,
    name: str,
    made_by: str,
    now: datetime,
    days: int = DEFAULT_DAYS,
) -> tuple[ShareLink, str]:
    """A new link to the account's view: (the link, its token, to be shown this once)."""
    if days not in LIFETIMES:
        raise ShareError(f"a link lives for {', '.join(map(str, LIFETIMES))} days, not {days}")
    named = clean_name(name)
    token = secrets.new_token()
    link = ShareLink(
        link_id=0,
        account_no=account_no,
        meter_id=meter_id,
        name=named,
        made_by=made_by,
        made_at=now,
        expires_at=now + timedelta(days=days),
    )
    with store.transaction() as uow:
        live = [k for k in uow.share_links.of_account(account_no) if k.state(now) == "live"]
        if len(live) >= MAX_LIVE:
            raise ShareError(f"{MAX_LIVE} links are live already: revoke one first")
        return uow.share_links.add(link, secrets.token_hash(token)), token


def revoke_link(store: Transactions[ShareUnit], account_no: str, link_id: int, by: str, now: datetime) -> None:
    """End one of the account's links at once."""
    with store.transaction() as uow:
        if not uow.share_links.revoke(link_id, account_no, by, now):
            raise LookupError(f"link {link_id} is not a live link of this account")


def links_of(store: Transactions[ShareUnit], account_no: str) -> list[ShareLink]:
    with store.transaction() as uow:
        return uow.share_links.of_account(account_no)


def opened(store: Transactions[ShareUnit], token: str, now: datetime) -> tuple[ShareLink | None, list[Recharge]]:
    """The link a token opens (None for a token no link holds) and, while it is live, the
    account's latest recharges (nothing for a revoked or expired one)."""
    with store.transaction() as uow:
        link = uow.share_links.by_hash(secrets.token_hash(token))
        if link is None or link.state(now) != "live":
            return link, []
        return link, uow.share_links.recharges(link.account_no, RECENT_RECHARGES)
