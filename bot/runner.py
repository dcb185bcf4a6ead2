"""`dispatchbot run`: channels, HTTP server, relay and scheduler until a signal, then a clean stop.

Several instances may run against one PostgreSQL database (docs/operations.md). Each
serves HTTP and delivers the outbox; the scheduler's periodic passes run only on the
instance holding the scheduler lock (bot.leadership). Every pass goes through
`Scheduler.add`, which runs it there and nowhere else::

    scheduler.add(Pass.REMINDERS, IntervalTrigger(seconds=60), reminders)

On SIGTERM (or SIGINT): stop taking updates and API calls, let those in flight finish,
flush what can be sent within SHUTDOWN_FLUSH_SECONDS, release leases and the lock, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sized
from datetime import datetime
from enum import StrEnum
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.bootstrap import Container
from bot.channels.base import Channel, HandleResult, Inbound, InboundSink
from bot.held import releasing
from bot.leadership import Leadership
from bot.metrics import Metrics
from bot.reminders import ReminderDeps, remind_pass
from bot.reports.service import ReportDeps
from bot.reports.weekly import weekly_report_tick
from storage.outbox_wakeup import OutboxListener

log = logging.getLogger(__name__)

#: Seconds an HTTP request already being handled may take to finish once we stop.
HTTP_GRACE = 10.0
#: Seconds a running scheduler pass may take to finish once we stop.
PASS_GRACE = 10.0
#: Seconds a platform call under way may take to finish before the channels stop.
SEND_GRACE = 25.0


class Pass(StrEnum):
    """The scheduler's periodic passes (also their names in logs and /metrics)."""

    REMINDERS = "reminders"
    WEEKLY_REPORT = "weekly_report"
    HELD_EXPIRY = "held_expiry"


#: The job that keeps (or takes) the scheduler lock; not a pass, it runs everywhere.
LEADERSHIP_JOB = "leadership"


#: A pass: given the instant it runs at, does its work; what it returns may be sized
#: (the messages it queued), for the metrics.
PassFn = Callable[[datetime], Awaitable[object]]


class Scheduler:
    """Periodic passes, each run only on the instance that holds the scheduler lock."""

    def __init__(self, container: Container, leadership: Leadership, metrics: Metrics) -> None:
        self.container = container
        self.leadership = leadership
        self.metrics = metrics
        self._aps = AsyncIOScheduler(timezone=container.policy.calendar.tz)
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False

    def add(self, name: Pass, trigger: BaseTrigger, run: PassFn) -> None:
        """Schedule `run`; when due it runs here only if this instance leads, never twice
        at once, and a late run is coalesced into one."""

        async def job() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await self.run_pass(name, run)
            finally:
                if task is not None:
                    self._running.discard(task)

        self._aps.add_job(
            job, trigger, id=name.value, name=name.value, max_instances=1, coalesce=True
        )

    async def run_pass(self, name: Pass, run: PassFn) -> bool:
        """One pass, if this instance leads; True when it ran (failed or not)."""
        if self._stopping or not await self.check_lead():
            return False
        started = time.perf_counter()
        try:
            result = await run(self.container.clock.now())
        except Exception:
            log.exception("scheduler: %s pass failed", name.value)
            self.metrics.passes.inc(name.value, "failed")
            return True
        finally:
            self.metrics.pass_seconds.observe(time.perf_counter() - started, name.value)
        self.metrics.passes.inc(name.value, "ok")
        if isinstance(result, Sized) and len(result):
            self.metrics.pass_messages.inc(name.value, by=len(result))
            log.info("scheduler: %s pass queued %d message(s)", name.value, len(result))
        return True

    async def check_lead(self) -> bool:
        leading = await self.leadership.check()
        self.metrics.leader.set(1 if leading else 0)
        return leading

    def start(self, lock_check_seconds: float) -> None:
        """Start the clock. The lock is also checked on its own, so a standby takes over
        soon after the leader dies, even between two passes far apart (the digest)."""
        self._aps.add_job(
            self.check_lead,
            IntervalTrigger(seconds=lock_check_seconds),
            id=LEADERSHIP_JOB,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(self._aps.timezone),
        )
        self._aps.start()

    async def stop(self) -> None:
        """No new passes; let one under way finish (bounded), then give the lock back."""
        if self._stopping:
            return
        self._stopping = True
        if self._aps.running:
            self._aps.shutdown(wait=False)
        running = [t for t in self._running if t is not asyncio.current_task()]
        if running:
            _done, pending = await asyncio.wait(running, timeout=PASS_GRACE)
            for task in pending:
                task.cancel()
        with contextlib.suppress(Exception):
            await self.leadership.release()
        self.metrics.leader.set(0)


