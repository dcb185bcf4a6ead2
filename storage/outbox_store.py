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

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import tables
from storage.engine import insert_ignoring_duplicates
from storage.group_commit import GroupCommit
from storage.notice_plans import notice_plan
from storage.outbox_handoff import Taker, offer, withdraw
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
from storage.relay_sql import (
    CHAT_SET,
    CHAT_SET_OWNED,
    CLAIMABLE,
    EPOCH,
    LEASE,
    NOTE_UNCERTAIN,
    OUTBOX_SET,
    OUTBOX_SET_MANY,
    RENEW,
    claims_of,
    key_params,
    new_chats,
    pending_in,
    queues,
    remember_posted,
)
from storage.tables import CASES, CHAT_MESSAGES, OUTBOX, OUTBOX_CHATS, RELAY_INSTANCES

__all__ = [
    "EPOCH",
    "ChatClaim",
    "ChatKey",
    "DeliveryState",
    "OutboxRow",
    "OutboxStats",
    "OutboxStore",
    "remember_posted",
]

#: Longest error text kept in the table.
MAX_ERROR = 500
#: Instances silent this long are dropped from `relay_instances`.
FORGET_INSTANCES = timedelta(days=1)


def _short(error: str) -> str:
    return error[:MAX_ERROR]


async def _release(
    conn: AsyncConnection, owner: str, key: ChatKey, not_before: datetime | None
) -> None:
    """End `owner`'s lease on the chat (no-op when another holds it); `not_before` holds
    the chat back."""
    params: dict[str, Any] = {
        "b_channel": key.channel,
        "b_chat_id": key.chat_id,
        "b_owner": owner,
        "lease_owner": None,
        "lease_until": None,
    }
    if not_before is not None:
        params["not_before"] = not_before
    await conn.execute(CHAT_SET_OWNED, params)


class OutboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        #: A send's start and its result, written together with other chats' (group commit).
        self.writes = GroupCommit(engine)

    # ------------------------------------------------------------------ claiming

    def hand_chats_to(self, taker: Taker, taking: bool = True) -> None:
        """While `taking`, this engine's commits lease their chats to `taker` in the
        transaction that wrote to them (storage/outbox_handoff.py)."""
        if taking:
            offer(self.engine, taker)
        else:
            withdraw(self.engine, taker)

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
            await conn.execute(new_chats(conn))
            rows = (await conn.execute(CLAIMABLE, {"b_at": at, "b_limit": limit})).all()
            if not rows:
                return []
            keys = [ChatKey(r.channel, r.chat_id) for r in rows]
            await conn.execute(
                LEASE, {"b_keys": key_params(keys), "lease_owner": owner, "lease_until": until}
            )
            found = await queues(conn, keys, read) if read > 0 else {}
        return claims_of(rows, found)

    async def renew_leases(
        self, owner: str, keys: Sequence[ChatKey], until: datetime
    ) -> set[ChatKey]:
        """Extend our leases; the chats still ours (a lease that ran out may be taken)."""
        if not keys:
            return set()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                RENEW, {"b_owner": owner, "b_keys": key_params(keys), "lease_until": until}
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
                        pending_in(tables.outbox_chats),
                    )
                )
            ).scalar()
        return found if isinstance(found, datetime) else None

    # ------------------------------------------------------------------ a chat's queue

    async def queue(self, key: ChatKey, limit: int = 100) -> list[OutboxRow]:
        """The chat's pending messages in the order they were written, each with what the
        relay needs to know about its card: a later edit waiting, the message to edit."""
        async with self.engine.connect() as conn:
            return (await queues(conn, [key], limit)).get(key, [])

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
        sender knows this message may already be out. Committed when this returns, maybe
        with other chats' writes (storage.group_commit)."""

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(OUTBOX_SET, {"b_id": row.id, "sending_at": at})

        await self.writes.write(work, (row.channel, row.chat_id))

    async def note_uncertain(self, row: OutboxRow) -> None:
        """A send was interrupted before its answer was recorded; it is sent again."""
        async with self.engine.begin() as conn:
            await conn.execute(NOTE_UNCERTAIN, {"b_id": row.id})

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
        gives_back: Callable[[], bool] | None = None,
        start: OutboxRow | None = None,
    ) -> None:
        """Record one delivered part (a whole message when it has one part) at once,
        with the platform's message ids, so a crash right after never repeats it.

        `release`: the owner whose lease on the chat ends with this record, when it is
        the last of the visit (as `release_chat`, in the same transaction), if
        `gives_back()`, asked in the transaction, says so. `start`: the chat's next send
        (this row's next part, or its next message), whose start (`begin_send`) goes in
        the same transaction: a busy chat then costs one transaction per message, not two.
        Committed when this returns, maybe with other chats' writes (storage.group_commit)."""
        values: dict[str, Any] = {"b_id": row.id, "parts_sent": part + 1, "sending_at": None}
        if message_ids:
            values["message_id"] = message_ids[-1]
        if last:
            values.update(status=DeliveryState.SENT.value, sent_at=at, attempts=row.attempts + 1)

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(OUTBOX_SET, values)
            await conn.execute(
                CHAT_SET,
                {
                    "b_channel": row.channel,
                    "b_chat_id": row.chat_id,
                    "pacing": list(pacing),
                    "failed_at": None,
                    "last_error": None,
                },
            )
            card = row.card_key if last and new_card else None
            await remember_posted(conn, row, message_ids, card, at)
            if release is not None and (gives_back is None or gives_back()):
                await _release(conn, release, row.key, None)
            if start is not None:
                await conn.execute(OUTBOX_SET, {"b_id": start.id, "sending_at": at})

        await self.writes.write(work, (row.channel, row.chat_id))

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
                OUTBOX_SET,
                {
                    "b_id": row.id,
                    "status": state.value,
                    "error": _short(error) if error else None,
                    "attempts": row.attempts + 1,
                    "sending_at": None,
                },
            )

    async def supersede(self, rows: Sequence[OutboxRow]) -> None:
        """Card edits overtaken by a later edit of the same card: never sent."""
        if not rows:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                OUTBOX_SET_MANY,
                {
                    "b_ids": [r.id for r in rows],
                    "status": DeliveryState.SUPERSEDED.value,
                    "sending_at": None,
                },
            )

    async def retry(
        self, row: OutboxRow, not_before: datetime, error: str, *, counted: bool = True
    ) -> None:
        """The send failed for now; the chat waits until `not_before` (see release_chat).
        Not `counted` when the message was not at fault (the channel's token refused)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                OUTBOX_SET,
                {
                    "b_id": row.id,
                    "not_before": not_before,
                    "error": _short(error),
                    "attempts": row.attempts + (1 if counted else 0),
                    "sending_at": None,
                },
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
                CHAT_SET,
                {
                    "b_channel": key.channel,
                    "b_chat_id": key.chat_id,
                    "failed_at": at,
                    "last_error": _short(error),
                },
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
