"""A person the bot cannot reach in private, and why: what the platforms answer.

Telegram refuses a private message with 403 and one of three descriptions (the Bot API's
own words); Zalo, whose Bot API documents no such text, is matched on the same meaning.
Such a message is kept (bot.held) rather than failed: the person can still open the chat.
"""

from __future__ import annotations

from enum import StrEnum

from bot.channels.base import PermanentFailure


class Unreach(StrEnum):
    """Why a person's private chat refuses the bot (each has its own notice wording)."""

    #: Never pressed Start (Telegram: "bot can't initiate conversation with a user").
    NOT_STARTED = "not_started"
    BLOCKED = "blocked"
    #: The account was deleted.
    DEACTIVATED = "deactivated"


#: The start word of the deep link a held notice gives (`t.me/<bot>?start=held`).
HELD_START = "held"

#: Lower-case fragments of the platforms' descriptions, per reason (one table, read once).
DESCRIPTIONS: tuple[tuple[Unreach, tuple[str, ...]], ...] = (
    (
        Unreach.NOT_STARTED,
        ("bot can't initiate conversation with a user", "has not started a conversation"),
    ),
    (Unreach.BLOCKED, ("bot was blocked by the user",)),
    (Unreach.DEACTIVATED, ("user is deactivated",)),
)


class PersonUnreachable(PermanentFailure):
    """The person's private chat refuses the bot for now; the message waits for them."""

    def __init__(self, reason: Unreach, description: str) -> None:
        super().__init__(description)
        self.reason = reason


def unreachable(description: str) -> PersonUnreachable | None:
    """The refusal a 403's description names, or None when it is about something else
    (a group that removed the bot is not a person who can press Start)."""
    lowered = description.lower()
    for reason, fragments in DESCRIPTIONS:
        if any(fragment in lowered for fragment in fragments):
            return PersonUnreachable(reason, description)
    return None