def schedule_passes(scheduler: Scheduler, container: Container) -> None:
    """Every periodic job of the application, each through `Scheduler.add`."""
    deps = ReminderDeps.of(container)

    async def reminders(at: datetime) -> object:
        return await remind_pass(deps, at)

    async def weekly(at: datetime) -> object:
        return await weekly_report_tick(reports, at)

    reports = ReportDeps.of(container)
    tick = container.settings.reminder_interval_seconds
    scheduler.add(Pass.REMINDERS, IntervalTrigger(seconds=tick), reminders)
    # On the same tick, judged by the application's clock: the pass itself knows its day.
    scheduler.add(Pass.WEEKLY_REPORT, IntervalTrigger(seconds=tick), weekly)
    held = container.relay.held
    if held is not None:  # private messages nobody could be reached for, given up in time
        scheduler.add(Pass.HELD_EXPIRY, IntervalTrigger(seconds=tick), held.expire)


def start_scheduler(container: Container) -> Scheduler:
    scheduler = Scheduler(container, container.leadership(), container.relay.metrics)
    schedule_passes(scheduler, container)
    scheduler.start(container.settings.scheduler_lock_check_seconds)
    return scheduler


def timed(sink: InboundSink, channel: str, metrics: Metrics) -> InboundSink:
    """The handler, measured: update processing time per channel and kind."""

    async def handle(inbound: Inbound) -> HandleResult:
        kind = "button" if inbound.callback is not None else "message"
        started = time.perf_counter()
        try:
            return await sink(inbound)
        finally:
            metrics.update_seconds.observe(time.perf_counter() - started, channel, kind)

    return handle


async def publish_commands(name: str, channel: Channel, container: Container) -> None:
    """The command menus, per scope and language, where the channel shows menus.

    A refusal is logged and the bot runs on: typing the commands works without a menu.
    """
    try:
        await channel.set_commands(container.dispatcher.command_menus())
    except Exception as e:
        log.warning("channel %s: publishing the command menus failed: %s", name, e)


async def start_channel(container: Container, name: str, channel: Channel) -> bool:
    """Start a channel; with its token refused it pauses instead (False) and the rest runs."""
    # A private message from someone with held messages sends them first (bot.held).
    handle = releasing(container.relay.held, container.relay.wake, container.dispatcher.handle)
    sink = timed(handle, name, container.relay.metrics)
    health = container.relay.health
    if health is None:
        await channel.start(sink)
        return True
    return await health.start(name, channel, sink)


async def serve(container: Container, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then stop in order: take no more updates, let those in
    flight finish, flush the outbox for a bounded time, release what we hold."""
    from bot.http.server import start_http
    from bot.http.webhooks import webhook_installers

    settings = container.settings
    runner = await start_http(
        container,
        settings.http_host,
        settings.http_port,
        installers=webhook_installers(container),
        shutdown_timeout=HTTP_GRACE,
    )
    container.http_port = int(runner.addresses[0][1]) if runner.addresses else None
    started = []
    relay_stop = asyncio.Event()
    relay_task = asyncio.create_task(
        container.relay.run(relay_stop, flush_seconds=settings.shutdown_flush_seconds),
        name="relay",
    )
    scheduler = start_scheduler(container)
    health = container.relay.health
    probes = asyncio.create_task(health.run(stop), name="probes") if health else None
    listener = OutboxListener(container.engine, container.relay.wake)  # other instances' posts
    await listener.start()
    http_open = True
    try:
        for name, channel in container.channels.items():
            running = await start_channel(container, name, channel)
            started.append(channel)  # stopped at the end even when it started later
            if not running:
                continue  # its token is refused: paused until it works (bot.channel_health)
            if channel.bot_username is not None:
                container.dispatcher.bot_usernames[name] = channel.bot_username
            await publish_commands(name, channel, container)
            log.info("channel %s started", name)
        log.info("listening on http://%s:%s", settings.http_host, container.http_port)
        await stop.wait()
        log.info("stopping: no more updates; finishing those under way")
        await runner.cleanup()  # stops listening, waits for requests in flight (webhooks)
        http_open = False
        # Stopping a channel closes its HTTP client: first let sends under way finish.
        await container.relay.pause(SEND_GRACE)
        for channel in reversed(started):  # polling stops after the update in hand
            with contextlib.suppress(Exception):
                await channel.stop()
        await scheduler.stop()
    finally:
        if http_open:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        with contextlib.suppress(Exception):
            await scheduler.stop()
        await listener.stop()
        container.relay.resume()
        relay_stop.set()
        if probes is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(probes, HTTP_GRACE)
        grace = settings.shutdown_flush_seconds + 10.0
        try:
            await asyncio.wait_for(relay_task, grace)
        except Exception:
            log.warning("relay did not stop within %.0fs", grace)
        for channel in reversed(started):  # the flush may have reopened a client
            with contextlib.suppress(Exception):
                await channel.stop()
        log.info("stopped")


async def run_forever(container: Container) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(container, stop)
    finally:
        await container.close()
