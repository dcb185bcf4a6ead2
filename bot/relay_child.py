"""`python -m bot.relay_child`: the relay's own process, started by `dispatchbot run`
with `RELAY_PROCESS=separate` (bot/relay_apart.py says why and what crosses).

It reads the settings from the first line of its input, then runs this instance's relay,
its channels' token probes and, on PostgreSQL, the LISTEN for other instances' posts,
until its input ends; then it flushes for SHUTDOWN_FLUSH_SECONDS, as `dispatchbot run`
does, and exits. Its standard output carries only its reports: anything printed goes to
its standard error, with the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from typing import BinaryIO

from bot.bootstrap import Container, bootstrap
from bot.config import load_settings
from bot.event_loop import run
from bot.heap import settle
from bot.logs import configure
from bot.relay_apart import REPORT_SECONDS, read_wake
from storage.outbox_wakeup import OutboxListener

log = logging.getLogger(__name__)


async def _lines() -> asyncio.StreamReader:
    """Standard input, read on the event loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _report(out: BinaryIO, container: Container) -> None:
    health = container.relay.health
    message = {
        "metrics": container.relay.metrics.render_relay(),
        "health": health.states() if health is not None else {},
    }
    out.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    out.flush()


async def _reporting(out: BinaryIO, container: Container, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REPORT_SECONDS)
        with contextlib.suppress(BrokenPipeError):
            _report(out, container)


async def _listen(reader: asyncio.StreamReader, container: Container) -> None:
    """Each wake line wakes the relay; the end of the input (or a broken line) ends it."""
    while line := await reader.readline():
        chats = read_wake(json.loads(line))
        if chats is not None:
            container.relay.wake(chats)


async def main(out: BinaryIO) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM):  # the bot's process says when to stop
        signal.signal(sig, signal.SIG_IGN)
    reader = await _lines()
    first = json.loads(await reader.readline())
    settings = load_settings(**first["settings"])
    configure(settings)
    container = await bootstrap(settings, migrate=False)  # the bot's process migrated
    settle()
    relay, stop = container.relay, asyncio.Event()
    relay_task = asyncio.create_task(
        relay.run(stop, flush_seconds=settings.shutdown_flush_seconds), name="relay"
    )
    probes = asyncio.create_task(relay.health.run(stop)) if relay.health else None
    sender = first.get("sender")  # the bot's commits are told over the pipe already
    listener = OutboxListener(container.engine, relay.wake, ignore=[sender] if sender else [])
    await listener.start()
    _report(out, container)  # the first says it runs
    reports = asyncio.create_task(_reporting(out, container, stop))
    try:
        await _listen(reader, container)
    except (ValueError, KeyError, TypeError):
        log.exception("relay process: an unreadable line from the bot's process; stopping")
    finally:
        stop.set()
        await listener.stop()
        await relay_task
        if probes is not None:
            with contextlib.suppress(Exception):
                await probes
        with contextlib.suppress(Exception):
            await reports
        for channel in container.channels.values():
            with contextlib.suppress(Exception):
                await channel.stop()
        await container.close()
    return 0


if __name__ == "__main__":
    reports = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot break a report
    sys.exit(run(main(reports)))
