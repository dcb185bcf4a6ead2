"""How chats become a relay's to deliver (bot.relay): a claim, or a commit that leases
them to it (storage/outbox_handoff.py); and what a wake asks for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.relay_worker import RelayOptions, Worker
from storage.outbox_handoff import Terms
from storage.outbox_store import ChatClaim, ChatKey, OutboxStore

log = logging.getLogger("bot.relay")


class ChatClaims:
    """The relay's part that leases chats and starts a worker on each (`Relay`)."""

    store: OutboxStore
    options: RelayOptions
    owner: str
    _now: Callable[[], float]
    _sleep: Callable[[float], Awaitable[None]]
    _changed: asyncio.Event
    #: Counted claims so far: see `Relay._work`'s end.
    _claims: int
    #: Running: the commits of this process lease their chats to it (`terms`).
    _taking: bool
    #: Chats woken for since the last claim; a wake named none (`Relay.run`).
    _asked: set[ChatKey]
    _blind: bool
    _workers: dict[ChatKey, Worker]
    _halt: bool
    _paused: bool
    _flush_until: float | None
    _deferred_until: float | None

    def _work(self, worker: Worker) -> Coroutine[Any, Any, None]:
        raise NotImplementedError

    def wake(self, chats: Collection[ChatKey] = ()) -> None:
        """After a commit that wrote to the outbox (to `chats`, when known): posts go out at
        once. A worker here on a chat reads its queue again; the others are claimed."""
        self._blind = self._blind or not chats
        claim = not chats
        for key in chats:
            if (worker := self._workers.get(key)) is not None and not worker.released:
                worker.more = True
            else:
                self._asked.add(key)
                claim = True
        if claim:
            self._changed.set()

    def take_commits(self, on: bool = True) -> None:
        """While `on` (it runs), this process's commits lease their chats to this relay."""
        self._taking = on
        self.store.hand_chats_to(self, on)

    def terms(self, chats: Collection[ChatKey]) -> Terms | None:
        """Of a commit's `chats`, those it leases to us if free (storage/outbox_handoff.py):
        as many new ones as we have workers free, and those a worker here is on (free, its
        last record gave it back: the worker goes on; else `wake` tells the worker)."""
        if not self._taking or self._halt or self._paused or self._flush_until is not None:
            return None
        free = max(0, self.options.concurrency - len(self._workers))
        new = sorted(key for key in chats if key not in self._workers)[:free]
        wanted = [key for key in chats if key in self._workers] + new
        if not wanted:
            return None
        now = self._now()
        until = self._at(now + self.options.lease_seconds)
        return Terms(self.owner, self._at(now), until, tuple(wanted), self.options.batch)

    def taken(self, terms: Terms, claims: Sequence[ChatClaim]) -> None:
        """The commit that wrote to these chats leased them to us: deliver them, unclaimed."""
        self._start(claims, terms.at.timestamp())

    def _at(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, UTC)

    async def _claim_more(
        self, counted: bool = True, asked: Collection[ChatKey] = ()
    ) -> list[ChatClaim]:
        """Claim chats with messages waiting; `asked`: chats woken for, whose worker here,
        if one started since, reads its queue again (it may have read it before)."""
        for key in asked:
            if (worker := self._workers.get(key)) is not None:
                worker.more = True
        free = self.options.concurrency - len(self._workers)
        if counted or free <= 0:  # skipped: a chat asked for waits for a worker's end
            self._claims += 1
        if free <= 0:
            return []
        now = self._now()
        if self._deferred_until is not None and self._deferred_until <= now:
            self._deferred_until = None
        try:
            claims = await self.store.claim_chats(
                self.owner,
                self._at(now),
                self._at(now + self.options.lease_seconds),
                free,
                read=self.options.batch,
            )
        except Exception:
            log.exception("relay: claiming chats failed")
            await self._sleep(min(self.options.idle_poll, 1.0))
            return []
        return self._start(claims, now)

    def _start(self, claims: Sequence[ChatClaim], now: float) -> list[ChatClaim]:
        """A worker on each chat just leased (at `now`) that has none here yet."""
        started = []
        for claim in claims:
            current = self._workers.get(claim.key)
            if current is not None:  # a second worker would send twice
                current.leased_again(claim, now, self.options.lease_seconds)
                continue
            worker = Worker(claim, now + self.options.lease_seconds, claims_seen=self._claims)
            self._workers[claim.key] = worker
            worker.task = asyncio.create_task(self._work(worker), name=f"relay:{claim.key}")
            started.append(claim)
        return started
