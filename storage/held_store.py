"""Private messages kept for a person the bot cannot reach yet (bot.held).

A held row is out of its chat's queue (the relay reads only pending rows) until the person
writes to the bot, when every held row of their chat is pending again, in its old order;
or until it is older than the expiry, when it fails. Its `error` keeps why it is held
(`held_error`), so the doctor can say what the person has to do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables
from storage.outbox_model import ChatKey, DeliveryState, NoticeTarget, OutboxRow
from storage.outbox_store import EPOCH, OutboxStore
from storage.tables import CASES, IDENTITIES, MEMBERS, OUTBOX, OUTBOX_CHATS, TEAM_CHATS, TEAMS

#: Separates the reason from the platform's words in a held row's `error`.
_SEP = " | "


def held_error(reason: str, description: str) -> str:
    """A held row's `error`: why it is held (a `bot.channels.reach.Unreach` value), then
    the platform's own words."""
    return f"{reason}{_SEP}{description}"[:500]


def held_reason(error: str | None) -> str:
    return (error or "").split(_SEP, 1)[0]


@dataclass(frozen=True)
class HeldPlan:
    """Who is to hear that a person's messages wait, and how the team knows him."""

    name: str
    team_code: str | None
    targets: tuple[NoticeTarget, ...]


@dataclass(frozen=True)
class HeldPerson:
    """A person with messages waiting for them (for `dispatchbot doctor`)."""

    key: ChatKey
    name: str
    team_code: str | None
    reason: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class ExpiredHeld:
    """A person's held messages given up after the expiry, with the cases they were about."""

    key: ChatKey
    reason: str
    count: int
    refs: tuple[str, ...]
    last_id: int


class HeldStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def hold(self, row: OutboxRow, error: str, at: datetime) -> int:
        """Keep `row` for later; the id of the chat's oldest held row, which names this
        spell of waiting (the team is told once per spell)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox)
                .where(OUTBOX.id == row.id)
                .values(
                    status=DeliveryState.HELD.value,
                    error=error,
                    attempts=row.attempts + 1,
                    sending_at=None,
                )
            )
            await conn.execute(
                sa.update(tables.outbox_chats)
                .where(OUTBOX_CHATS.channel == row.channel, OUTBOX_CHATS.chat_id == row.chat_id)
                .values(failed_at=at, last_error=error)
            )
            first = (
                await conn.execute(sa.select(sa.func.min(OUTBOX.id)).where(*_held_in(row.key)))
            ).scalar()
        return int(first if first is not None else row.id)

    async def release(self, key: ChatKey, at: datetime) -> int:
        """The person wrote to the bot: their held messages go out now, in order."""
        async with self.engine.connect() as conn:  # a read first: most people have none
            found = await conn.execute(
                _ANY_HELD, {"b_channel": key.channel, "b_chat_id": key.chat_id}
            )
            if found.first() is None:
                return 0
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(tables.outbox)
                .where(*_held_in(key))
                .values(status=DeliveryState.PENDING.value, not_before=at, error=None)
            )
            released = int(result.rowcount or 0)
            if released:
                await conn.execute(
                    sa.update(tables.outbox_chats)
                    .where(OUTBOX_CHATS.channel == key.channel, OUTBOX_CHATS.chat_id == key.chat_id)
                    .values(not_before=EPOCH, failed_at=None, last_error=None)
                )
        return released

    async def expire(self, written_before: datetime) -> list[ExpiredHeld]:
        """Fail the held messages written before `written_before`, per person."""
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(OUTBOX.id, OUTBOX.channel, OUTBOX.chat_id, OUTBOX.error, CASES.ref)
                    .select_from(tables.outbox.outerjoin(tables.cases, CASES.id == OUTBOX.case_id))
                    .where(
                        OUTBOX.status == DeliveryState.HELD.value,
                        OUTBOX.created_at < written_before,
                    )
                    .order_by(OUTBOX.id)
                )
            ).all()
            if not rows:
                return []
            await conn.execute(
                sa.update(tables.outbox)
                .where(
                    OUTBOX.id.in_([r.id for r in rows]),
                    OUTBOX.status == DeliveryState.HELD.value,
                )
                .values(status=DeliveryState.FAILED.value)
            )
        by_chat: dict[ChatKey, list[Any]] = defaultdict(list)
        for r in rows:
            by_chat[ChatKey(r.channel, r.chat_id)].append(r)
        return [
            ExpiredHeld(
                key,
                held_reason(chat_rows[0].error),
                len(chat_rows),
                tuple(dict.fromkeys(r.ref for r in chat_rows if r.ref)),
                max(r.id for r in chat_rows),
            )
            for key, chat_rows in by_chat.items()
        ]

    async def plan(self, key: ChatKey, case_id: int | None) -> HeldPlan | None:
        """Where to tell that `key`'s messages wait: the groups of the person's team, else
        of the case's team. None when nobody can be told (no team, no case)."""
        async with self.engine.connect() as conn:
            person = (
                await conn.execute(
                    sa.select(MEMBERS.name, MEMBERS.team_code)
                    .select_from(
                        tables.identities.join(tables.members, MEMBERS.uid == IDENTITIES.member_uid)
                    )
                    .where(IDENTITIES.channel == key.channel, IDENTITIES.external_id == key.chat_id)
                )
            ).first()
            team = person.team_code if person is not None else None
            targets: tuple[NoticeTarget, ...] = ()
            if team is not None:
                chats = await conn.execute(
                    sa.select(TEAM_CHATS.channel, TEAM_CHATS.chat_id, TEAMS.lang)
                    .select_from(
                        tables.team_chats.join(tables.teams, TEAMS.code == TEAM_CHATS.team_code)
                    )
                    .where(TEAM_CHATS.team_code == team)
                    .order_by(TEAM_CHATS.channel, TEAM_CHATS.chat_id)
                )
                targets = tuple(NoticeTarget(c.channel, c.chat_id, c.lang) for c in chats)
        if not targets and case_id is not None:
            by_case = await OutboxStore(self.engine).notice_plan(case_id, key)
            if by_case is not None:
                return HeldPlan(by_case.recipient, by_case.team_code, by_case.targets)
        if person is None or not targets:
            return None
        return HeldPlan(str(person.name), team, targets)

    async def people(self) -> list[HeldPerson]:
        """Everyone with held messages, oldest first."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        OUTBOX.channel,
                        OUTBOX.chat_id,
                        sa.func.count().label("held"),
                        sa.func.min(OUTBOX.created_at).label("oldest"),
                        sa.func.max(OUTBOX.error).label("error"),
                        sa.func.max(MEMBERS.name).label("name"),
                        sa.func.max(MEMBERS.team_code).label("team_code"),
                    )
                    .select_from(
                        tables.outbox.outerjoin(
                            tables.identities,
                            sa.and_(
                                IDENTITIES.channel == OUTBOX.channel,
                                IDENTITIES.external_id == OUTBOX.chat_id,
                            ),
                        ).outerjoin(tables.members, MEMBERS.uid == IDENTITIES.member_uid)
                    )
                    .where(OUTBOX.status == DeliveryState.HELD.value)
                    .group_by(OUTBOX.channel, OUTBOX.chat_id)
                    .order_by(sa.func.min(OUTBOX.id))
                )
            ).all()
        return [
            HeldPerson(
                ChatKey(r.channel, r.chat_id),
                str(r.name or r.chat_id),
                r.team_code,
                held_reason(r.error),
                int(r.held),
                _aware(r.oldest),
            )
            for r in rows
        ]


def _held_in(key: ChatKey) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        OUTBOX.channel == key.channel,
        OUTBOX.chat_id == key.chat_id,
        OUTBOX.status == DeliveryState.HELD.value,
    )


#: Whether a chat has held messages: asked at every private update (bot.held), so built
#: once (storage.relay_sql).
_ANY_HELD = (
    sa.select(OUTBOX.id)
    .where(
        OUTBOX.channel == sa.bindparam("b_channel"),
        OUTBOX.chat_id == sa.bindparam("b_chat_id"),
        OUTBOX.status == DeliveryState.HELD.value,
    )
    .limit(1)
)


def _aware(value: object) -> datetime:
    """SQLite hands back min() of a date-time as text, without its zone."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
