"""The relay's hot statements, built once (why and how: storage/prepared.py): its
per-message statements, built and keyed per call, were most of its time."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables
from storage.engine import insert_ignoring_duplicates
from storage.outbox_model import ChatClaim, ChatKey, DeliveryState, OutboxRow, outbox_row
from storage.prepared import per_dialect, skipping_insert
from storage.sqlite_driver import quick
from storage.tables import CASES, CHAT_MESSAGES, OUTBOX, OUTBOX_CHATS, TEAM_CHATS

#: `not_before` of a chat that may be tried at once.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_PENDING = DeliveryState.PENDING.value
_B = sa.bindparam


def _chat_is(chat: Any) -> sa.ColumnElement[bool]:
    return sa.and_(chat.channel == _B("b_channel"), chat.chat_id == _B("b_chat_id"))


def _keys_in(chat: Any) -> sa.ColumnElement[bool]:
    """The chat is one of the `b_keys` (a list of (channel, chat_id))."""
    return sa.tuple_(chat.channel, chat.chat_id).in_(_B("b_keys", expanding=True))


def key_params(keys: Sequence[ChatKey]) -> list[tuple[str, str]]:
    return [(k.channel, k.chat_id) for k in keys]


#: Up to this many chats, a statement over a set of chats names each in binds of its own
#: (`_pairs`: built once per count), so that on SQLite it is a quick one
#: (storage/quick_execute.py takes no expanding IN); more go through `_keys_in`. A commit
#: hands over one or two chats (a card's group, a person), and its lease and queue read
#: were the two statements of its transaction that went SQLAlchemy's whole way.
FEW_KEYS = 4


def _pairs(chat: Any, n: int, *also: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The chat is one of the `n` chats :b_channel_<i>, :b_chat_id_<i> (see `pair_params`),
    and `also` holds: repeated in each branch, so that SQLite searches an index by all of
    them for each chat (a multi-index OR), never by the channel alone."""
    return sa.or_(
        *(
            sa.and_(
                chat.channel == _B(f"b_channel_{i}"), chat.chat_id == _B(f"b_chat_id_{i}"), *also
            )
            for i in range(n)
        )
    )


def pair_params(keys: Sequence[ChatKey]) -> dict[str, Any]:
    """The binds of `_pairs` for `keys`."""
    params: dict[str, Any] = {}
    for i, key in enumerate(keys):
        params[f"b_channel_{i}"] = key.channel
        params[f"b_chat_id_{i}"] = key.chat_id
    return params


def pending_in(chat: sa.Table) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        OUTBOX.channel == chat.c.channel,
        OUTBOX.chat_id == chat.c.chat_id,
        OUTBOX.status == _PENDING,
    )


#: UPDATE outbox SET <the columns given> WHERE id = :b_id
OUTBOX_SET = sa.update(tables.outbox).where(OUTBOX.id == _B("b_id"))
#: UPDATE outbox SET <the columns given> WHERE id IN :b_ids
OUTBOX_SET_MANY = sa.update(tables.outbox).where(OUTBOX.id.in_(_B("b_ids", expanding=True)))
NOTE_UNCERTAIN = OUTBOX_SET.values(uncertain=OUTBOX.uncertain + 1, sending_at=None)
#: UPDATE outbox_chats SET <the columns given> WHERE the chat is :b_channel, :b_chat_id
CHAT_SET = sa.update(tables.outbox_chats).where(_chat_is(OUTBOX_CHATS))
#: As `CHAT_SET`, only while :b_owner holds its lease.
CHAT_SET_OWNED = CHAT_SET.where(OUTBOX_CHATS.lease_owner == _B("b_owner"))
#: Extend :b_owner's leases on the chats :b_keys; the chats still its own.
RENEW = (
    sa.update(tables.outbox_chats)
    .where(OUTBOX_CHATS.lease_owner == _B("b_owner"), _keys_in(OUTBOX_CHATS))
    .returning(OUTBOX_CHATS.channel, OUTBOX_CHATS.chat_id)
)
#: Lease the chats :b_keys (SET lease_owner, lease_until).
LEASE = sa.update(tables.outbox_chats).where(_keys_in(OUTBOX_CHATS))
quick(OUTBOX_SET, OUTBOX_SET_MANY, NOTE_UNCERTAIN, CHAT_SET, CHAT_SET_OWNED, RENEW, LEASE)


