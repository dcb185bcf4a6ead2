"""The Zalo half of the doctor: token, groups, the webhook.

Zalo's Bot API has no way to look a group up (no getChat, no getChatMember) and its
getWebhookInfo tells no errors or backlog, so those checks say they could not be made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.channels.base import DeliveryError, UpdateMode
from bot.channels.zalo import ZaloApi
from bot.config import Settings
from bot.doctor.findings import Check, Finding, Status
from bot.doctor.platform import (
    CHANNEL_LABELS,
    Pause,
    PlatformSetup,
    TeamChat,
    token_refused,
    unreachable,
    webhook_registration,
)

CHANNEL = "zalo"


def setup_of(settings: Settings) -> PlatformSetup:
    return PlatformSetup(
        channel=CHANNEL,
        label=CHANNEL_LABELS[CHANNEL],
        api_url=settings.zalo_api_url,
        mode=UpdateMode(settings.zalo_mode.value),
        webhook_url=settings.zalo_webhook_url,
        token_variable="ZALO_BOT_TOKEN",
        mode_variable="ZALO_MODE",
        url_variable="ZALO_WEBHOOK_URL",
    )


async def check_zalo(settings: Settings, chats: Sequence[TeamChat], pause: Pause) -> list[Finding]:
    assert settings.zalo_bot_token is not None
    setup = setup_of(settings)
    api = ZaloApi(
        settings.zalo_bot_token, settings.zalo_api_url, timeout=settings.platform_timeout_seconds
    )
    try:
        me = await api.get_me()
    except DeliveryError as exc:
        return [token_refused(setup, exc, "doctor.token.refused.zalo_hint")]
    findings = [_token(me)]
    if me.get("can_join_groups") is False:
        findings.append(
            Finding(
                Check.GROUPS,
                Status.OK,  # docs/security.md advises it once the groups are set up
                "doctor.groups.closed",
                "doctor.groups.closed.zalo_hint",
                {},
                CHANNEL,
            )
        )
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


def _token(me: dict[str, Any]) -> Finding:
    name = next(
        (str(me[k]) for k in ("display_name", "account_name", "name") if me.get(k)), "Zalo bot"
    )
    return Finding(
        Check.TOKEN,
        Status.OK,
        "doctor.token.ok",
        None,
        {"name": name, "id": str(me.get("id", ""))},
        CHANNEL,
    )
