"""What the checks of every platform share: the chats to look at, the token and the
webhook registration, judged the same way whatever the platform."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.channels.base import DeliveryError, RetryLater, TransientFailure, UpdateMode
from bot.config import Settings
from bot.doctor.findings import Check, Finding, Status

#: How each channel is named to people.
CHANNEL_LABELS: dict[str, str] = {"telegram": "Telegram", "zalo": "Zalo"}

#: Waits between the two reads of the platform's waiting updates (tests play the world here).
Pause = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class TeamChat:
    """A group a team is bound to, and its people's ids on that group's channel."""

    team: str
    team_name: str
    channel: str
    chat_id: str
    people: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlatformSetup:
    """One channel as the settings describe it (every channel's settings are named alike:
    `TELEGRAM_BOT_TOKEN`, `ZALO_BOT_TOKEN`, ...)."""

    channel: str
    #: How the platform is named to people: Telegram, Zalo.
    label: str
    token: str | None = field(repr=False)
    api_url: str
    mode: UpdateMode
    webhook_url: str | None
    #: Longest wait for each call (PLATFORM_TIMEOUT_SECONDS).
    timeout: float

    @property
    def token_variable(self) -> str:
        return f"{self.channel.upper()}_BOT_TOKEN"

    @property
    def mode_variable(self) -> str:
        return f"{self.channel.upper()}_MODE"

    @property
    def url_variable(self) -> str:
        return f"{self.channel.upper()}_WEBHOOK_URL"


def setup_of(settings: Settings, channel: str) -> PlatformSetup:
    mode = getattr(settings, f"{channel}_mode")
    return PlatformSetup(
        channel=channel,
        label=CHANNEL_LABELS[channel],
        token=getattr(settings, f"{channel}_bot_token"),
        api_url=getattr(settings, f"{channel}_api_url"),
        mode=UpdateMode(mode.value),
        webhook_url=getattr(settings, f"{channel}_webhook_url"),
        timeout=settings.platform_timeout_seconds,
    )


def introduced(setup: PlatformSetup, me: Mapping[str, Any], name: str, hint: str) -> list[Finding]:
    """getMe answered: the token works. Whether groups may add the bot is @BotFather's (or
    Zalo's plan's) to say; closed is fine once the groups are set up (docs/security.md),
    so the line only says how to open them."""
    values = {"name": name, "id": str(me.get("id", ""))}
    found = [Finding(Check.TOKEN, Status.OK, "doctor.token.ok", None, values, setup.channel)]
    if me.get("can_join_groups") is False:
        found.append(
            Finding(Check.GROUPS, Status.OK, "doctor.groups.closed", hint, {}, setup.channel)
        )
    return found


def no_answer(error: DeliveryError) -> bool:
    """The platform did not answer, or not yet: nothing was learnt. Any other error is
    the platform's answer, a refusal."""
    return isinstance(error, TransientFailure | RetryLater)


def unreachable(setup: PlatformSetup, check: Check, error: DeliveryError, **about: str) -> Finding:
    """The platform did not answer (network, timeout, its own 5xx): nothing was learnt."""
    values = {"platform": setup.label, "reason": str(error), "url": setup.api_url}
    return Finding(
        check,
        Status.FAIL,
        "doctor.unreachable",
        "doctor.unreachable.hint",
        values,
        setup.channel,
        about.get("team"),
        about.get("chat_id"),
    )


def token_refused(setup: PlatformSetup, error: DeliveryError, hint: str) -> Finding:
    """getMe failed: a refusal means the token (nothing else can make getMe fail for
    good); anything else means the platform could not be reached."""
    if no_answer(error):
        return unreachable(setup, Check.TOKEN, error)
    values = {"platform": setup.label, "reason": str(error), "variable": setup.token_variable}
    return Finding(Check.TOKEN, Status.FAIL, "doctor.token.refused", hint, values, setup.channel)


def webhook_registration(setup: PlatformSetup, registered: str) -> Finding:
    """Is the webhook where the settings say, or absent when the bot polls?"""
    values = {
        "registered": registered,
        "url": setup.webhook_url or "",
        "variable": setup.url_variable,
        "mode_variable": setup.mode_variable,
    }

    def found(status: Status, message: str, hint: str | None = None) -> Finding:
        return Finding(Check.WEBHOOK, status, message, hint, values, setup.channel)

    if setup.mode is UpdateMode.POLLING:
        if registered:
            return found(
                Status.FAIL, "doctor.webhook.while_polling", "doctor.webhook.while_polling.hint"
            )
        return found(Status.OK, "doctor.webhook.polling")
    if not registered:
        return found(Status.FAIL, "doctor.webhook.missing", "doctor.webhook.missing.hint")
    if registered != setup.webhook_url:
        return found(Status.FAIL, "doctor.webhook.elsewhere", "doctor.webhook.elsewhere.hint")
    return found(Status.OK, "doctor.webhook.ok")
