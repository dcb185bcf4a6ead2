"""The relay's view of the outbox: per-chat queues, leases, send progress, results.

Several instances may share one PostgreSQL database. A chat's queue is delivered by one
instance at a time: the instance takes a *lease* on the chat's row in `outbox_chats`,
claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` so two instances never take the same
chat, and renews it while it works. The chat, not the single message, is the unit
claimed, because messages to one chat must arrive in the order they were written.
A lease that is not renewed (the instance died) runs out and another instance goes on.

SQLite has no row locks; there every transaction starts with ``BEGIN IMMEDIATE``
(storage.engine), which serialises the claims just as well for one instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import tables
from storage.engine import insert_ignoring_duplicates
from storage.notice_plans import notice_plan
from storage.outbox_model import (
    ChatClaim,
    ChatKey,
    DeliveryState,
    NoticePlan,
    OutboxRow,
    OutboxStats,
    outbox_row,
    pending_values,
)
from storage.tables import (
    CASES,
    CHAT_MESSAGES,
    OUTBOX,
    OUTBOX_CHATS,
    RELAY_INSTANCES,
    TEAM_CHATS,
)

__all__ = ["ChatClaim", "ChatKey", "DeliveryState", "OutboxRow", "OutboxStats", "OutboxStore"]

#: `not_before` of a chat that may be tried at once.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: Longest error text kept in the table.
MAX_ERROR = 500
#: Instances silent this long are dropped from `relay_instances`.
FORGET_INSTANCES = timedelta(days=1)


def _short(error: str) -> str:
    return error[:MAX_ERROR]


def _pending_in(chat: sa.Table) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        OUTBOX.channel == chat.c.channel,
        OUTBOX.chat_id == chat.c.chat_id,
        OUTBOX.status == DeliveryState.PENDING.value,
    )


async def remember_posted(
    conn: AsyncConnection, row: Any, message_ids: Sequence[str], card: str | None, at: datetime
) -> None:
    """Keep the ids an outbox `row` was posted under, with its case, so a reply or a button
    press on any of them acts on the case; the last one carries `card`, the card's key
    (None: it shows no card to edit later)."""
    if row.case_id is None and row.card_key is None:
        return  # a message about no case: nobody will reply to it by reference
    for i, mid in enumerate(message_ids):
        await conn.execute(
            insert_ignoring_duplicates(conn, tables.chat_messages)
            .values(
                channel=row.channel,
                chat_id=row.chat_id,
                message_id=mid,
                case_id=row.case_id,
                card_key=card if i == len(message_ids) - 1 else None,
                created_at=at,
            )
            .on_conflict_do_nothing()
        )


async def _release(
    conn: AsyncConnection, owner: str, key: ChatKey, not_before: datetime | None
) -> None:
    """End `owner`'s lease on the chat (no-op when another holds it); `not_before` holds
    the chat back."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    if not_before is not None:
        values["not_before"] = not_before
    await conn.execute(
        sa.update(tables.outbox_chats)
        .where(OUTBOX_CHATS.channel == key.channel, OUTBOX_CHATS.chat_id == key.chat_id)
        .where(OUTBOX_CHATS.lease_owner == owner)
        .values(**values)
    )


