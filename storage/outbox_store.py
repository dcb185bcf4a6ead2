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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import tables as t

#: `not_before` of a chat that may be tried at once.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: Longest error text kept in the table.
MAX_ERROR = 500
#: Instances silent this long are dropped from `relay_instances`.
FORGET_INSTANCES = timedelta(days=1)


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, order=True)
class ChatKey:
    channel: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id}"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    card_key: str | None
    case_id: int | None
    attempts: int
    not_before: datetime
    created_at: datetime
    case_ref: str | None = None
    parts_sent: int = 0
    #: Set when a send was started and its answer never recorded (the sender died).
    sending_at: datetime | None = None
    uncertain: int = 0
    #: As read with the queue: a later edit of the same card waits (this one need not
    #: go), and the card's message in the chat (to edit rather than post).
    superseded: bool = False
    card_message: str | None = None

    @property
    def key(self) -> ChatKey:
        return ChatKey(self.channel, self.chat_id)


@dataclass(frozen=True)
class ChatClaim:
    """A chat whose queue this instance now delivers, with its recent send times."""

    key: ChatKey
    is_group: bool
    pacing: tuple[float, ...]


@dataclass(frozen=True)
class NoticeTarget:
    channel: str
    chat_id: str
    lang: str | None


@dataclass(frozen=True)
class NoticePlan:
    """Who must hear that a chat refuses a case's messages, and how to name that chat."""

    case_ref: str
    team_code: str
    recipient: str
    targets: tuple[NoticeTarget, ...]


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_pending_at: datetime | None
    failed: int
    undeliverable_chats: int


def _short(error: str) -> str:
    return error[:MAX_ERROR]


def _pending_in(chat: sa.Table) -> sa.ColumnElement[bool]:
    o = t.outbox.c
    return sa.exists().where(
        o.channel == chat.c.channel,
        o.chat_id == chat.c.chat_id,
        o.status == DeliveryState.PENDING.value,
    )