def _is_group(channel: Any = OUTBOX_CHATS.channel, chat_id: Any = OUTBOX_CHATS.chat_id) -> Any:
    """Telegram's group ids are negative; other channels' groups are known as the chats
    bound to a team."""
    bound_to_team = sa.exists().where(TEAM_CHATS.channel == channel, TEAM_CHATS.chat_id == chat_id)
    return sa.or_(chat_id.startswith("-"), bound_to_team).label("is_group")


def _takeable(chat: Any, at: Any) -> tuple[sa.ColumnElement[bool], ...]:
    """Nobody holds the chat's lease (or it ran out) and it is not held back at `at`."""
    return (sa.or_(chat.lease_until.is_(None), chat.lease_until < at), chat.not_before <= at)


def _claimable() -> sa.Select[Any]:
    oldest = (
        sa.select(sa.func.min(OUTBOX.id))
        .where(
            OUTBOX.channel == OUTBOX_CHATS.channel,
            OUTBOX.chat_id == OUTBOX_CHATS.chat_id,
            OUTBOX.status == _PENDING,
        )
        .scalar_subquery()
    )
    at = _B("b_at", type_=tables.UTCDateTime())
    return (
        sa.select(OUTBOX_CHATS.channel, OUTBOX_CHATS.chat_id, OUTBOX_CHATS.pacing, _is_group())
        .where(*_takeable(OUTBOX_CHATS, at), pending_in(tables.outbox_chats))
        .order_by(oldest)
        .limit(_B("b_limit", type_=sa.Integer))
        .with_for_update(skip_locked=True, of=tables.outbox_chats)
    )


#: Chats with pending messages nobody holds and not held back at :b_at, oldest waiting
#: message first (a busy chat cannot starve the others), at most :b_limit.
CLAIMABLE = _claimable()


def _take(keys_are: Callable[[Any], sa.ColumnElement[bool]] = _keys_in) -> sa.Update:
    free = tables.outbox_chats.alias("free")
    at = _B("b_at", type_=tables.UTCDateTime())
    takeable = (
        sa.select(free.c.channel, free.c.chat_id)
        .where(keys_are(free.c), *_takeable(free.c, at))
        .with_for_update(skip_locked=True)
    )
    return (
        sa.update(tables.outbox_chats)
        .where(sa.tuple_(OUTBOX_CHATS.channel, OUTBOX_CHATS.chat_id).in_(takeable))
        .returning(
            OUTBOX_CHATS.channel,
            OUTBOX_CHATS.chat_id,
            OUTBOX_CHATS.pacing,
            # Named in full: SQLAlchemy leaves SQLite's RETURNING columns unqualified, and
            # inside the subquery those would be team_chats' own.
            _is_group(
                sa.literal_column("outbox_chats.channel", sa.String),
                sa.literal_column("outbox_chats.chat_id", sa.String),
            ),
        )
    )


#: Lease those of the chats :b_keys that `CLAIMABLE` could claim at :b_at (SET lease_owner,
#: lease_until), skipping a row another transaction holds (PostgreSQL), as a claim does;
#: the chats leased, with what a claim reads of them. Run by the unit of work that wrote
#: to them (storage/outbox_handoff.py), so it waits on no lock taken before.
TAKE = _take()
#: `TAKE` for 1 … FEW_KEYS chats, named one by one (`_pairs`).
_TAKE_FEW = {n: _take(functools.partial(_pairs, n=n)) for n in range(1, FEW_KEYS + 1)}
quick(*_TAKE_FEW.values())


def for_keys(
    keys: Sequence[ChatKey], few: Mapping[int, Any], many: Any
) -> tuple[Any, dict[str, Any]]:
    """The statement for `keys` and its binds of the chats: `few[n]` naming each of up to
    FEW_KEYS chats (`_pairs`), else `many` with the :b_keys list."""
    if len(keys) <= FEW_KEYS:
        return few[len(keys)], pair_params(keys)
    return many, {"b_keys": key_params(keys)}


def take_statement(keys: Sequence[ChatKey]) -> tuple[Any, dict[str, Any]]:
    """`TAKE` for `keys` and its binds of the chats (the caller adds the lease's)."""
    return for_keys(keys, _TAKE_FEW, TAKE)


def _build_new_chats(conn: AsyncConnection) -> Any:
    new_chats = (
        sa.select(OUTBOX.channel, OUTBOX.chat_id, sa.literal(EPOCH, tables.UTCDateTime))
        .where(
            OUTBOX.status == _PENDING,
            ~sa.exists().where(
                OUTBOX_CHATS.channel == OUTBOX.channel,
                OUTBOX_CHATS.chat_id == OUTBOX.chat_id,
            ),
        )
        .distinct()
    )
    insert = insert_ignoring_duplicates(conn, tables.outbox_chats)
    return insert.from_select(
        ["channel", "chat_id", "not_before"], new_chats
    ).on_conflict_do_nothing()


