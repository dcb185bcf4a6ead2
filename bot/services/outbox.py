"""The one way a message becomes an outbox row: an `Outbound` for a chat.

The chat handlers, the reminders and the weekly report all queue messages; each builds
its row here, so what a row carries (and how the message is stored) has one home.
"""

from __future__ import annotations

from bot.channels.base import Outbound
from bot.services.ports import OutboxItem


def to_chat(
    channel: str,
    chat_id: str,
    message: Outbound,
    *,
    card_key: str | None = None,
    dedupe_key: str | None = None,
    case_id: int | None = None,
) -> OutboxItem:
    """The outbox row that delivers `message` to a chat."""
    return OutboxItem(channel, chat_id, message.to_json(), card_key, dedupe_key, case_id)
