"""The share links' table (on the store's one `metadata`) and its repository."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.access.sharing import Recharge, ShareLink
from bijli.adapters.db import schema as t
from bijli.adapters.db.schema import BigId, UtcDateTime, metadata
from bijli.prepaid.model import EntryKind

share_links = sa.Table(
    "share_links",
    metadata,
    sa.Column("link_id", BigId, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 of the token, never the token
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), nullable=False),
    sa.Column("meter_id", sa.String(32), nullable=False),
    sa.Column("name", sa.String(40)),
    sa.Column("made_by", sa.String(64), nullable=False),
    sa.Column("made_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_by", sa.String(64)),
    sa.Column("revoked_at", UtcDateTime),
    sa.Index("ix_share_links_account_no", "account_no"),
)


def _link(row: Any) -> ShareLink:
    return ShareLink(
        link_id=int(row.link_id),
        account_no=row.account_no,
        meter_id=row.meter_id,
        name=row.name,
        made_by=row.made_by,
        made_at=row.made_at,
        expires_at=row.expires_at,
        revoked_by=row.revoked_by,
        revoked_at=row.revoked_at,
    )


class SqlShareLinks:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, link: ShareLink, token_hash: str) -> ShareLink:
        new_id = self.conn.execute(
            share_links.insert()
            .values(
                token_hash=token_hash,
                account_no=link.account_no,
                meter_id=link.meter_id,
                name=link.name,
                made_by=link.made_by,
                made_at=link.made_at,
                expires_at=link.expires_at,
            )
            .returning(share_links.c.link_id)
        ).scalar_one()
        row = self.conn.execute(share_links.select().where(share_links.c.link_id == new_id)).one()
        return _link(row)

    def of_account(self, account_no: str) -> list[ShareLink]:
        c = share_links.c
        q = share_links.select().where(c.account_no == account_no).order_by(c.made_at.desc(), c.link_id.desc())
        return [_link(r) for r in self.conn.execute(q)]

    def by_hash(self, token_hash: str) -> ShareLink | None:
        row = self.conn.execute(share_links.select().where(share_links.c.token_hash == token_hash)).first()
        return None if row is None else _link(row)

    def revoke(self, link_id: int, account_no: str, by: str, at: datetime) -> bool:
        c = share_links.c
        done = self.conn.execute(
            share_links.update()
            .where(c.link_id == link_id, c.account_no == account_no, c.revoked_at.is_(None))
            .values(revoked_by=by, revoked_at=at)
        )
        return done.rowcount == 1

    def recharges(self, account_no: str, limit: int) -> list[Recharge]:
        g = t.ledger.c
        q = (
            sa.select(g.posted_at, g.amount_paise)
            .where(g.account_no == account_no, g.kind == EntryKind.RECHARGE.value)
            .order_by(g.id.desc())
            .limit(limit)
        )
        return [Recharge(at=r.posted_at, amount_paise=int(r.amount_paise)) for r in self.conn.execute(q)]
