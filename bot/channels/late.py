"""A send whose answer did not come in time, though the platform may still carry it out.

A slow network or a busy platform can take a message, post it, and answer only after we
stopped waiting. Sending it again then shows it twice. So an adapter that can keep
listening raises `LateAnswer` when its wait ends: the relay retries as after any timeout,
and `late` goes on waiting (bounded) for the platform's answer, so the first copy's
message ids are learned too (bot.late_sends records them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.channels.base import Sent, TransientFailure

_T = TypeVar("_T")


class LateAnswer(TransientFailure):
    """No answer within the wait; `late` resolves to the send's result if one comes."""

    def __init__(self, reason: str, late: asyncio.Future[Sent]) -> None:
        super().__init__(reason)
        self.late = late


async def waited(
    call: Awaitable[_T], wait: float, reason: str, ids: Callable[[_T], tuple[str, ...]]
) -> _T:
    """`call`'s result if it comes within `wait` seconds; otherwise `LateAnswer` with the
    call still running (the caller's own deadline bounds it) and `ids` naming what it
    posted."""
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=wait)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    raise LateAnswer(reason, then(task, lambda result: Sent(ids(result))))


def then(task: asyncio.Future[Any], make: Callable[[Any], Sent]) -> asyncio.Future[Sent]:
    """`task`'s result, made a `Sent` (its failure stays a failure)."""

    async def mapped() -> Sent:
        return make(await task)

    future = asyncio.ensure_future(mapped())
    future.add_done_callback(_quiet)
    return future


def _quiet(future: asyncio.Future[Any]) -> None:
    """A late answer nobody waits for any more must not log "exception never retrieved"."""
    with contextlib.suppress(BaseException):
        future.exception()
