"""`dispatchbot run`: channels, HTTP server and relay until a signal, then a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.bootstrap import Container
from bot.reminders import ReminderDeps, remind_pass

log = logging.getLogger(__name__)

FLUSH_SECONDS = 10.0
REMINDER_JOB = "reminders"


def start_scheduler(container: Container) -> AsyncIOScheduler:
    """Reminder pass every REMINDER_INTERVAL_SECONDS; a slow pass is never run twice at once."""
    deps = ReminderDeps.of(container)

    async def tick() -> None:
        try:
            actions = await remind_pass(deps, container.clock.now())
        except Exception:
            log.exception("reminder pass failed")
            return
        if actions:
            log.info("reminder pass: %d message(s)", len(actions))

    scheduler = AsyncIOScheduler(timezone=container.policy.calendar.tz)
    scheduler.add_job(
        tick,
        "interval",
        seconds=container.settings.reminder_interval_seconds,
        id=REMINDER_JOB,
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


async def serve(container: Container, stop: asyncio.Event) -> None:
    """Run until `stop` is set. Stop order: take no more updates, flush, close."""
    from bot.http.server import start_http
    from bot.http.webhooks import webhook_installers

    settings = container.settings
    runner = await start_http(
        container, settings.http_host, settings.http_port, installers=webhook_installers(container)
    )
    container.http_port = int(runner.addresses[0][1]) if runner.addresses else None
    started = []
    relay_stop = asyncio.Event()
    relay_task = asyncio.create_task(container.relay.run(relay_stop), name="relay")
    scheduler = start_scheduler(container)
    try:
        for name, channel in container.channels.items():
            await channel.start(container.dispatcher.handle)
            bot_username = getattr(channel, "bot_username", None)
            if isinstance(bot_username, str):
                container.dispatcher.bot_usernames[name] = bot_username
            started.append(channel)
            log.info("channel %s started", name)
        log.info("listening on http://%s:%s", settings.http_host, container.http_port)
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            scheduler.shutdown(wait=False)
        for channel in reversed(started):
            with contextlib.suppress(Exception):
                await channel.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(container.relay.drain(), FLUSH_SECONDS)
        relay_stop.set()
        container.relay.wake()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(relay_task, FLUSH_SECONDS)
        await runner.cleanup()


async def run_forever(container: Container) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(container, stop)
    finally:
        await container.close()
