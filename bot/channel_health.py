"""A channel whose token the platform refuses (401, or 404 for a malformed one) pauses.

Today's token may be revoked in @BotFather, or a wrong one pasted. Then nothing on that
channel can work, and nothing is the messages' fault: the channel's polling stops, the
relay leaves its chats alone, every queued message stays queued, and it is said once,
loudly, in the log, in /healthz (`degraded`) and in /metrics (`dispatch_channel_paused`).
A getMe every `probe_seconds` (TOKEN_PROBE_SECONDS) notices both ways: a token revoked
while the bot idles, and a token that works again; then polling restarts and the chats'
queues go at once. A restart with a new token starts clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from bot.channels.base import Channel, InboundSink
from bot.channels.refusals import TokenRefused
from bot.metrics import Metrics
from storage.outbox_store import OutboxStore

log = logging.getLogger(__name__)

#: How long a probe (getMe) may take before it counts as no answer.
PROBE_TIMEOUT = 30.0


@runtime_checkable
class Probed(Protocol):
    """A channel that can check its token (getMe) without being started."""

    @property
    def running(self) -> bool: ...

    async def probe(self) -> None: ...


class ChannelHealth:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        metrics: Metrics,
        store: OutboxStore,
        wake: Callable[[], None],
        probe_seconds: float = 60.0,
    ) -> None:
        self.channels = channels
        self.metrics = metrics
        self.store = store
        self.wake = wake
        self.probe_seconds = probe_seconds
        self._paused: dict[str, str] = {}
        self._sinks: dict[str, InboundSink] = {}
        self._lock = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()

    def is_paused(self, channel: str) -> bool:
        return channel in self._paused

    def states(self) -> dict[str, str]:
        """Each configured channel: `ok`, or `token_refused` while paused (/healthz)."""
        return {name: "token_refused" if name in self._paused else "ok" for name in self.channels}

    async def start(self, name: str, channel: Channel, sink: InboundSink) -> bool:
        """Start a channel for `dispatchbot run`; a refused token pauses it instead of
        stopping the whole bot (its queue waits). True when it started."""
        self._sinks[name] = sink
        try:
            await channel.start(sink)
        except TokenRefused as e:
            await self.token_refused(name, str(e))
            return False
        return True

    async def token_refused(self, name: str, reason: str) -> None:
        """Pause the channel: said once, polling stopped, the relay leaves its chats."""
        if name in self._paused:
            return
        self._paused[name] = reason
        self.metrics.channel_paused.set(1, name)
        log.error(
            "CHANNEL %s PAUSED: the platform refuses the bot's token (%s). Nothing is sent or"
            " received on it; every message waits. Put the right token in %s_BOT_TOKEN and"
            " restart, or restore it at the platform: it is checked every %.0fs and the"
            " channel goes on by itself.",
            name,
            reason,
            name.upper(),
            self.probe_seconds,
        )
        channel = self.channels.get(name)
        if isinstance(channel, Probed) and channel.running:
            task = asyncio.create_task(self._stop(name, channel), name=f"pause:{name}")
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def _stop(self, name: str, channel: Channel) -> None:
        try:
            await channel.stop()
        except Exception:
            log.warning("channel %s: stopping its polling failed", name, exc_info=True)

    async def answers(self, name: str) -> bool:
        """Does the platform answer this channel's getMe? (A refused token pauses it.)"""
        channel = self.channels.get(name)
        if not isinstance(channel, Probed):
            return True
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await channel.probe()
        except TokenRefused as e:
            await self.token_refused(name, str(e))
            return False
        except Exception:
            return False
        return True

    async def check(self) -> None:
        """One probe of every channel: pause one whose token is refused, resume one whose
        token works again."""
        for name in list(self.channels):
            async with self._lock:
                works = await self.answers(name)
                if works and name in self._paused:
                    await self._resume(name)

    async def _resume(self, name: str) -> None:
        channel = self.channels[name]
        for task in list(self._stopping):
            with contextlib.suppress(Exception):
                await task
        sink = self._sinks.get(name)
        if sink is not None and isinstance(channel, Probed) and not channel.running:
            try:
                await channel.start(sink)
            except Exception as e:
                log.warning("channel %s: the token works, but starting failed: %s", name, e)
                return
        del self._paused[name]
        self.metrics.channel_paused.set(0, name)
        log.warning("channel %s: the platform accepts the token again; going on", name)
        await self.store.resume_channel(name)
        self.wake()

    async def run(self, stop: asyncio.Event) -> None:
        """Probe every `probe_seconds` until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.probe_seconds)
            if stop.is_set():
                return
            try:
                await self.check()
            except Exception:
                log.exception("checking the channels' tokens failed")
