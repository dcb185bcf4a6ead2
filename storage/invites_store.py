"""One-time invites and link codes (see bot/services/invites.py).

Every change of state is one conditional UPDATE on the current status, so an
invite opened twice at once, or approved by two leads at once, changes once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.model import Role
from bot.services.invites import Invite, InviteKind, InviteStatus, Joiner
from storage import tables
from storage.rows import from_row
from storage.tables import INVITES


def _joiner_json(joiner: Joiner) -> dict[str, Any]:
    return {
        "channel": joiner.channel,
        "external_id": joiner.external_id,
        "name": joiner.name,
        "username": joiner.username,
        "lang": joiner.lang,
    }


def _joiner(data: Any) -> Joiner | None:
    if not isinstance(data, dict):
        return None
    return Joiner(
        channel=str(data["channel"]),
        external_id=str(data["external_id"]),
        name=str(data.get("name") or ""),
        username=data.get("username"),
        lang=data.get("lang"),
    )


def _invite(row: sa.Row[Any]) -> Invite:
    return from_row(
        Invite,
        row,
        kind=InviteKind(row.kind),
        role=Role(row.role),
        status=InviteStatus(row.status),
        joiner=_joiner(row.joiner),
        opened_at=row.used_at,
    )


class SqlInviteRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    async def add(self, invite: Invite) -> None:
        await self.conn.execute(
            sa.insert(tables.invites).values(
                token=invite.token,
                kind=invite.kind.value,
                team_code=invite.team_code,
                role=invite.role.value,
                created_by=invite.created_by,
                created_at=invite.created_at,
                expires_at=invite.expires_at,
                status=invite.status.value,
                member_uid=invite.member_uid,
                created_via=invite.created_via,
            )
        )

    async def get(self, token: str) -> Invite | None:
        row = (
            await self.conn.execute(sa.select(tables.invites).where(INVITES.token == token))
        ).first()
        return _invite(row) if row is not None else None

    async def open(self, token: str, joiner: Joiner, status: InviteStatus, at: datetime) -> bool:
        result = await self.conn.execute(
            sa.update(tables.invites)
            .where(
                INVITES.token == token,
                INVITES.status == InviteStatus.OPEN.value,
                INVITES.used_by.is_(None),
                INVITES.expires_at > at,
            )
            .values(
                status=status.value, used_by=joiner.uid, used_at=at, joiner=_joiner_json(joiner)
            )
        )
        return bool(result.rowcount)

    async def decide(self, token: str, status: InviteStatus, by: str, at: datetime) -> bool:
        result = await self.conn.execute(
            sa.update(tables.invites)
            .where(INVITES.token == token, INVITES.status == InviteStatus.PENDING.value)
            .values(status=status.value, decided_by=by, decided_at=at)
        )
        return bool(result.rowcount)
