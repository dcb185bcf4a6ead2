"""What the relay does when a send or edit fails, by what the refusal means.

The meaning comes from one table (`bot.channels.refusals`); here is what follows from it:

- 429: the chat waits as long as asked.
- A refusal that cannot succeed (blocked, chat gone, any other 4xx, a proxy's page):
  the message is final at once, the team is told (`LeadNotices`), the chat goes on.
- An unknown or repeated failure (5xx, timeout): backoff, bounded. After
  `give_up_attempts` tries while another send succeeded since its first failure, or
  after `give_up_seconds` while the platform answers at all (a send elsewhere, or
  getMe), the message is given up, the team is told, the chat goes on. With the
  platform down as a whole nothing is given up: the chat waits, every message kept.
- A group upgraded to a supergroup: the team and the queue move (`bot.chat_moves`).
- A refused token: the channel pauses (`bot.channel_health`), every message kept.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.channels.base import DeliveryError, Outbound, PermanentFailure, RetryLater
from bot.channels.refusals import ChatMoved, ChatRefuses, TokenRefused
from bot.domain.clock import Clock
from bot.i18n import Translator
from bot.metrics import Metrics
from storage.outbox_store import DeliveryState, OutboxRow, OutboxStore

if TYPE_CHECKING:
    from bot.channel_health import ChannelHealth
    from bot.chat_moves import ChatMover

log = logging.getLogger("bot.relay")

#: Longest a chat of a paused channel is left alone before it is looked at again.
PAUSED_HOLD = 5.0


@dataclass(frozen=True)
class Deferral:
    """The chat must wait until `until` (epoch seconds)."""

    until: float


@dataclass(frozen=True)
class GiveUpRule:
    """How long one message may hold its chat with failures that are not final."""

    attempts: int = 5
    seconds: float = 120.0


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0
    max: float = 300.0


class NoticeKey:
    """Why a message was given up: the catalogue key of what the team is told."""

    REFUSED = "relay.undeliverable"  # the chat refuses the bot (blocked, gone)
    REJECTED = "relay.rejected"  # the platform refused this message for good
    GIVEN_UP = "relay.given_up"  # it kept failing while the platform worked


class LeadNotices:
    """Tells the people who can act that a case's message did not arrive: a person's chat
    to the team's group once per case, chat and reason (someone must call the customer);
    a team's own group that refuses the bot to its leads once per group, not once per
    case, naming the group and how to take it off the team."""

    def __init__(self, store: OutboxStore, tr: Translator, clock: Clock) -> None:
        self.store = store
        self.tr = tr
        self.clock = clock

    async def __call__(self, row: OutboxRow, key: str = NoticeKey.REFUSED) -> int:
        if row.case_id is None:
            return 0
        plan = await self.store.notice_plan(row.case_id, row.key)
        if plan is None:
            return 0
        queued = 0
        kind = "undeliverable" if key == NoticeKey.REFUSED else key
        for target in plan.targets:
            where = f"{row.channel}:{row.chat_id}:{target.channel}:{target.chat_id}"
            if plan.team_chat and key == NoticeKey.REFUSED:
                text = self.tr.t(
                    target.lang,
                    "relay.team_chat_undeliverable",
                    ref=plan.case_ref,
                    team=plan.team_code,
                    name=plan.recipient,
                    channel=row.channel,
                    chat=row.chat_id,
                )
                dedupe = f"undeliverable-chat:{where}"
            else:
                text = self.tr.t(target.lang, key, ref=plan.case_ref, who=plan.recipient)
                dedupe = f"{kind}:{row.case_id}:{where}"
            if await self.store.add_once(
                target.channel,
                target.chat_id,
                Outbound(text=text).to_json(),
                dedupe,
                self.clock.now(),
            ):
                queued += 1
        return queued


Notices = Callable[[OutboxRow, str], Awaitable[int]]


class Setbacks:
    """The relay's answer to each failed call; its memory of first failures is its own."""

    def __init__(
        self,
        store: OutboxStore,
        metrics: Metrics,
        clock: Clock,
        now: Callable[[], float],
        wake: Callable[[], None],
        *,
        backoff: Backoff,
        rule: GiveUpRule,
        notices: Notices | None = None,
        health: ChannelHealth | None = None,
        mover: ChatMover | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self._now = now
        self._wake = wake
        self.backoff = backoff
        self.rule = rule
        self.notices = notices
        self.health = health
        self.mover = mover
        self._first_failure: dict[int, float] = {}
        self._last_ok: dict[str, float] = {}

    def _at(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, UTC)

    def sent(self, row: OutboxRow) -> None:
        """A call went through: this message holds nothing, the platform works."""
        self._first_failure.pop(row.id, None)
        self._last_ok[row.channel] = self._now()

    def paused_until(self, channel: str) -> float | None:
        """While the channel's token is refused, when to look at its chats again: soon,
        so another instance, or this one restarted with a new token, goes on at once."""
        if self.health is None or not self.health.is_paused(channel):
            return None
        return self._now() + self._paused_hold()

    def _paused_hold(self) -> float:
        probe = self.health.probe_seconds if self.health is not None else PAUSED_HOLD
        return min(probe, PAUSED_HOLD)

    async def handle(self, row: OutboxRow, error: DeliveryError) -> Deferral | None:
        """Act on a failed call; a `Deferral` when the chat must wait, else None."""
        if isinstance(error, RetryLater):
            until = self._now() + max(0.0, error.retry_after)
            self.metrics.too_many_requests.inc(row.channel)
            self.metrics.retries.inc(row.channel, "429")
            log.info("relay: %s asked us to wait %.1fs", row.key, error.retry_after)
            await self.store.retry(row, self._at(until), str(error))
            return Deferral(until)
        if isinstance(error, TokenRefused) and self.health is not None:
            await self.health.token_refused(row.channel, str(error))
            until = self._now() + self._paused_hold()
            await self.store.retry(row, self._at(until), str(error), counted=False)
            return Deferral(until)
        if isinstance(error, ChatMoved) and self.mover is not None:
            await self.mover(row.channel, row.chat_id, error.new_chat_id)
            return Deferral(self._now())  # this chat's queue is gone; the new one is claimed
        if isinstance(error, PermanentFailure):
            key = NoticeKey.REFUSED if isinstance(error, ChatRefuses) else NoticeKey.REJECTED
            await self.give_up(row, str(error), key)
            return None
        return await self._transient(row, str(error))

    async def _transient(self, row: OutboxRow, error: str) -> Deferral | None:
        now = self._now()
        first = self._first_failure.setdefault(row.id, now)
        tries = row.attempts + 1
        deadline = first + self.rule.seconds
        over_tries, over_time = tries >= self.rule.attempts, now >= deadline
        if (over_tries or over_time) and await self._platform_works(
            row.channel, first, ask=over_time
        ):
            self._first_failure.pop(row.id, None)
            await self.give_up(row, f"{error} (after {tries} tries)", NoticeKey.GIVEN_UP)
            return None
        delay = min(self.backoff.max, self.backoff.base * 2.0 ** min(row.attempts, 20))
        delay *= random.uniform(0.5, 1.0)
        if now < deadline:  # back in time to give up on the dot
            delay = min(delay, max(0.05, deadline - now))
        until = now + delay
        self.metrics.retries.inc(row.channel, "error")
        log.info("relay: sending to %s failed (%s); again in %.1fs", row.key, error, delay)
        await self.store.retry(row, self._at(until), error)
        return Deferral(until)

    async def _platform_works(self, channel: str, since: float, *, ask: bool) -> bool:
        """Another send succeeded since this message first failed; or, past the time
        bound (`ask`), getMe answers. Sends failing everywhere (an outage, even one that
        spares getMe) give nothing up before the time bound."""
        if self._last_ok.get(channel, -math.inf) >= since:
            return True
        if not ask:
            return False
        if self.health is None:
            return True  # nothing to ask: the time bound alone decides
        works = await self.health.answers(channel)
        if works:
            self._last_ok[channel] = self._now()
        else:
            log.warning("relay: %s does not answer at all; messages wait for it", channel)
        return works

    async def give_up(self, row: OutboxRow, error: str, key: str) -> None:
        """Final: the message is marked failed, counted, and the team told."""
        log.warning("relay: message to %s given up: %s", row.key, error)
        self.metrics.failed.inc(row.channel)
        self.metrics.given_up.inc(row.channel, key.removeprefix("relay."))
        await self.store.mark(row, DeliveryState.FAILED, error)
        if key == NoticeKey.REFUSED:
            await self.store.chat_failed(row.key, self.clock.now(), error)
        if self.notices is not None:
            try:
                if await self.notices(row, key):
                    self._wake()
            except Exception:
                log.exception("relay: telling the team about %s failed", row.key)
