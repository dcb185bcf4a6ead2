"""One-time board links (see bot/services/board_links.py): spent by one conditional UPDATE,
so a link opened twice at once opens one session."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables
from storage.tables import BOARD_LINKS


class SqlBoardLinkRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    async def add(self, digest: str, account: str, expires_at: datetime) -> None:
        # Links long dead are swept as new ones are made: the table stays small.
        await self.conn.execute(
            sa.delete(tables.board_links).where(BOARD_LINKS.expires_at < self.now)
        )
        await self.conn.execute(
            sa.insert(tables.board_links).values(
                digest=digest, account=account, created_at=self.now, expires_at=expires_at
            )
        )

    async def spend(self, digest: str, at: datetime) -> str | None:
        row = (
            await self.conn.execute(
                sa.update(tables.board_links)
                .where(
                    BOARD_LINKS.digest == digest,
                    BOARD_LINKS.used_at.is_(None),
                    BOARD_LINKS.expires_at > at,
                )
                .values(used_at=at)
                .returning(BOARD_LINKS.account)
            )
        ).first()
        return str(row.account) if row is not None else None
