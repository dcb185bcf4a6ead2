"""Sends the platform carried out after we stopped waiting: both copies known, both kept
up to date (issue 14, item 5).

The relay's channels are wrapped in `LateCopies`. When a send ends in `LateAnswer`, the
message the relay was sending is noted and its late answer awaited in the background:

- if it comes before the relay sent the message again, the message is recorded as sent
  with the late answer's ids, and nothing is posted twice;
- if it comes after, the first copy is an extra one: its ids are kept with the case, so
  a reply or a button press on it acts on the case, and every later edit of the card is
  made to the extra copy as well (where the channel edits in place).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from bot.channels.base import (
    Capabilities,
    Channel,
    CommandMenus,
    DeliveryError,
    InboundSink,
    NotModified,
    Outbound,
    Sent,
)
from bot.channels.late import LateAnswer
from bot.channels.routes import Route
from bot.domain.clock import Clock
from storage.late_store import InFlight, LateOutcome, LateStore
from storage.outbox_model import ChatKey
from storage.outbox_store import OutboxStore

log = logging.getLogger(__name__)


class LateCopies:
    """A channel, as the relay uses it, that learns of copies posted after a timeout."""

    def __init__(self, inner: Channel, store: LateStore, clock: Clock) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities: Capabilities = inner.capabilities
        self.store = store
        self.clock = clock
        self._watching: set[asyncio.Task[LateOutcome | None]] = set()

    @property
    def bot_username(self) -> str | None:
        return self.inner.bot_username

    def routes(self) -> Sequence[Route]:
        return self.inner.routes()

    async def set_commands(self, menus: CommandMenus) -> None:
        await self.inner.set_commands(menus)

    async def start(self, sink: InboundSink) -> None:
        await self.inner.start(sink)

    async def stop(self) -> None:
        await self.inner.stop()

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        return await self.inner.download(file_ref, max_bytes)

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        try:
            return await self.inner.send(chat_id, message)
        except LateAnswer as e:
            flight = await self.store.in_flight(ChatKey(self.name, chat_id))
            if flight is not None:
                task = asyncio.create_task(self.learn(flight, e.late), name=f"late:{chat_id}")
                self._watching.add(task)
                task.add_done_callback(self._watching.discard)
            raise

    async def learn(self, flight: InFlight, late: asyncio.Future[Sent]) -> LateOutcome | None:
        """Wait for the late answer (bounded by the adapter) and record what it posted."""
        try:
            sent = await late
        except Exception:
            return None  # no answer after all: the retry is the only copy
        parts = Outbound.from_json(flight.payload).parts(self.capabilities)
        last = flight.parts_sent >= len(parts) - 1
        outcome = await self.store.arrived(flight, sent.message_ids, self.clock.now(), last=last)
        log.warning(
            "relay: a send to %s:%s answered after its timeout (%s)",
            self.name,
            flight.row_id,
            outcome.value,
        )
        return outcome

    async def settled(self) -> None:
        """Every late answer awaited so far is recorded (for tests and shutdown)."""
        if self._watching:
            await asyncio.gather(*self._watching, return_exceptions=True)

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        unchanged: NotModified | None = None
        try:
            await self.inner.edit(chat_id, message_id, message)
        except NotModified as e:
            unchanged = e
        if self.capabilities.edits:
            for extra in await self.store.extra_copies(ChatKey(self.name, chat_id), message_id):
                try:
                    await self.inner.edit(chat_id, extra, message)
                except DeliveryError as e:  # gone or unchanged: the card itself was edited
                    log.info("relay: the extra copy %s in %s was not edited: %s", extra, chat_id, e)
        if unchanged is not None:
            raise unchanged


def late_copies(
    channels: Mapping[str, Channel], store: OutboxStore, clock: Clock
) -> dict[str, Channel]:
    """The relay's view of `channels`: each learns of copies its late answers posted."""
    late = LateStore(store.engine)
    return {name: LateCopies(channel, late, clock) for name, channel in channels.items()}
