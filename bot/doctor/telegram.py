"""The Telegram half of the doctor: token, group privacy, each team group, the webhook.

Only reads (getMe, getChat, getChatMember, getWebhookInfo): running it next to the bot
changes nothing the bot or its people see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.channels.base import DeliveryError
from bot.channels.telegram import ChatUpgraded, TelegramApi
from bot.config import Settings
from bot.doctor.findings import Check, Finding, Status
from bot.doctor.platform import (
    Pause,
    PlatformSetup,
    TeamChat,
    introduced,
    no_answer,
    token_refused,
    unreachable,
    webhook_registration,
)

if TYPE_CHECKING:
    from telegram.ext import ExtBot

CHANNEL = "telegram"
#: getChatMember statuses of someone no longer in the chat.
OUT_OF_CHAT = frozenset({"left", "kicked"})
#: Statuses that may always post.
ADMINS = frozenset({"creator", "administrator"})
#: People asked about to learn whether a basic group became a supergroup.
UPGRADE_PROBES = 3


async def check_telegram(
    settings: Settings, setup: PlatformSetup, chats: Sequence[TeamChat], pause: Pause
) -> list[Finding]:
    assert setup.token is not None
    api = TelegramApi(setup.token, setup.api_url, setup.timeout)
    admins = tuple(
        uid.partition(":")[2] for uid in sorted(settings.admin_set) if uid.startswith("telegram:")
    )
    async with api.reader() as bot:
        try:
            me = await api.get_me(bot)
        except DeliveryError as exc:
            return [token_refused(setup, exc, "doctor.token.refused.telegram_hint")]
        name = f"@{me['username']}" if me.get("username") else str(me.get("first_name", ""))
        findings = introduced(setup, me, name, "doctor.groups.closed.telegram_hint")
        findings.append(_privacy(me))
        probe = _Probe(api, bot, setup, int(me["id"]), admins)
        for chat in chats:
            findings.append(await probe.chat(chat))
        findings += await probe.webhook(pause, settings.doctor_pending_interval_seconds)
    return findings


def _privacy(me: dict[str, Any]) -> Finding:
    """@BotFather's group privacy: off, or the bot misses what people type in groups."""
    if me.get("can_read_all_group_messages"):
        return Finding(Check.PRIVACY, Status.OK, "doctor.privacy.ok", channel=CHANNEL)
    return Finding(
        Check.PRIVACY, Status.FAIL, "doctor.privacy.on", "doctor.privacy.on.hint", {}, CHANNEL
    )


class _Probe:
    def __init__(
        self,
        api: TelegramApi,
        bot: ExtBot[None],
        setup: PlatformSetup,
        bot_id: int,
        admins: tuple[str, ...],
    ) -> None:
        self.api = api
        self.bot = bot
        self.setup = setup
        self.bot_id = bot_id
        self.admins = admins

    async def chat(self, chat: TeamChat) -> Finding:
        """Is the group there, is the bot in it, may it post, is the id still alive?"""
        values: dict[str, str | int] = {
            "team": chat.team,
            "name": chat.team_name,
            "chat": chat.chat_id,
            "chat_id": chat.chat_id,
            "platform": self.setup.label,
        }

        def found(status: Status, message: str, hint: str | None = None) -> Finding:
            return Finding(
                Check.CHAT, status, message, hint, values, CHANNEL, chat.team, chat.chat_id
            )

        try:
            info = await self.api.get_chat(self.bot, chat.chat_id)
            member = await self.api.get_chat_member(self.bot, chat.chat_id, self.bot_id)
        except DeliveryError as exc:
            if no_answer(exc):
                return unreachable(
                    self.setup, Check.CHAT, exc, team=chat.team, chat_id=chat.chat_id
                )
            values["reason"] = str(exc)  # no such chat, or the bot may not read it
            return found(Status.FAIL, "doctor.chat.unreachable", "doctor.chat.unreachable.hint")
        if info.get("title"):
            values["chat"] = f"«{info['title']}» ({chat.chat_id})"
        status = str(member.get("status", ""))
        values["status"] = status
        if status in OUT_OF_CHAT:
            return found(Status.FAIL, "doctor.chat.bot_out", "doctor.chat.bot_out.hint")
        if info.get("type") == "group":
            new_id = await self._upgraded_to(chat)
            if new_id is not None:
                values["new_id"] = new_id
                return found(Status.FAIL, "doctor.chat.upgraded", "doctor.chat.upgraded.hint")
        if status in ADMINS:
            return found(Status.OK, "doctor.chat.ok_admin")
        if not _may_post(status, member, info):
            return found(Status.FAIL, "doctor.chat.cannot_post", "doctor.chat.cannot_post.hint")
        return found(Status.OK, "doctor.chat.ok_member")

    async def _upgraded_to(self, chat: TeamChat) -> str | None:
        """A basic group that became a supergroup still answers getChat, and the bot's own
        membership; asking about anyone else is refused with the new id."""
        candidates = [
            int(person)
            for person in dict.fromkeys((*chat.people, *self.admins))
            if person.isdigit() and int(person) != self.bot_id
        ]
        for person in candidates[:UPGRADE_PROBES]:
            try:
                await self.api.get_chat_member(self.bot, chat.chat_id, person)
            except ChatUpgraded as moved:
                return moved.new_chat_id
            except DeliveryError:
                continue  # someone Telegram does not know: ask about the next one
            return None
        return None

    async def webhook(self, pause: Pause, seconds: float) -> list[Finding]:
        """Where updates go, the last delivery error, and a backlog that only grows."""
        try:
            before = await self.api.get_webhook_info(self.bot)
            await pause(seconds)
            after = await self.api.get_webhook_info(self.bot)
        except DeliveryError as exc:
            return [unreachable(self.setup, Check.WEBHOOK, exc)]
        found = [webhook_registration(self.setup, str(after.get("url") or ""))]
        waiting = int(after.get("pending_update_count") or 0)
        error = _last_error(after)
        if error is not None:
            at, text = error
            values = {"when": at, "error": text, "count": waiting, "url": after.get("url") or ""}
            found.append(
                Finding(
                    Check.WEBHOOK_ERROR,
                    Status.WARN,
                    "doctor.webhook.error_waiting",
                    "doctor.webhook.error_waiting.hint",
                    values,
                    CHANNEL,
                )
                if waiting
                else Finding(
                    Check.WEBHOOK_ERROR,
                    Status.OK,
                    "doctor.webhook.error_past",
                    None,
                    values,
                    CHANNEL,
                )
            )
        earlier = int(before.get("pending_update_count") or 0)
        values = {"before": earlier, "count": waiting, "seconds": f"{seconds:g}"}
        found.append(
            Finding(
                Check.PENDING,
                Status.FAIL,
                "doctor.pending.growing",
                "doctor.pending.growing.hint",
                values,
                CHANNEL,
            )
            if waiting > earlier
            else Finding(Check.PENDING, Status.OK, "doctor.pending.steady", None, values, CHANNEL)
        )
        return found


def _may_post(status: str, member: dict[str, Any], info: dict[str, Any]) -> bool:
    """A restricted bot by its own rights; a plain member by what the group allows all."""
    if status == "restricted":
        return bool(member.get("can_send_messages", False))
    permissions = info.get("permissions")
    if isinstance(permissions, dict):
        return bool(permissions.get("can_send_messages", True))
    return True


def _last_error(info: dict[str, Any]) -> tuple[datetime, str] | None:
    stamp = info.get("last_error_date")
    if not isinstance(stamp, int | float) or stamp <= 0:
        return None
    return datetime.fromtimestamp(stamp, UTC), str(info.get("last_error_message") or "")
