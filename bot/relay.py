"""Delivers the outbox after commit: in order per chat, within the platform's limits.

How it works (docs/operations.md, "How messages are delivered"):

- The relay leases whole chats (storage.outbox_store): one instance sends to a chat at a
  time, oldest message first, so a chat sees its messages in the order they were written.
  Up to RELAY_CONCURRENCY chats are delivered at once.
- Every platform call waits for a token of the chat's limit, the group's limit and the
  channel's overall limit (bot.pacing), so the platform never has to answer 429.
- A 429 holds back just that chat for its ``retry_after``; a 5xx or a network error holds
  it back with capped exponential backoff and jitter; "message is not modified" counts as
  sent; a person not reachable yet (never pressed Start) has it kept (bot.held); a chat
  that is gone makes it fail at once, and the case's team (or its leads) is told once.
- A long text goes out in parts (`Outbound.parts`: cut at line ends, as the channel
  counts), each recorded when sent, so a retry never repeats a part. A send's start is
  committed just before it (after any pacing wait), each result right after its call,
  with other chats' that come meanwhile (storage.group_commit): a crash never hides a
  send. When the chat's next send may go at once, its start goes with the record of the
  one before: a busy chat's sends follow each other with one transaction between them.
  An edit in place writes no start: made again, it shows once ("not modified").
- Per visit, the claim reads the chat's queue, the record of the queue's last message
  gives the chat back, and the end looks for more only when a claim came meanwhile that
  may have missed rows for it. While the relay runs, a commit that writes to a free chat
  leases it to this relay in that commit, queue read: no claim (bot.relay_claims).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TypeVar

from bot.channel_health import ChannelHealth
from bot.channels.base import (
    Channel,
    DeliveryError,
    MessageGone,
    NotModified,
    Outbound,
    Sent,
    TransientFailure,
)
from bot.channels.reach import PersonUnreachable
from bot.config import ChannelLimits
from bot.domain.clock import Clock
from bot.held import HeldMessages
from bot.logs import case_context
from bot.metrics import Metrics
from bot.pacing import ChatPacer, Interrupted, SharedWindows, chat_windows
from bot.relay_claims import ChatClaims
from bot.relay_setbacks import Backoff, Deferral, LeadNotices, Notices, Setbacks
from bot.relay_worker import Deferred, Halted, RelayOptions, Worker, startable
from storage.outbox_store import OutboxRow, OutboxStore

__all__ = ["Deferral", "LeadNotices", "Relay", "RelayOptions"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: How long a chat whose channel is not configured here waits before it is looked at again.
NO_CHANNEL_DELAY = 60.0
#: After the flush deadline, how long a send already under way may take to finish.
STOP_GRACE = 5.0


class Relay(ChatClaims):
    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        limits: Mapping[str, ChannelLimits] | None = None,
        options: RelayOptions | None = None,
        metrics: Metrics | None = None,
        notices: Notices | None = None,
        held: HeldMessages | None = None,
        owner: str | None = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.channels = channels
        self.clock = clock
        self.limits = dict(limits or {})
        self.options = opts = options or RelayOptions()
        self.metrics = metrics or Metrics()
        self.setbacks = Setbacks(
            store,
            self.metrics,
            clock,
            now,
            self.wake,
            backoff=Backoff(opts.base_backoff, opts.max_backoff),
            rule=opts.give_up,
            notices=notices,
        )
        self.held = held
        self.owner = owner or f"relay-{random.getrandbits(48):012x}"
        self._now = now
        self._sleep = sleep
        self._started_at = now()
        self._changed = asyncio.Event()
        self._claims = 0
        self._taking = False
        self._asked = set()
        self._blind = False
        self._workers = {}
        self._shared = SharedWindows(self.limits)
        self._halt = False
        self._paused = False
        self._flush_until: float | None = None
        self._deferred_until: float | None = None
        self.sent = 0

    @property
    def health(self) -> ChannelHealth | None:
        """Which channels run, and which wait for their token (bot.channel_health)."""
        return self.setbacks.health

    # ------------------------------------------------------------------ control

    async def run(self, stop: asyncio.Event, *, flush_seconds: float = 0.0) -> None:
        """Deliver until `stop` is set, then for up to `flush_seconds` whatever can go."""
        beat = asyncio.create_task(self._heartbeat(), name="relay-heartbeat")
        flush_until: float | None = None
        self.take_commits()
        try:
            while True:
                if stop.is_set() and flush_until is None:
                    flush_until = self._flush_until = self._now() + flush_seconds
                    log.info("relay: flushing for up to %.0fs", flush_seconds)
                if flush_until is not None and self._now() >= flush_until:
                    break
                # Counted (see `_work`'s end) when it may miss rows for a chat a worker here
                # is on: the idle poll's, or a wake that named no chats.
                counted = self._blind or not self._changed.is_set()
                self._changed.clear()  # before claiming: a wake meanwhile is not lost
                self._blind = False
                asked, self._asked = self._asked, set()
                claimed = [] if self._paused else await self._claim_more(counted, asked)
                if flush_until is not None and not claimed and not self._workers:
                    break  # nothing left that can go before the deadline
                await self._idle(flush_until, stop)
        finally:
            self.take_commits(False)
            beat.cancel()
            await self._stop_workers()
            with contextlib.suppress(Exception):
                await self.store.release_all(self.owner)
            with contextlib.suppress(Exception):
                await self.store.leave(self.owner)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await beat

    async def pause(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let sends under way finish (up to `timeout` s), start none: the channels stop."""
        self._paused = True
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def resume(self) -> None:
        self._paused = False
        self.wake()

    async def _idle(self, flush_until: float | None, stop: asyncio.Event) -> None:
        now = self._now()
        timeout = self.options.idle_poll
        if self._deferred_until is not None:
            timeout = min(timeout, max(0.01, self._deferred_until - now))
        if flush_until is not None:
            timeout = min(timeout, max(0.0, flush_until - now))
        waiters = [asyncio.ensure_future(self._changed.wait())]
        if not stop.is_set():
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _stop_workers(self) -> None:
        """Let sends under way finish (bounded), then cancel what is left."""
        self._halt = True
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        self._workers.clear()
        self._halt = False

    async def _heartbeat(self) -> None:
        """Renew our chats' leases and say we are alive, a few times per lease."""
        period = self.options.lease_seconds / 3
        while True:
            await self._sleep(period)
            now = self._now()
            try:
                live = await self.store.heartbeat(
                    self.owner,
                    self._at(now),
                    self._at(self._started_at),
                    self._at(now - 3 * period),
                )
                self._shared.share_between(live)
                self.metrics.relay_instances.set(self._shared.instances)
                keys = list(self._workers)
                if keys:
                    until = now + self.options.lease_seconds
                    renewed = await self.store.renew_leases(self.owner, keys, self._at(until))
                    for key in keys:
                        if (worker := self._workers.get(key)) is not None:
                            worker.renewal(key in renewed, until)
            except Exception:
                log.warning("relay: heartbeat failed", exc_info=True)

    # ------------------------------------------------------------------ one pass

    async def drain(self) -> int:
        """Deliver everything deliverable now, chat by chat; how many went out (tools, tests)."""
        before = self.sent
        while True:
            claims = await self._claim_more()
            if not claims:
                break
            tasks = [w.task for w in list(self._workers.values()) if w.task is not None]
            await asyncio.gather(*tasks, return_exceptions=True)
        tasks = [w.task for w in list(self._workers.values()) if w.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.sent - before

    # ------------------------------------------------------------------ a chat

    async def _work(self, worker: Worker) -> None:
        key = worker.claim.key
        not_before: float | None = None
        pacer: ChatPacer | None = None
        try:
            channel = self.channels.get(key.channel)
            if channel is None:
                not_before = self._now() + NO_CHANNEL_DELAY
                return
            not_before = self.setbacks.paused_until(key.channel)  # its token is refused
            if not_before is not None:
                return
            limits = self.limits.get(key.channel) or ChannelLimits(None, None, None)
            pacer = ChatPacer(
                chat_windows(
                    limits.per_chat, limits.per_group, worker.claim.is_group, worker.claim.pacing
                ),
                self._shared.window(key.channel),
                self._now,
                self._sleep,
            )
            rows = list(worker.claim.queue)  # read with the claim
            while True:
                await self._check(worker)
                if not rows:
                    worker.more = False  # what woke it is in what it reads now
                    rows = await self.store.queue(key, self.options.batch)
                if not rows:
                    break
                # A short batch is the chat's whole queue: the record of its last message
                # gives the chat back. A row written since is pending in the database and
                # its commit woke the relay, so the chat is claimed again after that;
                # asking once more here would only cost a transaction per visit.
                whole = len(rows) < self.options.batch
                deferral = await self._deliver_batch(worker, channel, pacer, rows, whole=whole)
                if deferral is not None:
                    not_before = deferral.until
                    break
                if (again := worker.goes_on(self.options.batch)) is not None:
                    rows = list(again)
                    continue
                if whole and (worker.released or not worker.more):
                    break
                rows = []
        except Halted:
            pass
        except Deferred as e:
            not_before = e.until
        except Exception:
            log.exception("relay: delivering to %s failed", key)
            not_before = self._now() + self.options.base_backoff
        finally:
            if worker.started is not None and pacer is not None:
                pacer.cancel()  # not made: its start stays written, so it counts as uncertain
            self._workers.pop(key, None)
            if not_before is not None:
                self._deferred_until = min(self._deferred_until or not_before, not_before)
            if not worker.released or worker.claimed_again or not_before is not None:
                with contextlib.suppress(Exception):
                    await self.store.release_chat(
                        self.owner, key, self._at(not_before) if not_before is not None else None
                    )
            # Look for work again if a claim was made (or skipped) while this chat was ours:
            # it may have found the chat leased, or no worker free; or to wait for a chat
            # held back, or to end a flush. Otherwise a message written since woke a claim
            # that comes after this release, and another here would only cost a transaction.
            # And if rows came for the chat too late for this worker to read them.
            quiet = self._claims == worker.claims_seen and self._flush_until is None
            if not_before is not None or not quiet or worker.more or worker.claimed_again:
                self.wake([key])

    async def _check(self, worker: Worker, *, started: bool = False) -> None:
        """Go on only while we may: not stopping, the chat's lease ours (renewed when half used).
        A send whose start is written (`started`) is under way: only the lease stops it."""
        if worker.lost or (not started and (self._halt or self._paused)):
            raise Halted
        now = self._now()
        lease = self.options.lease_seconds
        if now < worker.lease_deadline - lease / 2:
            return
        key = worker.claim.key
        renewed = await self.store.renew_leases(self.owner, [key], self._at(now + lease))
        worker.renewal(key in renewed, now + lease)
        if key not in renewed:
            raise Halted

    async def _deliver_batch(
        self,
        worker: Worker,
        channel: Channel,
        pacer: ChatPacer,
        rows: list[OutboxRow],
        *,
        whole: bool,
    ) -> Deferral | None:
        """Send `rows` in order; `whole`: they are the chat's whole queue, so the record
        of the last one gives the chat back in its transaction."""
        superseded = [row for row in rows if row.superseded]
        if superseded:
            await self.store.supersede(superseded)
            self.metrics.superseded.inc(rows[0].channel, by=len(superseded))
        going = [row for row in rows if not row.superseded]
        for place, row in enumerate(going):
            closing = whole and place == len(going) - 1
            following = going[place + 1] if place + 1 < len(going) else None
            await self._check(worker, started=worker.has_started(row))
            with case_context(row.case_ref):
                if row.sending_at is not None:
                    self.metrics.uncertain.inc(row.channel)
                    log.warning(
                        "relay: a send to %s was interrupted before its answer was recorded;"
                        " sending it again, it may show twice",
                        row.key,
                    )
                    await self.store.note_uncertain(row)
                    row = replace(row, sending_at=None, uncertain=row.uncertain + 1)
                deferral = await self._deliver(
                    worker, channel, pacer, row, closing=closing, following=following
                )
                if deferral is not None:
                    return deferral
        return None

    async def _deliver(
        self,
        worker: Worker,
        channel: Channel,
        pacer: ChatPacer,
        row: OutboxRow,
        *,
        closing: bool,
        following: OutboxRow | None = None,
    ) -> Deferral | None:
        """Send one message; `closing`: it ends the visit, its last record gives the chat back;
        `following`: the visit's next message, whose start its last record may write."""
        message = Outbound.from_json(row.payload)
        # An update of a card already shown goes to `edit` on every channel: one that
        # cannot edit in place (Zalo) posts a short status message there instead.
        existing = row.card_message
        try:
            if existing is not None:
                try:
                    # Made again after a crash, an edit in place shows nothing twice (the
                    # platform answers "not modified"): its start need not be written.
                    # Where an edit posts a status message instead, it is marked as a send.
                    await self._call(
                        worker,
                        pacer,
                        row,
                        "edit",
                        channel.edit,
                        existing,
                        message,
                        mark=not channel.capabilities.edits,
                    )
                except MessageGone:
                    existing = None  # deleted in the chat: post the card anew
                except NotModified:
                    pass
                if existing is not None:
                    await self._record(
                        worker, row, 0, (), last=True, new_card=False, pacer=pacer, release=closing
                    )
                    return None
            parts = message.parts(channel.capabilities)
            for index in range(min(row.parts_sent, len(parts) - 1), len(parts)):
                sent = await self._call(worker, pacer, row, "send", channel.send, parts[index])
                last = index == len(parts) - 1
                await self._record(
                    worker,
                    row,
                    index,
                    sent.message_ids if isinstance(sent, Sent) else (),
                    last=last,
                    new_card=True,
                    pacer=pacer,
                    release=closing and last,
                    start=row if not last else startable(following),
                )
            return None
        except DeliveryError as e:
            held = self.held
            if isinstance(e, PersonUnreachable) and held is not None and await held.hold(row, e):
                self.wake()  # the team's notice waits in the outbox
                return None  # kept until the person writes: bot.held
            return await self.setbacks.handle(row, e)

    async def _call(
        self,
        worker: Worker,
        pacer: ChatPacer,
        row: OutboxRow,
        operation: str,
        fn: Callable[..., Awaitable[_T]],
        *args: object,
        mark: bool = True,
    ) -> _T:
        """One platform call, paced, with its start written down before it is made
        (`mark`; not for a call that, made twice, shows once)."""
        prestarted = worker.has_started(row)
        worker.started = None
        if not prestarted:  # else its tokens were taken and its start written with the record
            try:
                waited = await pacer.acquire(
                    lambda: self._halt or self._paused or worker.lost, lambda: self._flush_until
                )
            except Interrupted as e:
                if e.until is not None:
                    raise Deferred(e.until) from None
                raise Halted from None
            if waited:
                self.metrics.pacing_seconds.inc(row.channel, by=waited)
        try:
            await self._check(worker, started=prestarted)
            if mark and not prestarted:
                await self.store.begin_send(row, self.clock.now())
        except BaseException:
            pacer.cancel()
            raise
        started = time.perf_counter()
        calls = 1
        try:
            result = await fn(row.chat_id, *args)
            if isinstance(result, Sent):
                calls = max(1, len(result.message_ids))
            return result
        except DeliveryError:
            raise
        except Exception as e:  # an adapter's unexpected error: as good as a network error
            raise TransientFailure(f"{type(e).__name__}: {e}") from e
        finally:
            pacer.done(self._now(), calls=calls)
            self.metrics.send_seconds.observe(time.perf_counter() - started, row.channel, operation)

    async def _record(
        self,
        worker: Worker,
        row: OutboxRow,
        part: int,
        message_ids: tuple[str, ...],
        *,
        last: bool,
        new_card: bool,
        pacer: ChatPacer,
        release: bool,
        start: OutboxRow | None = None,
    ) -> None:
        """Write the result of a call that went out; retried, as losing it means a repeat.
        `release`: the visit ends with it, so the same transaction gives the chat back.
        `start`: the chat's next send; when it may go at once (tokens free, not stopping),
        the same transaction writes its start, so that send needs no transaction first.
        Rows committed for the chat since its queue was read keep it (`Worker.gives_back`)."""
        worker.giving = False
        if start is not None and (
            self._halt or self._paused or worker.lost or not pacer.take_now()
        ):
            start = None
        delay = 0.05
        for attempt in range(8):
            try:
                await self.store.part_sent(
                    row,
                    part,
                    message_ids,
                    self.clock.now(),
                    last=last,
                    new_card=new_card,
                    pacing=pacer.history(),
                    release=self.owner if release else None,
                    gives_back=worker.gives_back,
                    start=start,
                )
                break
            except Exception:
                if attempt == 7:
                    if start is not None:
                        pacer.cancel()
                    raise
                log.warning("relay: recording a send to %s failed; retrying", row.key)
                await self._sleep(delay)
                delay = min(delay * 2, 2.0)
        worker.released = release and worker.giving
        if worker.released:
            worker.gave_back = row.id
        worker.started = start
        self.setbacks.sent(row)
        if last:
            self.sent += 1
            self.metrics.sent.inc(row.channel)
