"""Who hears that a chat refuses the bot's messages: the relay calls this when it gives
a message up.

A person's private chat (the bot blocked) is told to the team's group once per case: the
case needs someone to call the customer. A team's group that refuses (a wrong id, the
bot removed) is told to the team's leads once per chat, not once per case: one warning
that names the group and how to take it off the team.
"""

from __future__ import annotations

from bot.channels.base import Outbound
from bot.domain.clock import Clock
from bot.i18n import Translator
from storage.outbox_store import OutboxRow, OutboxStore


class LeadNotices:
    def __init__(self, store: OutboxStore, tr: Translator, clock: Clock) -> None:
        self.store = store
        self.tr = tr
        self.clock = clock

    async def __call__(self, row: OutboxRow) -> int:
        if row.case_id is None:
            return 0
        plan = await self.store.notice_plan(row.case_id, row.key)
        if plan is None:
            return 0
        queued = 0
        for target in plan.targets:
            where = f"{row.channel}:{row.chat_id}:{target.channel}:{target.chat_id}"
            if plan.team_chat:
                text = self.tr.t(
                    target.lang,
                    "relay.team_chat_undeliverable",
                    ref=plan.case_ref,
                    team=plan.team_code,
                    name=plan.recipient,
                    channel=row.channel,
                    chat=row.chat_id,
                )
                key = f"undeliverable-chat:{where}"
            else:
                text = self.tr.t(
                    target.lang, "relay.undeliverable", ref=plan.case_ref, who=plan.recipient
                )
                key = f"undeliverable:{row.case_id}:{where}"
            if await self.store.add_once(
                target.channel, target.chat_id, Outbound(text=text).to_json(), key, self.clock.now()
            ):
                queued += 1
        return queued
