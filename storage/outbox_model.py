"""The relay's vocabulary for the outbox: delivery states, chats, rows, notices, figures.

Kept apart from the store's queries so the relay and the unit of work name one thing
one way; `storage.outbox_store` re-exports them for its callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.people import ChatAddress


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    #: The person's private chat refuses the bot for now (never pressed Start, blocked):
    #: kept until they write to the bot, or until it expires (storage.held_store).
    HELD = "held"


#: A chat's queue: the relay delivers to one chat at a time, in order.
ChatKey = ChatAddress


@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    card_key: str | None
    case_id: int | None
    attempts: int
    not_before: datetime
    created_at: datetime
    case_ref: str | None = None
    parts_sent: int = 0
    #: Set when a send was started and its answer never recorded (the sender died).
    sending_at: datetime | None = None
    uncertain: int = 0
    #: As read with the queue: a later edit of the same card waits (this one need not
    #: go), and the card's message in the chat (to edit rather than post).
    superseded: bool = False
    card_message: str | None = None

    @property
    def key(self) -> ChatKey:
        return ChatKey(self.channel, self.chat_id)


@dataclass(frozen=True)
class ChatClaim:
    """A chat whose queue this instance now delivers, with its recent send times and the
    start of its queue as read in the transaction that leased it (`queue`)."""

    key: ChatKey
    is_group: bool
    pacing: tuple[float, ...]
    queue: tuple[OutboxRow, ...] = ()


@dataclass(frozen=True)
class NoticeTarget:
    channel: str
    chat_id: str
    lang: str | None


@dataclass(frozen=True)
class NoticePlan:
    """Who must hear that a chat refuses a case's messages, and how to name that chat."""

    case_ref: str
    team_code: str
    recipient: str
    targets: tuple[NoticeTarget, ...]
    #: The chat that refuses is one of the team's groups (else a person's private chat).
    team_chat: bool = False


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_pending_at: datetime | None
    failed: int
    undeliverable_chats: int


def pending_values(
    channel: str,
    chat_id: str,
    payload: dict[str, Any],
    at: datetime,
    *,
    dedupe_key: str | None = None,
    card_key: str | None = None,
    case_id: int | None = None,
) -> dict[str, Any]:
    """The row of a message waiting to be delivered, as every writer of the outbox puts it."""
    return {
        "channel": channel,
        "chat_id": chat_id,
        "payload": payload,
        "card_key": card_key,
        "dedupe_key": dedupe_key,
        "case_id": case_id,
        "status": DeliveryState.PENDING.value,
        "attempts": 0,
        "not_before": at,
        "created_at": at,
    }


def outbox_row(r: Any) -> OutboxRow:
    """A row of `outbox` as read with its queue (see `OutboxStore.queue`)."""
    return OutboxRow(
        id=r.id,
        channel=r.channel,
        chat_id=r.chat_id,
        payload=r.payload,
        card_key=r.card_key,
        case_id=r.case_id,
        attempts=r.attempts,
        not_before=r.not_before,
        created_at=r.created_at,
        case_ref=r.case_ref,
        parts_sent=r.parts_sent,
        sending_at=r.sending_at,
        uncertain=r.uncertain,
        superseded=bool(getattr(r, "superseded", False)),
        card_message=getattr(r, "card_message", None),
    )