async def _queues(
    conn: AsyncConnection, keys: Sequence[ChatKey], limit: int
) -> dict[ChatKey, list[OutboxRow]]:
    """The first `limit` pending messages of each chat in `keys`, in the order they were
    written, each with what the relay needs to know about its card: a later edit
    waiting (it need not go), the card's message in the chat (to edit, not post)."""
    first: sa.Select[tuple[int]]
    if len(keys) == 1:
        (key,) = keys
        first = (
            sa.select(OUTBOX.id)
            .where(OUTBOX.channel == key.channel, OUTBOX.chat_id == key.chat_id)
            .where(OUTBOX.status == DeliveryState.PENDING.value)
            .order_by(OUTBOX.id)
            .limit(limit)
        )
    else:  # each chat's first `limit`, numbered before the card's subqueries below
        numbered = (
            sa.select(
                OUTBOX.id,
                sa.func.row_number()
                .over(partition_by=(OUTBOX.channel, OUTBOX.chat_id), order_by=OUTBOX.id)
                .label("place"),
            )
            .where(
                sa.tuple_(OUTBOX.channel, OUTBOX.chat_id).in_(
                    [(k.channel, k.chat_id) for k in keys]
                ),
                OUTBOX.status == DeliveryState.PENDING.value,
            )
            .subquery()
        )
        first = sa.select(numbered.c.id).where(numbered.c.place <= limit)
    later = tables.outbox.alias("later")
    superseded = sa.exists().where(
        later.c.card_key == OUTBOX.card_key,
        later.c.channel == OUTBOX.channel,
        later.c.chat_id == OUTBOX.chat_id,
        later.c.status == DeliveryState.PENDING.value,
        later.c.id > OUTBOX.id,
    )
    card_message = (
        sa.select(CHAT_MESSAGES.message_id)
        .where(CHAT_MESSAGES.card_key == OUTBOX.card_key, CHAT_MESSAGES.channel == OUTBOX.channel)
        .where(CHAT_MESSAGES.chat_id == OUTBOX.chat_id)
        .order_by(CHAT_MESSAGES.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await conn.execute(
        sa.select(
            tables.outbox,
            CASES.ref.label("case_ref"),
            sa.case((OUTBOX.card_key.is_(None), sa.false()), else_=superseded).label("superseded"),
            sa.case((OUTBOX.card_key.is_(None), sa.null()), else_=card_message).label(
                "card_message"
            ),
        )
        .select_from(tables.outbox.outerjoin(tables.cases, CASES.id == OUTBOX.case_id))
        .where(OUTBOX.id.in_(first))
        .order_by(OUTBOX.id)
    )
    queues: dict[ChatKey, list[OutboxRow]] = {}
    for r in rows:
        row = outbox_row(r)
        queues.setdefault(row.key, []).append(row)
    return queues


class OutboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ claiming

    async def claim_chats(
        self, owner: str, at: datetime, until: datetime, limit: int, *, read: int = 0
    ) -> list[ChatClaim]:
        """Lease up to `limit` chats with pending messages that nobody else holds, each
        with the first `read` messages of its queue (see `queue`), read in the same
        transaction: a visit then starts without a transaction of its own to read them.

        Chats seen for the first time get their row first. Oldest waiting message first,
        so a busy chat cannot starve the others.
        """
        async with self.engine.begin() as conn:
            new_chats = (
                sa.select(OUTBOX.channel, OUTBOX.chat_id, sa.literal(EPOCH, tables.UTCDateTime))
                .where(
                    OUTBOX.status == DeliveryState.PENDING.value,
                    ~sa.exists().where(
                        OUTBOX_CHATS.channel == OUTBOX.channel,
                        OUTBOX_CHATS.chat_id == OUTBOX.chat_id,
                    ),
                )
                .distinct()
            )
            insert = insert_ignoring_duplicates(conn, tables.outbox_chats).from_select(
                ["channel", "chat_id", "not_before"], new_chats
            )
            await conn.execute(insert.on_conflict_do_nothing())

            oldest = (
                sa.select(sa.func.min(OUTBOX.id))
                .where(
                    OUTBOX.channel == OUTBOX_CHATS.channel,
                    OUTBOX.chat_id == OUTBOX_CHATS.chat_id,
                    OUTBOX.status == DeliveryState.PENDING.value,
                )
                .scalar_subquery()
            )
            bound_to_team = sa.exists().where(
                TEAM_CHATS.channel == OUTBOX_CHATS.channel,
                TEAM_CHATS.chat_id == OUTBOX_CHATS.chat_id,
            )
            rows = (
                await conn.execute(
                    sa.select(
                        OUTBOX_CHATS.channel,
                        OUTBOX_CHATS.chat_id,
                        OUTBOX_CHATS.pacing,
                        # Telegram's group ids are negative; other channels' groups are
                        # known as the chats bound to a team.
                        sa.or_(OUTBOX_CHATS.chat_id.startswith("-"), bound_to_team).label(
                            "is_group"
                        ),
                    )
                    .where(
                        sa.or_(OUTBOX_CHATS.lease_until.is_(None), OUTBOX_CHATS.lease_until < at),
                        OUTBOX_CHATS.not_before <= at,
                        _pending_in(tables.outbox_chats),
                    )
                    .order_by(oldest)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=tables.outbox_chats)
                )
            ).all()
            if not rows:
                return []
            keys = [ChatKey(r.channel, r.chat_id) for r in rows]
            await conn.execute(
                sa.update(tables.outbox_chats)
                .where(
                    sa.tuple_(OUTBOX_CHATS.channel, OUTBOX_CHATS.chat_id).in_(
                        [(k.channel, k.chat_id) for k in keys]
                    )
                )
                .values(lease_owner=owner, lease_until=until)
            )
            queues = await _queues(conn, keys, read) if read > 0 else {}
        return [
            ChatClaim(
                key,
                bool(r.is_group),
                tuple(float(x) for x in (r.pacing or [])),
                tuple(queues.get(key, ())),
            )
            for key, r in zip(keys, rows, strict=True)
        ]

    async def renew_leases(
        self, owner: str, keys: Sequence[ChatKey], until: datetime
    ) -> set[ChatKey]:
        """Extend our leases; the chats still ours (a lease that ran out may be taken)."""
        if not keys:
            return set()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(tables.outbox_chats)
                .where(
                    OUTBOX_CHATS.lease_owner == owner,
                    sa.tuple_(OUTBOX_CHATS.channel, OUTBOX_CHATS.chat_id).in_(
                        [(k.channel, k.chat_id) for k in keys]
                    ),
                )
                .values(lease_until=until)
                .returning(OUTBOX_CHATS.channel, OUTBOX_CHATS.chat_id)
            )
            return {ChatKey(r.channel, r.chat_id) for r in result}

    async def release_chat(self, owner: str, key: ChatKey, not_before: datetime | None) -> None:
        """Give the chat back; `not_before` holds it back after a 429 or an error."""
        async with self.engine.begin() as conn:
            await _release(conn, owner, key, not_before)

    async def release_all(self, owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox_chats)
                .where(OUTBOX_CHATS.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def next_due(self, at: datetime) -> datetime | None:
        """When the earliest chat held back by a retry may be tried again."""
        async with self.engine.connect() as conn:
            found = (
                await conn.execute(
                    sa.select(sa.func.min(OUTBOX_CHATS.not_before)).where(
                        OUTBOX_CHATS.not_before > at,
                        OUTBOX_CHATS.lease_owner.is_(None),
                        _pending_in(tables.outbox_chats),
                    )
                )
            ).scalar()
        return found if isinstance(found, datetime) else None

    # ------------------------------------------------------------------ a chat's queue

    async def queue(self, key: ChatKey, limit: int = 100) -> list[OutboxRow]:
        """The chat's pending messages in the order they were written, each with what the
        relay needs to know about its card: a later edit waiting, the message to edit."""
        async with self.engine.connect() as conn:
            return (await _queues(conn, [key], limit)).get(key, [])

    async def due(self, limit: int = 100) -> list[OutboxRow]:
        """Pending rows of every chat in insertion order (for tools and tests)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(tables.outbox, CASES.ref.label("case_ref"))
                .select_from(tables.outbox.outerjoin(tables.cases, CASES.id == OUTBOX.case_id))
                .where(OUTBOX.status == DeliveryState.PENDING.value)
                .order_by(OUTBOX.id)
                .limit(limit)
            )
            return [outbox_row(r) for r in rows]

    async def newer_card_pending(self, row: OutboxRow) -> bool:
        """A later edit of the same card is waiting: this one need not be sent."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                sa.select(OUTBOX.id)
                .where(
                    OUTBOX.card_key == row.card_key,
                    OUTBOX.channel == row.channel,
                    OUTBOX.chat_id == row.chat_id,
                    OUTBOX.status == DeliveryState.PENDING.value,
                    OUTBOX.id > row.id,
                )
                .limit(1)
            )
            return found.first() is not None

    async def card_message(self, card_key: str, channel: str, chat_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(CHAT_MESSAGES.message_id)
                    .where(
                        CHAT_MESSAGES.card_key == card_key,
                        CHAT_MESSAGES.channel == channel,
                        CHAT_MESSAGES.chat_id == chat_id,
                    )
                    .order_by(CHAT_MESSAGES.created_at.desc())
                    .limit(1)
                )
            ).scalar()

    # ------------------------------------------------------------------ results

    async def begin_send(self, row: OutboxRow, at: datetime) -> None:
        """Written before the call: if we die before its answer is recorded, the next
        sender knows this message may already be out."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox).where(OUTBOX.id == row.id).values(sending_at=at)
            )

    async def note_uncertain(self, row: OutboxRow) -> None:
        """A send was interrupted before its answer was recorded; it is sent again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox)
                .where(OUTBOX.id == row.id)
                .values(uncertain=OUTBOX.uncertain + 1, sending_at=None)
            )

    async def part_sent(
        self,
        row: OutboxRow,
        part: int,
        message_ids: Sequence[str],
        at: datetime,
        *,
        last: bool,
        new_card: bool,
        pacing: Sequence[float],
        release: str | None = None,
    ) -> None:
        """Record one delivered part (a whole message when it has one part) at once,
        with the platform's message ids, so a crash right after never repeats it.

        `release`: the owner whose lease on the chat ends with this record, when it is
        the last of the visit (as `release_chat`, in the same transaction)."""
        values: dict[str, Any] = {"parts_sent": part + 1, "sending_at": None}
        if message_ids:
            values["message_id"] = message_ids[-1]
        if last:
            values.update(status=DeliveryState.SENT.value, sent_at=at, attempts=row.attempts + 1)
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(tables.outbox).where(OUTBOX.id == row.id).values(**values))
            await conn.execute(
                sa.update(tables.outbox_chats)
                .where(
                    OUTBOX_CHATS.channel == row.channel,
                    OUTBOX_CHATS.chat_id == row.chat_id,
                )
                .values(pacing=list(pacing), failed_at=None, last_error=None)
            )
            card = row.card_key if last and new_card else None
            await remember_posted(conn, row, message_ids, card, at)
            if release is not None:
                await _release(conn, release, row.key, None)

    async def mark_sent(
        self, row: OutboxRow, message_ids: Sequence[str], at: datetime, *, new_card: bool
    ) -> None:
        """The whole message went out in one call."""
        await self.part_sent(
            row, row.parts_sent, message_ids, at, last=True, new_card=new_card, pacing=()
        )

    async def mark(self, row: OutboxRow, state: DeliveryState, error: str | None = None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox)
                .where(OUTBOX.id == row.id)
                .values(
                    status=state.value,
                    error=_short(error) if error else None,
                    attempts=row.attempts + 1,
                    sending_at=None,
                )
            )

    async def supersede(self, rows: Sequence[OutboxRow]) -> None:
        """Card edits overtaken by a later edit of the same card: never sent."""
        if not rows:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox)
                .where(OUTBOX.id.in_([r.id for r in rows]))
                .values(status=DeliveryState.SUPERSEDED.value, sending_at=None)
            )

    async def retry(
        self, row: OutboxRow, not_before: datetime, error: str, *, counted: bool = True
    ) -> None:
        """The send failed for now; the chat waits until `not_before` (see release_chat).
        Not `counted` when the message was not at fault (the channel's token refused)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox)
                .where(OUTBOX.id == row.id)
                .values(
                    not_before=not_before,
                    error=_short(error),
                    attempts=row.attempts + (1 if counted else 0),
                    sending_at=None,
                )
            )

    async def resume_channel(self, channel: str) -> None:
        """The channel works again: its chats held back while it was paused go at once."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox_chats)
                .where(OUTBOX_CHATS.channel == channel)
                .values(not_before=EPOCH)
            )

    async def chat_failed(self, key: ChatKey, at: datetime, error: str) -> None:
        """The chat refuses our messages (blocked, gone): shown in /metrics."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.outbox_chats)
                .where(OUTBOX_CHATS.channel == key.channel)
                .where(OUTBOX_CHATS.chat_id == key.chat_id)
                .values(failed_at=at, last_error=_short(error))
            )

    # ------------------------------------------------------------------ instances

    async def heartbeat(
        self, owner: str, at: datetime, started: datetime, alive_after: datetime
    ) -> int:
        """Say this instance is alive; the number of live instances (ourselves included)."""
        async with self.engine.begin() as conn:
            updated = await conn.execute(
                sa.update(tables.relay_instances)
                .where(RELAY_INSTANCES.name == owner)
                .values(heartbeat_at=at)
            )
            if not updated.rowcount:
                await conn.execute(
                    insert_ignoring_duplicates(conn, tables.relay_instances)
                    .values(name=owner, started_at=started, heartbeat_at=at)
                    .on_conflict_do_nothing()
                )
            await conn.execute(
                sa.delete(tables.relay_instances).where(
                    RELAY_INSTANCES.heartbeat_at < at - FORGET_INSTANCES
                )
            )
            live = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(tables.relay_instances)
                    .where(RELAY_INSTANCES.heartbeat_at >= alive_after)
                )
            ).scalar_one()
        return max(1, int(live))

    async def leave(self, owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(tables.relay_instances).where(RELAY_INSTANCES.name == owner)
            )

    # ------------------------------------------------------------------ notices

    async def notice_plan(self, case_id: int, key: ChatKey) -> NoticePlan | None:
        """Where to say that `key` refuses the case's messages (storage.notice_plans)."""
        async with self.engine.connect() as conn:
            return await notice_plan(conn, case_id, key)

    async def add_once(
        self, channel: str, chat_id: str, payload: dict[str, Any], dedupe_key: str, at: datetime
    ) -> bool:
        """Queue a message unless one with this dedupe key exists; True when queued."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert_ignoring_duplicates(conn, tables.outbox)
                .values(pending_values(channel, chat_id, payload, at, dedupe_key=dedupe_key))
                .on_conflict_do_nothing()
            )
            return bool(result.rowcount)

    # ------------------------------------------------------------------ figures

    async def pending_count(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.select(sa.func.count())
                        .select_from(tables.outbox)
                        .where(OUTBOX.status == DeliveryState.PENDING.value)
                    )
                ).scalar_one()
            )

    async def stats(self) -> OutboxStats:
        async with self.engine.connect() as conn:
            pending, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(OUTBOX.created_at)).where(
                        OUTBOX.status == DeliveryState.PENDING.value
                    )
                )
            ).one()
            failed = (
                await conn.execute(
                    sa.select(sa.func.count()).where(OUTBOX.status == DeliveryState.FAILED.value)
                )
            ).scalar_one()
            refusing = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(tables.outbox_chats)
                    .where(OUTBOX_CHATS.failed_at.is_not(None))
                )
            ).scalar_one()
        if isinstance(oldest, str):  # SQLite hands back min() of a DateTime as text
            oldest = datetime.fromisoformat(oldest)
        if isinstance(oldest, datetime) and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return OutboxStats(int(pending), oldest, int(failed), int(refusing))
