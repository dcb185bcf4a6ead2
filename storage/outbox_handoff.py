"""A commit's chats leased to this process's relay in that commit (issue 16).

A unit of work that writes outbox rows used to wake the relay, which then claimed the
chats in a transaction of its own. Now, while a relay runs here, the unit of work asks it
(its `Taker`) which of the chats it would take; in the same transaction it leases those
that a claim could claim (`TAKE`: nobody's lease, or one run out; not held back; a row
another transaction holds skipped, as the claim skips it), reads their queues as a claim
does, and after the commit hands them to the relay, which starts a worker on each: no
claim transaction. Chats another instance holds are not taken and are woken as before.

The lease is the claim's, with its expiry: if this process dies after the commit, the
chat waits for the lease to run out and another relay claims it, as after a claim. If the
commit fails, nothing was leased.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.outbox_model import ChatClaim, ChatKey
from storage.relay_sql import claims_of, queues, take_statement


@dataclass(frozen=True)
class Terms:
    """What a relay would take of a commit's chats: `chats` leased to `owner` until
    `until` if free at `at`, with the first `read` messages of each one's queue."""

    owner: str
    at: datetime
    until: datetime
    chats: tuple[ChatKey, ...]
    read: int


class Taker(Protocol):
    def terms(self, chats: Collection[ChatKey]) -> Terms | None:
        """Which of `chats` to lease in the commit that wrote to them (None: none)."""

    def taken(self, terms: Terms, claims: Sequence[ChatClaim]) -> None:
        """After the commit: `claims` are leased to `terms.owner`; deliver them."""


_takers: weakref.WeakKeyDictionary[sa.Engine, Taker] = weakref.WeakKeyDictionary()


def offer(engine: AsyncEngine, taker: Taker) -> None:
    """From now on, commits on `engine` lease their chats to `taker` (its relay runs)."""
    _takers[engine.sync_engine] = taker


def withdraw(engine: AsyncEngine, taker: Taker) -> None:
    """No more (the relay stops); another taker offered since stays."""
    if _takers.get(engine.sync_engine) is taker:
        del _takers[engine.sync_engine]


def taker_of(engine: AsyncEngine) -> Taker | None:
    return _takers.get(engine.sync_engine)


async def take(conn: AsyncConnection, terms: Terms) -> list[ChatClaim]:
    """Inside the unit of work's transaction: lease what `terms` asks of the free chats."""
    statement, params = take_statement(sorted(terms.chats))
    params.update(b_at=terms.at, lease_owner=terms.owner, lease_until=terms.until)
    rows = (await conn.execute(statement, params)).all()
    if not rows:
        return []
    keys = [ChatKey(r.channel, r.chat_id) for r in rows]
    found = await queues(conn, keys, terms.read) if terms.read > 0 else {}
    return claims_of(rows, found)
