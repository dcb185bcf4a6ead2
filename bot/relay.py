"""Delivers outbox rows after commit, in order per chat, retrying what can be retried."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from datetime import timedelta

from bot.channels.base import (
    Channel,
    MessageGone,
    NotModified,
    Outbound,
    PermanentFailure,
    RetryLater,
    TransientFailure,
)
from bot.domain.clock import Clock
from storage.outbox_store import DeliveryState, OutboxRow, OutboxStore

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0


class Relay:
    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        idle_poll: float = 1.0,
        batch: int = 100,
    ) -> None:
        self.store = store
        self.channels = channels
        self.clock = clock
        self.idle_poll = idle_poll
        self.batch = batch
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        """Called after a commit that wrote to the outbox, so posts go out at once."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.drain()
            except Exception:
                log.exception("outbox relay pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_poll)

    async def drain(self) -> int:
        """One pass over what is due. A chat that must wait blocks only itself."""
        done = 0
        blocked: set[tuple[str, str]] = set()
        for row in await self.store.due(self.batch):
            key = (row.channel, row.chat_id)
            if key in blocked:
                continue
            channel = self.channels.get(row.channel)
            if channel is None or row.not_before > self.clock.now():
                blocked.add(key)
                continue
            if not await self._deliver(channel, row):
                blocked.add(key)
            else:
                done += 1
        self.sent += done
        return done

    async def _deliver(self, channel: Channel, row: OutboxRow) -> bool:
        """True when the row is settled (sent, superseded or given up)."""
        now = self.clock.now()
        try:
            if row.card_key and await self.store.newer_card_pending(row):
                await self.store.mark(row, DeliveryState.SUPERSEDED)
                return True
            message = Outbound.from_json(row.payload)
            existing = (
                await self.store.card_message(row.card_key, row.channel, row.chat_id)
                if row.card_key
                else None
            )
            if existing is not None and channel.capabilities.edits:
                try:
                    await channel.edit(row.chat_id, existing, message)
                except NotModified:
                    pass
                except MessageGone:
                    sent = await channel.send(row.chat_id, message)
                    await self.store.mark_sent(row, sent.message_ids, now, new_card=True)
                    return True
                await self.store.mark_sent(row, (), now, new_card=False)
                return True
            sent = await channel.send(row.chat_id, message)
            await self.store.mark_sent(row, sent.message_ids, now, new_card=True)
            return True
        except RetryLater as e:
            await self.store.retry(row, now + timedelta(seconds=e.retry_after), str(e))
        except TransientFailure as e:
            delay = min(MAX_BACKOFF, 2.0 ** min(row.attempts, 10)) * random.uniform(0.5, 1.0)
            await self.store.retry(row, now + timedelta(seconds=delay), str(e))
        except PermanentFailure as e:
            log.warning("message to %s:%s given up: %s", row.channel, row.chat_id, e)
            await self.store.mark(row, DeliveryState.FAILED, str(e))
            return True
        return False
