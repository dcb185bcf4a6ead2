"""`dispatchbot doctor`: checks a deployment against the real platforms and says what to fix.

Each check is a small function returning findings (`findings.Finding`): the platforms'
(`telegram`, `zalo`, chosen by name from `PLATFORM_CHECKS`), and this deployment's own
(`local`: database, policy file, holidays). `report` puts them into words, as text or
JSON. Everything here only reads: nothing is created, upgraded, sent or registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.config import Settings
from bot.doctor import telegram, zalo
from bot.doctor.findings import Check, Finding, Status, exit_code
from bot.doctor.local import check_database, check_holidays, check_policy
from bot.doctor.platform import Pause, PlatformSetup, TeamChat
from bot.domain.clock import Clock, SystemClock

__all__ = ["PLATFORM_CHECKS", "Check", "Finding", "Status", "diagnose", "exit_code"]

PlatformCheck = Callable[[Settings, Sequence[TeamChat], Pause], Awaitable[list[Finding]]]


@dataclass(frozen=True)
class _Platform:
    check: PlatformCheck
    setup_of: Callable[[Settings], PlatformSetup]

    def configured(self, settings: Settings) -> bool:
        """The channel runs when its token is set."""
        return bool(getattr(settings, self.setup_of(settings).token_variable.lower()))


#: Channel name → its checks, in the order they are printed.
PLATFORM_CHECKS: dict[str, _Platform] = {
    telegram.CHANNEL: _Platform(telegram.check_telegram, telegram.setup_of),
    zalo.CHANNEL: _Platform(zalo.check_zalo, zalo.setup_of),
}


async def diagnose(
    settings: Settings, *, clock: Clock | None = None, pause: Pause = asyncio.sleep
) -> list[Finding]:
    """Every finding, in the order they are read: channels, database, policy, holidays."""
    clock = clock or SystemClock()
    policy_finding, policy = check_policy(settings)
    database = await check_database(settings, clock)
    chats = database.chats
    findings: list[Finding] = []
    configured = [name for name, p in PLATFORM_CHECKS.items() if p.configured(settings)]
    if not configured:
        findings.append(
            Finding(
                Check.CHANNELS, Status.WARN, "doctor.channels.none", "doctor.channels.none.hint"
            )
        )
    if chats is None:
        findings.append(
            Finding(Check.CHAT, Status.SKIP, "doctor.chats.unread", "doctor.chats.unread.hint")
        )
    elif not chats:
        findings.append(
            Finding(Check.CHAT, Status.WARN, "doctor.chats.none", "doctor.chats.none.hint")
        )
    for name, platform in PLATFORM_CHECKS.items():
        mine = [c for c in chats or () if c.channel == name]
        if name in configured:
            findings += await platform.check(settings, mine, pause)
        else:
            setup = platform.setup_of(settings)
            findings += [_channel_off(chat, setup) for chat in mine]
    findings += database.findings
    findings.append(policy_finding)
    calendar = policy.calendar if policy is not None else None
    today = clock.now().astimezone(calendar.tz if calendar else None).date()
    findings += check_holidays(calendar, today, settings.language)
    return findings


def _channel_off(chat: TeamChat, setup: PlatformSetup) -> Finding:
    """A team group on a channel this deployment does not run: its messages go nowhere."""
    values = {
        "team": chat.team,
        "chat_id": chat.chat_id,
        "channel": chat.channel,
        "platform": setup.label,
        "variable": setup.token_variable,
    }
    return Finding(
        Check.CHAT,
        Status.WARN,
        "doctor.chat.channel_off",
        "doctor.chat.channel_off.hint",
        values,
        chat.channel,
        chat.team,
        chat.chat_id,
    )