def new_chats(conn: AsyncConnection) -> Any:
    """Give the chats seen for the first time their row (in the connection's dialect)."""
    return per_dialect(conn, "new_chats", _build_new_chats)


async def remember_posted(
    conn: AsyncConnection, row: Any, message_ids: Sequence[str], card: str | None, at: datetime
) -> None:
    """Keep the ids an outbox `row` was posted under, with its case, so a reply or a button
    press on any of them acts on the case; the last one carries `card`, the card's key
    (None: it shows no card to edit later)."""
    if row.case_id is None and row.card_key is None:
        return  # a message about no case: nobody will reply to it by reference
    stmt = skipping_insert(conn, tables.chat_messages)
    for i, mid in enumerate(message_ids):
        await conn.execute(
            stmt,
            {
                "channel": row.channel,
                "chat_id": row.chat_id,
                "message_id": mid,
                "case_id": row.case_id,
                "card_key": card if i == len(message_ids) - 1 else None,
                "created_at": at,
            },
        )


def _queue(first: sa.Select[Any]) -> sa.Select[Any]:
    later = tables.outbox.alias("later")
    superseded = sa.exists().where(
        later.c.card_key == OUTBOX.card_key,
        later.c.channel == OUTBOX.channel,
        later.c.chat_id == OUTBOX.chat_id,
        later.c.status == _PENDING,
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
    return (
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


_LIMIT = _B("b_limit", type_=sa.Integer)
#: The first :b_limit pending messages of the chat :b_channel, :b_chat_id.
QUEUE_ONE = _queue(
    sa.select(OUTBOX.id)
    .where(_chat_is(OUTBOX), OUTBOX.status == _PENDING)
    .order_by(OUTBOX.id)
    .limit(_LIMIT)
)


def _queue_many(n: int | None = None) -> sa.Select[Any]:
    """`QUEUE_MANY` for the chats :b_keys, or for `n` chats named one by one (`_pairs`)."""
    pending = OUTBOX.status == _PENDING
    chats = sa.and_(_keys_in(OUTBOX), pending) if n is None else _pairs(OUTBOX, n, pending)
    numbered = (
        sa.select(
            OUTBOX.id,
            sa.func.row_number()
            .over(partition_by=(OUTBOX.channel, OUTBOX.chat_id), order_by=OUTBOX.id)
            .label("place"),
        )
        .where(chats)
        .subquery()
    )
    return _queue(sa.select(numbered.c.id).where(numbered.c.place <= _LIMIT))


#: The first :b_limit pending messages of each chat in :b_keys, numbered before the
#: card's subqueries.
QUEUE_MANY = _queue_many()
#: `QUEUE_MANY` for 2 … FEW_KEYS chats, named one by one (`_pairs`).
_QUEUE_FEW = {n: _queue_many(n) for n in range(2, FEW_KEYS + 1)}
quick(QUEUE_ONE, *_QUEUE_FEW.values())


async def queues(
    conn: AsyncConnection, keys: Sequence[ChatKey], limit: int
) -> dict[ChatKey, list[OutboxRow]]:
    """The first `limit` pending messages of each chat in `keys`, in the order they were
    written, each with what the relay needs to know about its card: a later edit
    waiting (it need not go), the card's message in the chat (to edit, not post)."""
    params: dict[str, Any]
    if len(keys) == 1:
        (key,) = keys
        params, stmt = {"b_channel": key.channel, "b_chat_id": key.chat_id}, QUEUE_ONE
    else:
        stmt, params = for_keys(keys, _QUEUE_FEW, QUEUE_MANY)
    params["b_limit"] = limit
    found: dict[ChatKey, list[OutboxRow]] = {}
    for r in await conn.execute(stmt, params):
        row = outbox_row(r)
        found.setdefault(row.key, []).append(row)
    return found


def claims_of(rows: Sequence[Any], found: dict[ChatKey, list[OutboxRow]]) -> list[ChatClaim]:
    """The chats leased by `CLAIMABLE` then `LEASE`, or by `TAKE` (`rows`), each with its
    queue as read in the same transaction (`found`, by `queues`)."""
    return [
        ChatClaim(
            ChatKey(r.channel, r.chat_id),
            bool(r.is_group),
            tuple(float(x) for x in (r.pacing or [])),
            tuple(found.get(ChatKey(r.channel, r.chat_id), ())),
        )
        for r in rows
    ]
