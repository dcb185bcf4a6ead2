"""Private messages for a person the bot cannot reach yet, kept until they write to it.

A worker who never pressed Start (or blocked the bot, or whose account is gone) cannot get
the message with the customer's phone. Instead of failing it, the relay hands it here:

- it is *held* (storage.held_store): out of the chat's queue, nothing lost;
- the person's team group is told once per spell of waiting, naming him (as the team
  knows him, never his phone), with a button that opens the bot's private chat
  (`t.me/<bot>?start=held`) or, where there are no such links (Zalo), the words to do so;
- as soon as he writes anything to the bot in private, his held messages go out in the
  order they were written (`releasing`, in front of the handlers);
- after HELD_MESSAGE_HOURS a held message fails and the group is told (`expire`, a
  scheduler pass).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.channels.base import (
    Button,
    ButtonKind,
    Channel,
    ChatKind,
    DeliveryError,
    HandleResult,
    Inbound,
    InboundSink,
    Outbound,
)
from bot.channels.reach import HELD_START, PersonUnreachable, Unreach
from bot.domain.clock import Clock
from bot.i18n import Translator
from bot.metrics import Metrics
from storage.held_store import ExpiredHeld, HeldPlan, HeldStore, held_error
from storage.outbox_model import ChatKey, NoticeTarget, OutboxRow
from storage.outbox_store import OutboxStore

log = logging.getLogger(__name__)

#: How a channel's users open the bot's private chat from a link, where they can.
OPEN_LINKS: dict[str, str] = {"telegram": "https://t.me/{bot}?start=" + HELD_START}


class HeldMessages:
    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Channel],
        tr: Translator,
        clock: Clock,
        expiry: timedelta,
        metrics: Metrics | None = None,
    ) -> None:
        self.outbox = store
        self.store = HeldStore(store.engine)
        self.channels = channels
        self.tr = tr
        self.clock = clock
        self.expiry = expiry
        self.metrics = metrics

    async def hold(self, row: OutboxRow, error: DeliveryError) -> bool:
        """Keep `row` when `error` says its person cannot be reached yet (False: it is
        some other failure, not ours); the team is told once per spell of waiting."""
        if not isinstance(error, PersonUnreachable):
            return False
        now = self.clock.now()
        spell = await self.store.hold(row, held_error(error.reason, str(error)), now)
        log.warning(
            "relay: %s cannot be reached yet (%s); message kept until they write to the bot",
            row.key,
            error.reason.value,
        )
        plan = await self.store.plan(row.key, row.case_id)
        if plan is None:
            return True
        for target in plan.targets:
            message = self._notice(row.key, error.reason, plan, target)
            dedupe = f"held:{row.channel}:{row.chat_id}:{spell}:{target.channel}:{target.chat_id}"
            await self.outbox.add_once(
                target.channel, target.chat_id, message.to_json(), dedupe, now
            )
        return True

    def _notice(
        self, key: ChatKey, reason: Unreach, plan: HeldPlan, target: NoticeTarget
    ) -> Outbound:
        lang = target.lang
        hours = _hours(self.expiry)
        text = self.tr.t(lang, f"held.{reason.value}", name=plan.name, hours=hours)
        if reason is Unreach.DEACTIVATED:
            return Outbound(text=text)  # nothing he can open: the lead has to act
        link = self._open_link(key.channel)
        if link is None:  # Zalo: no links into a private chat
            return Outbound(text=text + "\n" + self.tr.t(lang, "held.open_text", name=plan.name))
        shown_in = self.channels.get(target.channel)
        if shown_in is None or not shown_in.capabilities.buttons:  # a Zalo group of the team
            line = self.tr.t(lang, "held.open_link", name=plan.name, link=link)
            return Outbound(text=text + "\n" + line)
        button = Button(self.tr.t(lang, "held.open_button"), link, ButtonKind.URL)
        return Outbound(text=text, buttons=((button,),))

    def _open_link(self, channel: str) -> str | None:
        pattern = OPEN_LINKS.get(channel)
        found = self.channels.get(channel)
        bot = found.bot_username if found is not None else None
        return pattern.format(bot=bot) if pattern and bot else None

    async def release(self, inbound: Inbound) -> int:
        """A person wrote to the bot in private: what was kept for them goes out now."""
        if inbound.chat_kind is not ChatKind.PRIVATE:
            return 0
        key = ChatKey(inbound.channel, inbound.address.chat_id)
        released = await self.store.release(key, self.clock.now())
        if released:
            log.info("relay: %s wrote to the bot; %d kept message(s) go out now", key, released)
        return released

    async def expire(self, at: datetime) -> list[ExpiredHeld]:
        """Fail what waited longer than the expiry; the person's team is told."""
        expired = await self.store.expire(at - self.expiry)
        for gone in expired:
            log.warning("relay: %d kept message(s) to %s expired unread", gone.count, gone.key)
            if self.metrics is not None:
                self.metrics.failed.inc(gone.key.channel, by=gone.count)
            plan = await self.store.plan(gone.key, None)
            if plan is None:
                continue
            refs = ", ".join(gone.refs) or "—"
            for target in plan.targets:
                text = self.tr.t(
                    target.lang,
                    "held.expired",
                    name=plan.name,
                    count=gone.count,
                    hours=_hours(self.expiry),
                    refs=refs,
                )
                dedupe = (
                    f"held-expired:{gone.key.channel}:{gone.key.chat_id}:{gone.last_id}"
                    f":{target.channel}:{target.chat_id}"
                )
                await self.outbox.add_once(
                    target.channel, target.chat_id, Outbound(text=text).to_json(), dedupe, at
                )
        return expired


def _hours(expiry: timedelta) -> int:
    return max(1, round(expiry / timedelta(hours=1)))


def releasing(
    held: HeldMessages | None, wake: Callable[[], None], sink: InboundSink
) -> InboundSink:
    """The handlers, after the person's kept messages were put back in their queue: those
    were written first, so they go out before any answer to what he just wrote."""
    if held is None:
        return sink

    async def handle(inbound: Inbound) -> HandleResult:
        try:
            if await held.release(inbound):
                wake()
        except Exception:  # the update is still handled; the next one tries again
            log.exception("relay: releasing kept messages for %s failed", inbound.address)
        return await sink(inbound)

    return handle
