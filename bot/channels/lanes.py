"""Updates of different chats side by side, those of one chat one after another.

A getUpdates answer holds up to 100 updates. Handled one at a time, each waits for every
database round trip and platform call of the one before it, even when they come from
different teams. `ChatLanes` runs them concurrently, one lane per chat: an update starts
only after the one before it in its chat has finished, so a worker's `/survey` is never
handled before her Claim press in the same group, and a failing update ends its own lane
turn only (the failure is logged, the next update of that chat runs as usual).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

#: Updates handled at once by default: enough to overlap the waits on Telegram's answers
#: (answerCallbackQuery, downloads), few enough that writers do not queue up on SQLite's
#: one write lock or exhaust the connection pool (5 + 10 by default).
DEFAULT_LANE_LIMIT = 8


class ChatLanes:
    """Hand `submit` the updates in the order they arrived; each runs in its chat's lane."""

    def __init__(self, limit: int = DEFAULT_LANE_LIMIT) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> int:
        """Updates submitted and not yet finished (running or waiting for their chat)."""
        return len(self._tasks)

    async def submit(self, chat: str, work: Callable[[], Awaitable[object]]) -> None:
        """Queue `work` behind the chat's earlier updates; returns once it is queued.

        Waits (backpressure) while `limit` updates are already in hand, so the caller
        does not fetch more than it can handle.
        """
        await self._slots.acquire()
        before = self._tails.get(chat)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[chat] = done
        task = asyncio.create_task(self._run(chat, before, done, work), name=f"lane:{chat}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        chat: str,
        before: asyncio.Future[None] | None,
        done: asyncio.Future[None],
        work: Callable[[], Awaitable[object]],
    ) -> None:
        try:
            if before is not None:
                await asyncio.shield(before)
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handling an update failed; the chat's next updates go on")
        finally:
            if not done.done():
                done.set_result(None)
            if self._tails.get(chat) is done:
                del self._tails[chat]
            self._slots.release()

    def beside(self, work: Awaitable[object]) -> None:
        """Run `work` in no lane: it holds up no chat's next update, and `drain` still
        waits for it (a press's answer, once its update is handled)."""
        task = asyncio.ensure_future(self._beside(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _beside(work: Awaitable[object]) -> None:
        try:
            await work
        except Exception:
            log.exception("work beside the chats' updates failed")

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait for the updates in hand (on stop), and what they start beside them; False
        when some were still running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True
