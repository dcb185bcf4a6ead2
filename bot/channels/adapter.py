"""What every adapter does the same way, whatever its platform.

Kept here once so that the Telegram and Zalo packages hold only what differs: how their
platform is called, what its updates look like, what it can show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from bot.channels.base import HandleResult, Inbound, InboundSink, UpdateMode
from bot.credentials import same_secret


class PartKind(StrEnum):
    """What one platform call sends; a renderer plans an `Outbound` as a list of parts."""

    TEXT = "text"
    PHOTO = "photo"
    DOCUMENT = "document"


def check_settings(platform: str, token: str, mode: UpdateMode, webhook_url: str | None) -> None:
    """Refuse an adapter that could never work, at start-up rather than at the first update."""
    if not token:
        raise ValueError(f"a {platform} bot token is required")
    if mode is UpdateMode.WEBHOOK and not webhook_url:
        raise ValueError("webhook mode needs a webhook URL")


def redact(text: str, token: str) -> str:
    """`text` without the bot token (it is part of every Bot API URL): safe for logs."""
    return text.replace(token, "<token>") if token else text


def secret_matches(expected: str | None, given: str | None, *, when_unset: bool) -> bool:
    """A webhook's secret header, checked in constant time; `when_unset` is the answer
    when no secret is configured."""
    if expected is None:
        return when_unset
    return same_secret(given, expected)


async def hand_on(
    sink: InboundSink | None,
    read: Callable[[], Inbound | None],
    logger: logging.Logger,
    label: str,
) -> HandleResult | None:
    """Read an update and hand it to the handlers. A failure is logged and swallowed: one
    update the bot cannot handle must never stop the updates behind it."""
    try:
        inbound = read()
        if inbound is not None and sink is not None:
            return await sink(inbound)
    except Exception:
        logger.exception("handling %s failed", label)
    return None
