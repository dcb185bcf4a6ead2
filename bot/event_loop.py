"""The event loop the commands run on: uvloop where it is installed, asyncio's own otherwise.

uvloop is asyncio's loop, selectors and socket transports written in C on libuv; the bot's
code, aiohttp, asyncpg and the SQLite driver run on it unchanged. Issue 16's profile had
about 15 % of the bot's busy CPU in asyncio's machinery alone, so `dispatchbot run` takes
it when it can (docs/performance.md). It is a dependency except on Windows, where it does
not exist: there, and wherever it cannot be imported, the standard loop runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory() -> LoopFactory | None:
    """uvloop's loop when uvloop imports; None (`asyncio.run`'s own loop) when it does not."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on the loop `loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """What runs `loop`, for the start-up log: "uvloop" or "asyncio"."""
    return "uvloop" if type(loop).__module__.split(".")[0] == "uvloop" else "asyncio"
