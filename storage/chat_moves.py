"""A chat that lives on under a new id: its team binding and its queue follow it.

Telegram gives a group upgraded to a supergroup a new id, and the old id refuses
everything from then on. `move` rebinds the team, moves the messages still waiting, and
records the move once; it may be called again (the 400 and both service messages all
say so) and then changes nothing more. The card messages recorded under the old id are
left where they are: in the supergroup the group's old messages carry new ids the bot is
never told, so an edit of an old card cannot succeed there; the next update of such a
card is posted as a new card instead (the relay finds no card message under the new id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables
from storage.engine import insert_ignoring_duplicates
from storage.outbox_model import DeliveryState
from storage.tables import CHAT_MOVES, OUTBOX, TEAM_CHATS


@dataclass(frozen=True)
class ChatMove:
    channel: str
    old_chat_id: str
    new_chat_id: str
    team_code: str | None
    moved_at: datetime


@dataclass(frozen=True)
class MoveResult:
    #: True for the call that recorded the move (the one that logs it).
    first: bool
    #: The team whose binding moved (None: the chat showed no team, or moved already).
    team_code: str | None
    #: Messages that were waiting for the old id and now wait for the new one.
    messages: int


class ChatMoveStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def move(self, channel: str, old: str, new: str, at: datetime) -> MoveResult:
        """Rebind the team, move the waiting messages, record the move: all or nothing."""
        async with self.engine.begin() as conn:
            team = (
                await conn.execute(
                    sa.select(TEAM_CHATS.team_code).where(
                        TEAM_CHATS.channel == channel, TEAM_CHATS.chat_id == old
                    )
                )
            ).scalar()
            if team is not None:
                taken = (
                    await conn.execute(
                        sa.select(TEAM_CHATS.team_code).where(
                            TEAM_CHATS.channel == channel, TEAM_CHATS.chat_id == new
                        )
                    )
                ).scalar()
                where = (TEAM_CHATS.channel == channel, TEAM_CHATS.chat_id == old)
                if taken is None:
                    await conn.execute(
                        sa.update(tables.team_chats).where(*where).values(chat_id=new)
                    )
                else:  # an admin bound the supergroup already: the dead id just goes
                    await conn.execute(sa.delete(tables.team_chats).where(*where))
            moved = await conn.execute(
                sa.update(tables.outbox)
                .where(
                    OUTBOX.channel == channel,
                    OUTBOX.chat_id == old,
                    OUTBOX.status == DeliveryState.PENDING.value,
                )
                # A send that was under way to the old id was refused there: not uncertain.
                .values(chat_id=new, sending_at=None, not_before=at)
            )
            recorded = await conn.execute(
                insert_ignoring_duplicates(conn, tables.chat_moves)
                .values(
                    channel=channel,
                    old_chat_id=old,
                    new_chat_id=new,
                    team_code=team,
                    moved_at=at,
                )
                .on_conflict_do_nothing()
            )
        return MoveResult(bool(recorded.rowcount), team, int(moved.rowcount or 0))

    async def all(self) -> list[ChatMove]:
        """Every move, oldest first (for `team list` and `doctor`)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(tables.chat_moves).order_by(CHAT_MOVES.moved_at, CHAT_MOVES.old_chat_id)
            )
            return [
                ChatMove(r.channel, r.old_chat_id, r.new_chat_id, r.team_code, r.moved_at)
                for r in rows
            ]
