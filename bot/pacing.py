"""Sending within a platform's limits: "at most N messages in any W seconds".

Each limit is a bucket of N tokens. A send takes a token when it starts, and the token
comes back W seconds after the platform *answered* that send. Counting from the answer
rather than from the start makes network delay irrelevant: the platform saw the
earlier request before it answered, and sees the new one after we start it, so it
never counts more than N in any window of W seconds, however the delays vary. The cost
is one round trip per W, about 1 % at Telegram's 1 message a second in a chat.

A chat's recent send times travel with its queue (stored in the database), so the
instance that delivers the chat next keeps to the same limit.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from bot.config import ChannelLimits, RateLimit

#: How long to wait before looking again when every token is out on a send in flight.
IN_FLIGHT_POLL = 0.01


class Interrupted(Exception):
    """Stopped while waiting for a token (shutting down); `until`: when a token would
    have been free, if that was past the deadline."""

    def __init__(self, until: float | None = None) -> None:
        super().__init__(until)
        self.until = until


class Window:
    """One limit's tokens; `count` may change (the overall limit is shared by instances)."""

    def __init__(self, limit: RateLimit, history: Iterable[float] = ()) -> None:
        self.count = limit.count
        self.seconds = limit.seconds
        self._done: deque[float] = deque(sorted(history)[-limit.count :])
        self._in_flight = 0
        self._line: deque[object] = deque()

    def wait(self, now: float) -> float:
        """Seconds until a token is free (0: now; inf: when a send in flight is answered)."""
        while self._done and self._done[0] + self.seconds <= now:
            self._done.popleft()
        out = self._in_flight + len(self._done)
        if out < self.count:
            return 0.0
        excess = out - self.count  # tokens that must come back before one is ours
        if excess >= len(self._done):
            return math.inf
        return self._done[excess] + self.seconds - now

    def take(self) -> None:
        self._in_flight += 1

    def cancel(self) -> None:
        """The send was not made after all."""
        self._in_flight = max(0, self._in_flight - 1)

    def give_back(self, answered_at: float) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._done.append(answered_at)
        while len(self._done) > max(self.count, 1) * 2:
            self._done.popleft()

    def recent(self) -> list[float]:
        return list(self._done)

    # A queue of the chats waiting for this (shared) limit, served in turn.
    def line_up(self) -> object:
        ticket = object()
        self._line.append(ticket)
        return ticket

    def first(self, ticket: object) -> bool:
        return bool(self._line) and self._line[0] is ticket

    def queued(self) -> bool:
        return bool(self._line)

    def leave(self, ticket: object) -> None:
        with contextlib.suppress(ValueError):
            self._line.remove(ticket)


class ChatPacer:
    """The limits one chat's sends keep to: its own, its group's, and the channel's."""

    def __init__(
        self,
        windows: Sequence[Window],
        shared: Window | None,
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._own = list(windows)
        self._shared = shared
        self._all = [*self._own, *([shared] if shared is not None else [])]
        self._now = now
        self._sleep = sleep

    async def acquire(
        self,
        stop: Callable[[], bool] = lambda: False,
        deadline: Callable[[], float | None] = lambda: None,
    ) -> float:
        """Wait for a token of every limit and take them; the seconds waited.

        The chat's own limits are waited for first; then the channel's shared limit, in
        turn with the other chats (first come, first served), so no chat is starved.
        Interrupted when `stop()` turns true, or at once when the wait would run past
        `deadline()` (shutting down: the message waits for the next start instead).
        """
        waited = 0.0
        ticket: object | None = None
        try:
            while True:
                if stop():
                    raise Interrupted
                now = self._now()
                own = max((w.wait(now) for w in self._own), default=0.0)
                shared = self._shared.wait(now) if self._shared is not None else 0.0
                wait = max(own, shared)
                until = deadline()
                if until is not None and wait > 0 and not math.isinf(wait) and now + wait > until:
                    raise Interrupted(now + wait)
                if own <= 0 and self._shared is not None:
                    if ticket is None:
                        ticket = self._shared.line_up()
                    if not self._shared.first(ticket):
                        wait = max(wait, IN_FLIGHT_POLL)
                if wait <= 0:
                    for w in self._all:
                        w.take()
                    return waited
                step = IN_FLIGHT_POLL if math.isinf(wait) else min(wait, 1.0)
                await self._sleep(step)
                waited += step
        finally:
            if ticket is not None and self._shared is not None:
                self._shared.leave(ticket)

    def take_now(self) -> bool:
        """Take a token of every limit if all are free now, without waiting or going ahead
        of a chat lined up for the shared limit; whether they were taken."""
        now = self._now()
        if any(w.wait(now) > 0 for w in self._all):
            return False
        if self._shared is not None and self._shared.queued():
            return False  # others wait their turn: `acquire` lines this chat up behind them
        for w in self._all:
            w.take()
        return True

    def done(self, answered_at: float, calls: int = 1) -> None:
        """The send was answered (sent or refused); `calls` requests it turned into."""
        for w in self._all:
            w.give_back(answered_at)
            for _ in range(calls - 1):
                w.take()
                w.give_back(answered_at)

    def cancel(self) -> None:
        for w in self._all:
            w.cancel()

    def history(self) -> list[float]:
        """Recent answer times, to store with the chat's queue."""
        longest = max(self._own, key=lambda w: w.count, default=None)
        return [round(t, 3) for t in longest.recent()] if longest is not None else []


def chat_windows(
    per_chat: RateLimit | None,
    per_group: RateLimit | None,
    is_group: bool,
    history: Iterable[float],
) -> list[Window]:
    recent = list(history)
    windows = [Window(per_chat, recent)] if per_chat is not None else []
    if is_group and per_group is not None:
        windows.append(Window(per_group, recent))
    return windows


def share(limit: RateLimit, instances: int) -> int:
    """This instance's part of a limit that holds for the whole bot."""
    return max(1, limit.count // max(1, instances))


class SharedWindows:
    """Each channel's overall limit, of which this instance keeps its share while
    `instances` relays are alive (told by the heartbeat)."""

    def __init__(self, limits: Mapping[str, ChannelLimits]) -> None:
        self.limits = limits
        self.instances = 1
        self._windows: dict[str, Window] = {}

    def window(self, channel: str) -> Window | None:
        limits = self.limits.get(channel)
        if limits is None or limits.overall is None:
            return None
        window = self._windows.get(channel)
        if window is None:
            window = self._windows[channel] = Window(limits.overall)
            window.count = share(limits.overall, self.instances)
        return window

    def share_between(self, instances: int) -> None:
        self.instances = max(1, instances)
        for name, window in self._windows.items():
            overall = self.limits[name].overall
            if overall is not None:
                window.count = share(overall, self.instances)
