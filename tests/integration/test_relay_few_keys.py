"""A commit's hand-over of a few chats (storage/outbox_handoff.py) names each chat in
binds of its own (storage/relay_sql.py, `FEW_KEYS`), so that on SQLite its lease and queue
read are quick statements: they lease and read exactly what the one statement with an
expanding IN list does, on SQLite and PostgreSQL, for one chat, a few, and more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from bot.bootstrap import Container
from bot.services.ports import OutboxItem
from storage import relay_sql, tables
from storage.outbox_handoff import Terms, take
from storage.outbox_model import ChatKey

AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
#: Seven chats with messages waiting; each of the first five has as many as its place.
CHATS = [ChatKey("telegram", str(-1000 - i)) for i in range(7)]


async def _waiting(container: Container) -> None:
    async with container.uow() as uow:
        for place, key in enumerate(CHATS):
            for n in range(min(place, 4) + 1):
                payload = {"text": f"{key.chat_id} #{n}"}
                await uow.outbox.add(OutboxItem(key.channel, key.chat_id, payload))
        await uow.commit()
    # Their chat rows, free again: as after a first delivery.
    store = container.relay.store
    assert len(await store.claim_chats("someone", AT, AT, len(CHATS))) == len(CHATS)
    await store.release_all("someone")


def _terms(keys: list[ChatKey], owner: str) -> Terms:
    return Terms(owner, AT, AT + timedelta(seconds=15), tuple(keys), 3)


async def _taken_by_in_list(container: Container, keys: list[ChatKey]) -> list[Any]:
    """What the expanding IN statements lease and read, rolled back."""
    async with container.engine.connect() as conn:
        await conn.begin()
        rows = (
            await conn.execute(
                relay_sql.TAKE,
                {
                    "b_keys": relay_sql.key_params(sorted(keys)),
                    "b_at": AT,
                    "lease_owner": "theirs",
                    "lease_until": AT + timedelta(seconds=15),
                },
            )
        ).all()
        found = (
            await conn.execute(
                relay_sql.QUEUE_MANY, {"b_keys": relay_sql.key_params(keys), "b_limit": 3}
            )
        ).all()
        await conn.rollback()
    leased = sorted((r.channel, r.chat_id, bool(r.is_group)) for r in rows)
    return [leased, sorted((r.channel, r.chat_id, r.id) for r in found)]


async def test_a_few_chats_are_leased_and_read_as_the_in_list_does(container: Container) -> None:
    await _waiting(container)
    for count in (1, 2, 3, relay_sql.FEW_KEYS, relay_sql.FEW_KEYS + 1, len(CHATS)):
        keys = CHATS[-count:] if count % 2 else CHATS[:count]  # the first chats, or the last
        expected = await _taken_by_in_list(container, keys)
        async with container.engine.connect() as conn:
            await conn.begin()
            claims = await take(conn, _terms(keys, "ours"))
            owners = (
                await conn.execute(
                    sa.select(relay_sql.OUTBOX_CHATS.chat_id).where(
                        relay_sql.OUTBOX_CHATS.lease_owner == "ours"
                    )
                )
            ).all()
            await conn.rollback()
        leased = sorted((c.key.channel, c.key.chat_id, c.is_group) for c in claims)
        read = sorted((r.channel, r.chat_id, r.id) for c in claims for r in c.queue)
        assert [leased, read] == expected, count
        assert sorted(o.chat_id for o in owners) == sorted(k.chat_id for k in keys)
        assert all(len(c.queue) <= 3 for c in claims)


async def test_a_chat_held_by_another_is_not_among_a_few_taken(container: Container) -> None:
    await _waiting(container)
    held = CHATS[1]
    async with container.engine.begin() as conn:
        await conn.execute(
            sa.update(tables.outbox_chats)
            .where(relay_sql.OUTBOX_CHATS.chat_id == held.chat_id)
            .values(lease_owner="other", lease_until=AT + timedelta(minutes=1))
        )
    async with container.engine.connect() as conn:
        await conn.begin()
        claims = await take(conn, _terms(CHATS[:3], "ours"))
        await conn.rollback()
    assert sorted(c.key for c in claims) == sorted([CHATS[0], CHATS[2]])


async def test_on_sqlite_a_few_chats_hand_over_without_sqlalchemys_execution(
    container: Container,
) -> None:
    await _waiting(container)
    if container.engine.dialect.name != "sqlite":
        return  # the quick path is SQLite's (storage/quick_execute.py)
    executed: list[str] = []

    def by_sqlalchemy(_conn: Any, statement: Any, *_rest: Any) -> None:
        executed.append(str(statement).split()[0])

    event.listen(container.engine.sync_engine, "before_execute", by_sqlalchemy)
    try:
        async with container.engine.connect() as conn:
            await conn.begin()
            executed.clear()
            claims = await take(conn, _terms(CHATS[:2], "ours"))
            assert executed == []  # lease and queue read both ran on the quick path
            claims = await take(conn, _terms(CHATS, "later"))  # too many: the IN lists
            assert executed == ["UPDATE", "SELECT"]
            await conn.rollback()
    finally:
        event.remove(container.engine.sync_engine, "before_execute", by_sqlalchemy)
    assert sorted(c.key for c in claims) == sorted(CHATS[2:])  # the first two were ours
