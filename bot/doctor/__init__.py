"""`dispatchbot doctor`: checks a deployment against the real platforms and says what to fix.

Each check is a small function returning findings (`findings.Finding`): the platforms'
(`telegram`, `zalo`, chosen by name from `PLATFORM_CHECKS`), and this deployment's own
(`local`: database, policy file, holidays). `report` puts them into words, as text or
JSON. Everything here only reads: nothing is created, upgraded, sent or registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from bot.config import Settings
from bot.doctor import telegram, zalo
from bot.doctor.findings import Check, Finding, Status, exit_code
from bot.doctor.local import check_database, check_holidays, check_policy
from bot.doctor.platform import Pause, PlatformSetup, TeamChat, setup_of
from bot.domain.clock import Clock, SystemClock

__all__ = ["PLATFORM_CHECKS", "Check", "Finding", "Status", "diagnose", "exit_code"]

PlatformCheck = Callable[
    [Settings, PlatformSetup, Sequence[TeamChat], Pause], Awaitable[list[Finding]]
]

#: Channel name → its checks, in the order they are printed.
PLATFORM_CHECKS: dict[str, PlatformCheck] = {
    telegram.CHANNEL: telegram.check_telegram,
    zalo.CHANNEL: zalo.check_zalo,
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
    setups = {name: setup_of(settings, name) for name in PLATFORM_CHECKS}
    if not any(setup.token for setup in setups.values()):
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
    for name, check in PLATFORM_CHECKS.items():
        setup = setups[name]
        mine = [c for c in chats or () if c.channel == name]
        if setup.token:
            findings += await check(settings, setup, mine, pause)
        else:
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
