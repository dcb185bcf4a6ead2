"""What a platform's refusal means for a message: one table for every channel.

An adapter turns the platform's answer into a `Refusal` (HTTP status or error code, its
description, its `parameters`, whether the body was JSON at all) and `as_error` turns
that into the `DeliveryError` the relay acts on. The rows of `RULES` are read in order;
the first that matches decides. A new meaning (a "held" private chat, say) is one more
row and one more `Outcome`, nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from bot.channels.base import (
    DeliveryError,
    MessageGone,
    NotModified,
    PermanentFailure,
    RetryLater,
    TransientFailure,
)
from bot.channels.reach import unreachable

#: Seconds to wait after a 429 that did not say how long.
DEFAULT_RETRY_AFTER: Final = 5.0


class Outcome(StrEnum):
    """What to do about a refused send or edit."""

    NOT_MODIFIED = "not_modified"  # the edit changed nothing: as good as sent
    MESSAGE_GONE = "message_gone"  # the message to edit is gone: post it anew
    RETRY_AFTER = "retry_after"  # 429: the chat waits as long as asked
    TRANSIENT = "transient"  # 5xx, timeout, no answer: back off, bounded (RELAY_GIVE_UP_*)
    CHAT_MOVED = "chat_moved"  # the group became a supergroup: send there
    TOKEN_REFUSED = "token_refused"  # 401/404: the whole channel pauses, nothing is lost
    PERSON_UNREACHABLE = "person_unreachable"  # a private chat not opened/blocked: kept (bot.held)
    CHAT_REFUSES = "chat_refuses"  # blocked, kicked, chat gone: final, the team is told
    REJECTED = "rejected"  # any other 4xx, or a non-JSON 4xx page: final, the team is told


@dataclass(frozen=True)
class Refusal:
    """A platform's answer that was not a success, in neutral terms."""

    status: int | None  # HTTP status or the platform's error code; None: no answer at all
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: False when the body was not the platform's JSON (a proxy's HTML page).
    json: bool = True

    def says(self, *words: str) -> bool:
        lowered = self.description.lower()
        return any(w in lowered for w in words)


Rule = Callable[[Refusal], bool]

#: (when, outcome), first match wins. Telegram tells several 400s and 403s apart only by
#: their description; those texts are matched here and nowhere else.
RULES: Final[tuple[tuple[Rule, Outcome], ...]] = (
    (lambda r: r.status is None, Outcome.TRANSIENT),
    (lambda r: r.status == 429, Outcome.RETRY_AFTER),
    (lambda r: bool(r.parameters.get("migrate_to_chat_id")), Outcome.CHAT_MOVED),
    (lambda r: r.status == 401, Outcome.TOKEN_REFUSED),
    # A token not shaped <digits>:<secret> answers 404 "Not Found" (so does a wrong API URL).
    (lambda r: r.status == 404 and (not r.json or r.says("not found")), Outcome.TOKEN_REFUSED),
    (lambda r: r.json and r.says("message is not modified"), Outcome.NOT_MODIFIED),
    (lambda r: r.json and r.says("message to edit not found"), Outcome.MESSAGE_GONE),
    # A person who never pressed Start, blocked the bot or is gone: kept, not failed.
    (
        lambda r: r.status == 403 and unreachable(r.description) is not None,
        Outcome.PERSON_UNREACHABLE,
    ),
    (lambda r: r.status == 403, Outcome.CHAT_REFUSES),
    (lambda r: r.status == 400 and r.says("chat not found"), Outcome.CHAT_REFUSES),
    # 408: Zalo's long poll that ended empty; 409: another getUpdates or a webhook.
    (lambda r: r.status in (408, 409), Outcome.TRANSIENT),
    (lambda r: r.status is not None and 400 <= r.status < 500, Outcome.REJECTED),
)


def classify(refusal: Refusal) -> Outcome:
    for matches, outcome in RULES:
        if matches(refusal):
            return outcome
    return Outcome.TRANSIENT  # 5xx and anything unknown: tried again, within bounds


class ChatMoved(PermanentFailure):
    """The chat lives on under a new id (a Telegram group upgraded to a supergroup)."""

    def __init__(self, new_chat_id: str, reason: str) -> None:
        super().__init__(reason)
        self.new_chat_id = new_chat_id


class TokenRefused(DeliveryError):
    """The platform refuses the bot's token: the channel pauses, every message waits."""


class ChatRefuses(PermanentFailure):
    """The chat refuses the bot (blocked, kicked, gone): this message is final."""


class Rejected(PermanentFailure):
    """The request cannot succeed as it is (a 4xx, a proxy's page): final at once."""


def as_error(refusal: Refusal) -> DeliveryError:
    """The `DeliveryError` the relay acts on, its text the platform's description."""
    outcome = classify(refusal)
    text = refusal.description
    if outcome is Outcome.RETRY_AFTER:
        seconds = refusal.parameters.get("retry_after")
        wait = float(seconds) if isinstance(seconds, int | float) else DEFAULT_RETRY_AFTER
        return RetryLater(wait, text)
    if outcome is Outcome.PERSON_UNREACHABLE:
        found = unreachable(text)
        assert found is not None  # the rule matched on exactly this
        return found
    if outcome is Outcome.CHAT_MOVED:
        return ChatMoved(str(refusal.parameters["migrate_to_chat_id"]), text)
    errors: dict[Outcome, type[DeliveryError]] = {
        Outcome.NOT_MODIFIED: NotModified,
        Outcome.MESSAGE_GONE: MessageGone,
        Outcome.TRANSIENT: TransientFailure,
        Outcome.TOKEN_REFUSED: TokenRefused,
        Outcome.CHAT_REFUSES: ChatRefuses,
        Outcome.REJECTED: Rejected,
    }
    return errors[outcome](text)
