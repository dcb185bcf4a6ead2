"""Guided forms in flight, one per person and channel (see bot/services/forms.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.services.forms import StoredForm
from storage import tables
from storage.tables import FORMS


def _form(row: sa.Row[Any]) -> StoredForm:
    state = row.state if isinstance(row.state, dict) else {}
    return StoredForm(row.channel, row.user_id, dict(state), row.expires_at, int(row.version))


class SqlFormRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    async def get(self, channel: str, user_id: str) -> StoredForm | None:
        row = (
            await self.conn.execute(
                sa.select(tables.forms).where(FORMS.channel == channel, FORMS.user_id == user_id)
            )
        ).first()
        return _form(row) if row is not None else None

    async def put(self, form: StoredForm) -> bool:
        if form.version == 0:
            # A new form replaces any older one of the same person (only one at a time).
            await self.conn.execute(
                sa.delete(tables.forms).where(
                    FORMS.channel == form.channel, FORMS.user_id == form.user_id
                )
            )
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(
                        sa.insert(tables.forms).values(
                            channel=form.channel,
                            user_id=form.user_id,
                            state=form.state,
                            expires_at=form.expires_at,
                            version=1,
                        )
                    )
            except IntegrityError:
                return False
            return True
        result = await self.conn.execute(
            sa.update(tables.forms)
            .where(
                FORMS.channel == form.channel,
                FORMS.user_id == form.user_id,
                FORMS.version == form.version,
            )
            .values(state=form.state, expires_at=form.expires_at, version=form.version + 1)
        )
        return bool(result.rowcount)

    async def delete(self, channel: str, user_id: str) -> None:
        await self.conn.execute(
            sa.delete(tables.forms).where(FORMS.channel == channel, FORMS.user_id == user_id)
        )

    async def take(self, channel: str, user_id: str, version: int) -> bool:
        result = await self.conn.execute(
            sa.delete(tables.forms).where(
                FORMS.channel == channel, FORMS.user_id == user_id, FORMS.version == version
            )
        )
        return bool(result.rowcount)

    async def take_expired(self, now: datetime, limit: int = 100) -> list[StoredForm]:
        rows = (
            await self.conn.execute(
                sa.select(tables.forms).where(FORMS.expires_at <= now).limit(limit)
            )
        ).all()
        gone: list[StoredForm] = []
        for row in rows:
            result = await self.conn.execute(
                sa.delete(tables.forms).where(
                    FORMS.channel == row.channel,
                    FORMS.user_id == row.user_id,
                    FORMS.version == row.version,
                )
            )
            if result.rowcount:
                gone.append(_form(row))
        return gone
