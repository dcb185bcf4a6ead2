"""The Zalo half of the doctor: token, groups, the webhook.

Zalo's Bot API has no way to look a group up (no getChat, no getChatMember) and its
getWebhookInfo tells no errors or backlog, so those checks say they could not be made.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.base import DeliveryError
from bot.channels.zalo import ZaloApi
from bot.config import Settings
from bot.doctor.findings import Check, Finding, Status
from bot.doctor.platform import (
    Pause,
    PlatformSetup,
    TeamChat,
    introduced,
    token_refused,
    unreachable,
    webhook_registration,
)

CHANNEL = "zalo"


async def check_zalo(
    settings: Settings, setup: PlatformSetup, chats: Sequence[TeamChat], pause: Pause
) -> list[Finding]:
    assert setup.token is not None
    api = ZaloApi(setup.token, setup.api_url, timeout=setup.timeout)
    try:
        me = await api.get_me()
    except DeliveryError as exc:
        return [token_refused(setup, exc, "doctor.token.refused.zalo_hint")]
    name = next((str(me[k]) for k in ("display_name", "account_name", "name") if me.get(k)), "")
    findings = introduced(setup, me, name, "doctor.groups.closed.zalo_hint")
    findings += [
        Finding(
            Check.CHAT,
            Status.SKIP,
            "doctor.chat.zalo_unchecked",
            "doctor.chat.zalo_unchecked.hint",
            {"team": chat.team, "chat_id": chat.chat_id},
            CHANNEL,
            chat.team,
            chat.chat_id,
        )
        for chat in chats
    ]
    try:
        info = await api.get_webhook_info()
    except DeliveryError as exc:
        findings.append(unreachable(setup, Check.WEBHOOK, exc))
    else:
        findings.append(webhook_registration(setup, str(info.get("url") or "")))
    return findings
