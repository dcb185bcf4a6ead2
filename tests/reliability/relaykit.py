"""A scripted channel and virtual time, to test the relay's rules one at a time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.channels.base import (
    Capabilities,
    DeliveryError,
    MessageGone,
    NotModified,
    Outbound,
    Sent,
)


class VirtualTime:
    """Seconds that pass only when someone sleeps: a 30 s backoff costs no wall time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Call:
    op: str  # "send" | "edit"
    chat_id: str
    text: str
    message_id: str | None
    buttons: int = 0
    reply_to: str | None = None
    ok: bool = True


@dataclass
class ScriptedChannel:
    """Records every call; fails the next calls to a chat as scripted."""

    max_text: int = 4096
    name: str = "telegram"
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    shown: dict[str, dict[str, str]] = field(default_factory=dict)
    failures: dict[str, list[DeliveryError]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(buttons=True, edits=True, max_text=self.max_text)

    def fail(self, chat_id: str, *errors: DeliveryError) -> None:
        self.failures.setdefault(chat_id, []).extend(errors)

    def _next_failure(self, chat_id: str) -> DeliveryError | None:
        queue = self.failures.get(chat_id)
        return queue.pop(0) if queue else None

    async def start(self, sink: Any) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        return b""

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        if self.delay:
            await asyncio.sleep(self.delay)
        error = self._next_failure(chat_id)
        buttons = sum(len(row) for row in message.buttons)
        if error is not None:
            self.calls.append(
                Call("send", chat_id, message.text, None, buttons, message.reply_to, ok=False)
            )
            raise error
        mid = str(next(self._ids))
        self.shown.setdefault(chat_id, {})[mid] = message.text
        self.calls.append(Call("send", chat_id, message.text, mid, buttons, message.reply_to))
        return Sent((mid,))

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        error = self._next_failure(chat_id)
        if error is not None:
            self.calls.append(Call("edit", chat_id, message.text, message_id, ok=False))
            raise error
        current = self.shown.get(chat_id, {})
        if message_id not in current:
            self.calls.append(Call("edit", chat_id, message.text, message_id, ok=False))
            raise MessageGone("Bad Request: message to edit not found")
        if current[message_id] == message.text:
            self.calls.append(Call("edit", chat_id, message.text, message_id, ok=False))
            raise NotModified("Bad Request: message is not modified")
        current[message_id] = message.text
        self.calls.append(Call("edit", chat_id, message.text, message_id))

    def sent_to(self, chat_id: str) -> list[Call]:
        return [c for c in self.calls if c.chat_id == chat_id and c.ok]


class SimTime:
    """Discrete-event time for several sleepers: the clock jumps to the next wake-up only
    when every task is waiting, so concurrent waits overlap as they would in real time."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakeups, (self.t + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, *coros: Any) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while not all(task.done() for task in tasks):
            for _ in range(20):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if self._wakeups:
                when, _, future = heapq.heappop(self._wakeups)
                self.t = max(self.t, when)
                future.set_result(None)
        return [task.result() for task in tasks]