def insert_ignoring_duplicates(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class OutboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ claiming

    async def claim_chats(
        self, owner: str, at: datetime, until: datetime, limit: int
    ) -> list[ChatClaim]:
        """Lease up to `limit` chats with pending messages that nobody else holds.

        Chats seen for the first time get their row first. Oldest waiting message first,
        so a busy chat cannot starve the others.
        """
        c = t.outbox_chats
        o = t.outbox.c
        async with self.engine.begin() as conn:
            new_chats = (
                sa.select(o.channel, o.chat_id, sa.literal(EPOCH, t.UTCDateTime))
                .where(
                    o.status == DeliveryState.PENDING.value,
                    ~sa.exists().where(c.c.channel == o.channel, c.c.chat_id == o.chat_id),
                )
                .distinct()
            )
            insert = insert_ignoring_duplicates(conn, c).from_select(
                ["channel", "chat_id", "not_before"], new_chats
            )
            await conn.execute(insert.on_conflict_do_nothing())

            oldest = (
                sa.select(sa.func.min(o.id))
                .where(
                    o.channel == c.c.channel,
                    o.chat_id == c.c.chat_id,
                    o.status == DeliveryState.PENDING.value,
                )
                .scalar_subquery()
            )
            bound_to_team = sa.exists().where(
                t.team_chats.c.channel == c.c.channel, t.team_chats.c.chat_id == c.c.chat_id
            )
            rows = (
                await conn.execute(
                    sa.select(
                        c.c.channel,
                        c.c.chat_id,
                        c.c.pacing,
                        # Telegram's group ids are negative; other channels' groups are
                        # known as the chats bound to a team.
                        sa.or_(c.c.chat_id.startswith("-"), bound_to_team).label("is_group"),
                    )
                    .where(
                        sa.or_(c.c.lease_until.is_(None), c.c.lease_until < at),
                        c.c.not_before <= at,
                        _pending_in(c),
                    )
                    .order_by(oldest)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=c)
                )
            ).all()
            if not rows:
                return []
            keys = [(r.channel, r.chat_id) for r in rows]
            await conn.execute(
                sa.update(c)
                .where(sa.tuple_(c.c.channel, c.c.chat_id).in_(keys))
                .values(lease_owner=owner, lease_until=until)
            )
        return [
            ChatClaim(
                ChatKey(r.channel, r.chat_id),
                bool(r.is_group),
                tuple(float(x) for x in (r.pacing or [])),
            )
            for r in rows
        ]

    async def renew_leases(
        self, owner: str, keys: Sequence[ChatKey], until: datetime
    ) -> set[ChatKey]:
        """Extend our leases; the chats still ours (a lease that ran out may be taken)."""
        if not keys:
            return set()
        c = t.outbox_chats
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(c)
                .where(
                    c.c.lease_owner == owner,
                    sa.tuple_(c.c.channel, c.c.chat_id).in_([(k.channel, k.chat_id) for k in keys]),
                )
                .values(lease_until=until)
                .returning(c.c.channel, c.c.chat_id)
            )
            return {ChatKey(r.channel, r.chat_id) for r in result}

    async def release_chat(self, owner: str, key: ChatKey, not_before: datetime | None) -> None:
        """Give the chat back; `not_before` holds it back after a 429 or an error."""
        c = t.outbox_chats
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if not_before is not None:
            values["not_before"] = not_before
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(c)
                .where(c.c.channel == key.channel, c.c.chat_id == key.chat_id)
                .where(c.c.lease_owner == owner)
                .values(**values)
            )

    async def release_all(self, owner: str) -> None:
        c = t.outbox_chats
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(c)
                .where(c.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def next_due(self, at: datetime) -> datetime | None:
        """When the earliest chat held back by a retry may be tried again."""
        c = t.outbox_chats
        async with self.engine.connect() as conn:
            found = (
                await conn.execute(
                    sa.select(sa.func.min(c.c.not_before)).where(
                        c.c.not_before > at, c.c.lease_owner.is_(None), _pending_in(c)
                    )
                )
            ).scalar()
        return found if isinstance(found, datetime) else None

    # ------------------------------------------------------------------ a chat's queue

    async def queue(self, key: ChatKey, limit: int = 100) -> list[OutboxRow]:
        """The chat's pending messages in the order they were written, each with what the
        relay needs to know about its card: a later edit waiting, the message to edit."""
        o = t.outbox
        later = o.alias("later")
        m = t.chat_messages
        superseded = sa.exists().where(
            later.c.card_key == o.c.card_key,
            later.c.channel == o.c.channel,
            later.c.chat_id == o.c.chat_id,
            later.c.status == DeliveryState.PENDING.value,
            later.c.id > o.c.id,
        )
        card_message = (
            sa.select(m.c.message_id)
            .where(m.c.card_key == o.c.card_key, m.c.channel == o.c.channel)
            .where(m.c.chat_id == o.c.chat_id)
            .order_by(m.c.created_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    o,
                    t.cases.c.ref.label("case_ref"),
                    sa.case((o.c.card_key.is_(None), sa.false()), else_=superseded).label(
                        "superseded"
                    ),
                    sa.case((o.c.card_key.is_(None), sa.null()), else_=card_message).label(
                        "card_message"
                    ),
                )
                .select_from(o.outerjoin(t.cases, t.cases.c.id == o.c.case_id))
                .where(
                    o.c.channel == key.channel,
                    o.c.chat_id == key.chat_id,
                    o.c.status == DeliveryState.PENDING.value,
                )
                .order_by(o.c.id)
                .limit(limit)
            )
            return [_row(r) for r in rows]

    async def due(self, limit: int = 100) -> list[OutboxRow]:
        """Pending rows of every chat in insertion order (for tools and tests)."""
        o = t.outbox
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(o, t.cases.c.ref.label("case_ref"))
                .select_from(o.outerjoin(t.cases, t.cases.c.id == o.c.case_id))
                .where(o.c.status == DeliveryState.PENDING.value)
                .order_by(o.c.id)
                .limit(limit)
            )
            return [_row(r) for r in rows]

    async def newer_card_pending(self, row: OutboxRow) -> bool:
        """A later edit of the same card is waiting: this one need not be sent."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                sa.select(t.outbox.c.id)
                .where(
                    t.outbox.c.card_key == row.card_key,
                    t.outbox.c.channel == row.channel,
                    t.outbox.c.chat_id == row.chat_id,
                    t.outbox.c.status == DeliveryState.PENDING.value,
                    t.outbox.c.id > row.id,
                )
                .limit(1)
            )
            return found.first() is not None

    async def card_message(self, card_key: str, channel: str, chat_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(t.chat_messages.c.message_id)
                    .where(
                        t.chat_messages.c.card_key == card_key,
                        t.chat_messages.c.channel == channel,
                        t.chat_messages.c.chat_id == chat_id,
                    )
                    .order_by(t.chat_messages.c.created_at.desc())
                    .limit(1)
                )
            ).scalar()

    # ------------------------------------------------------------------ results

    async def begin_send(self, row: OutboxRow, at: datetime) -> None:
        """Written before the call: if we die before its answer is recorded, the next
        sender knows this message may already be out."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t.outbox).where(t.outbox.c.id == row.id).values(sending_at=at)
            )

    async def note_uncertain(self, row: OutboxRow) -> None:
        """A send was interrupted before its answer was recorded; it is sent again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t.outbox)
                .where(t.outbox.c.id == row.id)
                .values(uncertain=t.outbox.c.uncertain + 1, sending_at=None)
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
    ) -> None:
        """Record one delivered part (a whole message when it has one part) at once,
        with the platform's message ids, so a crash right after never repeats it."""
        o = t.outbox
        values: dict[str, Any] = {"parts_sent": part + 1, "sending_at": None}
        if message_ids:
            values["message_id"] = message_ids[-1]
        if last:
            values.update(status=DeliveryState.SENT.value, sent_at=at, attempts=row.attempts + 1)
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(o).where(o.c.id == row.id).values(**values))
            await conn.execute(
                sa.update(t.outbox_chats)
                .where(
                    t.outbox_chats.c.channel == row.channel,
                    t.outbox_chats.c.chat_id == row.chat_id,
                )
                .values(pacing=list(pacing), failed_at=None, last_error=None)
            )
            if row.case_id is None and row.card_key is None:
                return  # a message about no case: nobody will reply to it by reference
            for i, mid in enumerate(message_ids):
                is_card = last and new_card and row.card_key is not None
                is_card = is_card and i == len(message_ids) - 1
                await conn.execute(
                    insert_ignoring_duplicates(conn, t.chat_messages)
                    .values(
                        channel=row.channel,
                        chat_id=row.chat_id,
                        message_id=mid,
                        case_id=row.case_id,
                        card_key=row.card_key if is_card else None,
                        created_at=at,
                    )
                    .on_conflict_do_nothing()
                )

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
                sa.update(t.outbox)
                .where(t.outbox.c.id == row.id)
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
                sa.update(t.outbox)
                .where(t.outbox.c.id.in_([r.id for r in rows]))
                .values(status=DeliveryState.SUPERSEDED.value, sending_at=None)
            )

    async def retry(self, row: OutboxRow, not_before: datetime, error: str) -> None:
        """The send failed for now; the chat waits until `not_before` (see release_chat)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t.outbox)
                .where(t.outbox.c.id == row.id)
                .values(
                    not_before=not_before,
                    error=_short(error),
                    attempts=row.attempts + 1,
                    sending_at=None,
                )
            )

    async def chat_failed(self, key: ChatKey, at: datetime, error: str) -> None:
        """The chat refuses our messages (blocked, gone): shown in /metrics."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t.outbox_chats)
                .where(t.outbox_chats.c.channel == key.channel)
                .where(t.outbox_chats.c.chat_id == key.chat_id)
                .values(failed_at=at, last_error=_short(error))
            )

    # ------------------------------------------------------------------ instances

    async def heartbeat(
        self, owner: str, at: datetime, started: datetime, alive_after: datetime
    ) -> int:
        """Say this instance is alive; the number of live instances (ourselves included)."""
        r = t.relay_instances
        async with self.engine.begin() as conn:
            updated = await conn.execute(
                sa.update(r).where(r.c.name == owner).values(heartbeat_at=at)
            )
            if not updated.rowcount:
                await conn.execute(
                    insert_ignoring_duplicates(conn, r)
                    .values(name=owner, started_at=started, heartbeat_at=at)
                    .on_conflict_do_nothing()
                )
            await conn.execute(sa.delete(r).where(r.c.heartbeat_at < at - FORGET_INSTANCES))
            live = (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(r).where(r.c.heartbeat_at >= alive_after)
                )
            ).scalar_one()
        return max(1, int(live))

    async def leave(self, owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(t.relay_instances).where(t.relay_instances.c.name == owner)
            )

    # ------------------------------------------------------------------ notices

    async def notice_plan(self, case_id: int, key: ChatKey) -> NoticePlan | None:
        """Where to say that `key` refuses the case's messages: the team's group, or,
        when the group itself is what refuses, each lead in private."""
        async with self.engine.connect() as conn:
            case = (
                await conn.execute(
                    sa.select(t.cases.c.ref, t.cases.c.team_code, t.teams.c.name, t.teams.c.lang)
                    .select_from(t.cases.join(t.teams, t.teams.c.code == t.cases.c.team_code))
                    .where(t.cases.c.id == case_id)
                )
            ).first()
            if case is None:
                return None
            chats = (
                await conn.execute(
                    sa.select(t.team_chats.c.channel, t.team_chats.c.chat_id).where(
                        t.team_chats.c.team_code == case.team_code
                    )
                )
            ).all()
            person = (
                await conn.execute(
                    sa.select(t.members.c.name)
                    .select_from(
                        t.identities.join(t.members, t.members.c.uid == t.identities.c.member_uid)
                    )
                    .where(
                        t.identities.c.channel == key.channel,
                        t.identities.c.external_id == key.chat_id,
                    )
                )
            ).scalar()
            is_team_chat = any((c.channel, c.chat_id) == (key.channel, key.chat_id) for c in chats)
            if not is_team_chat:
                targets = tuple(
                    NoticeTarget(c.channel, c.chat_id, case.lang)
                    for c in chats
                    if (c.channel, c.chat_id) != (key.channel, key.chat_id)
                )
            else:
                leads = (
                    await conn.execute(
                        sa.select(
                            t.identities.c.channel, t.identities.c.external_id, t.members.c.lang
                        )
                        .select_from(
                            t.members.join(
                                t.identities, t.identities.c.member_uid == t.members.c.uid
                            )
                        )
                        .where(
                            t.members.c.team_code == case.team_code,
                            t.members.c.role == "lead",
                            t.members.c.active.is_(True),
                        )
                        .order_by(t.members.c.uid, t.identities.c.channel)
                    )
                ).all()
                targets = tuple(
                    NoticeTarget(x.channel, x.external_id, x.lang or case.lang)
                    for x in leads
                    if (x.channel, x.external_id) != (key.channel, key.chat_id)
                )
        recipient = person or (case.name if is_team_chat else key.chat_id)
        return NoticePlan(case.ref, case.team_code, str(recipient), targets)

    async def add_once(
        self, channel: str, chat_id: str, payload: dict[str, Any], dedupe_key: str, at: datetime
    ) -> bool:
        """Queue a message unless one with this dedupe key exists; True when queued."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert_ignoring_duplicates(conn, t.outbox)
                .values(
                    channel=channel,
                    chat_id=chat_id,
                    payload=payload,
                    dedupe_key=dedupe_key,
                    status=DeliveryState.PENDING.value,
                    attempts=0,
                    not_before=at,
                    created_at=at,
                )
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
                        .select_from(t.outbox)
                        .where(t.outbox.c.status == DeliveryState.PENDING.value)
                    )
                ).scalar_one()
            )

    async def stats(self) -> OutboxStats:
        o = t.outbox.c
        async with self.engine.connect() as conn:
            pending, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(o.created_at)).where(
                        o.status == DeliveryState.PENDING.value
                    )
                )
            ).one()
            failed = (
                await conn.execute(
                    sa.select(sa.func.count()).where(o.status == DeliveryState.FAILED.value)
                )
            ).scalar_one()
            refusing = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.outbox_chats)
                    .where(t.outbox_chats.c.failed_at.is_not(None))
                )
            ).scalar_one()
        if isinstance(oldest, str):  # SQLite hands back min() of a DateTime as text
            oldest = datetime.fromisoformat(oldest)
        if isinstance(oldest, datetime) and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return OutboxStats(int(pending), oldest, int(failed), int(refusing))


def _row(r: Any) -> OutboxRow:
    return OutboxRow(
        id=r.id,
        channel=r.channel,
        chat_id=r.chat_id,
        payload=r.payload,
        card_key=r.card_key,
        case_id=r.case_id,
        attempts=r.attempts,
        not_before=r.not_before,
        created_at=r.created_at,
        case_ref=r.case_ref,
        parts_sent=r.parts_sent,
        sending_at=r.sending_at,
        uncertain=r.uncertain,
        superseded=bool(getattr(r, "superseded", False)),
        card_message=getattr(r, "card_message", None),
    )
