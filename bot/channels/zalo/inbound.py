"""Zalo updates → the neutral `Inbound`, and what tells a redelivered update from a new one.

Updates are `{"event_name": "message.text.received", "message": {...}}` with string ids.
Zalo has no update ids and no offsets: a repeat is known by its message id (or, without a
usable one, by a digest of the whole update). In groups (beta) a message reaches the bot
only when it mentions the bot or replies to it, so the mention is stripped here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final

from bot.channels.base import (
    Attachment,
    AttachmentKind,
    ChannelAddress,
    ChatKind,
    Inbound,
    InboundUser,
)

CHANNEL_NAME: Final = "zalo"
#: The header a webhook push carries the secret given to setWebhook in.
SECRET_HEADER: Final = "X-Bot-Api-Secret-Token"
#: How many recent message ids are remembered to drop a delivery Zalo repeats.
RECENT_IDS: Final = 4096
#: Longest message id taken as it is (Zalo's are 32 hex digits); a longer one is digested.
MAX_MESSAGE_ID: Final = 64


class ZaloEvent(StrEnum):
    """The `event_name`s the Bot API documents for messages people send to the bot."""

    TEXT = "message.text.received"
    IMAGE = "message.image.received"
    STICKER = "message.sticker.received"
    UNSUPPORTED = "message.unsupported.received"


class ZaloChatType(StrEnum):
    PRIVATE = "PRIVATE"
    GROUP = "GROUP"


#: "@Bot Điện lực PL /claim PL-17": a leading mention (names may hold spaces) before a command.
_MENTION_BEFORE_COMMAND = re.compile(r"^@[^/\n]{1,64}?\s+(?=/[A-Za-z_])")


def strip_mention(text: str, bot_names: Iterable[str] = ()) -> str:
    """The text without the mention a group message needs to reach the bot.

    Zalo shows a mention as `@` and the display name, which may contain spaces, so a known
    name is stripped wherever it leads or ends the text; an unknown one only in front of a
    command.
    """
    stripped = text.strip()
    names = sorted({n.strip() for n in bot_names if n and n.strip()}, key=len, reverse=True)
    lowered = stripped.lower()
    for name in names:
        mention = f"@{name}".lower()
        if lowered.startswith(mention) and (
            len(stripped) == len(mention) or stripped[len(mention)].isspace()
        ):
            return stripped[len(mention) :].strip()
        if lowered.endswith(mention) and (
            len(stripped) == len(mention) or stripped[-len(mention) - 1].isspace()
        ):
            return stripped[: -len(mention)].strip()
    match = _MENTION_BEFORE_COMMAND.match(stripped)
    return stripped[match.end() :] if match else stripped


def unwrap_update(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The update itself: getUpdates wraps it in `{"ok", "result"}`, the webhook does not."""
    if payload.get("ok") is True and isinstance(payload.get("result"), Mapping):
        inner: Mapping[str, Any] = payload["result"]
        return inner
    return payload if "event_name" in payload or "message" in payload else None


def message_id_of(update: Mapping[str, Any]) -> str | None:
    """The message's id, if it looks like one (a string or a number, short, printable)."""
    message = update.get("message")
    raw = message.get("message_id") if isinstance(message, Mapping) else None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    text = str(raw)
    if not 0 < len(text) <= MAX_MESSAGE_ID or not text.isprintable():
        return None
    return text


def delivery_key(update: Mapping[str, Any]) -> str:
    """What tells a redelivery from a new update: the message id, or for an update
    without a usable one, a digest of the whole update (Zalo sends the same again)."""
    message_id = message_id_of(update)
    if message_id is not None:
        return message_id
    try:
        canonical = json.dumps(update, sort_keys=True, separators=(",", ":"))
    except (RecursionError, TypeError, ValueError):  # nested beyond use: one key for all
        canonical = "unreadable"
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:48]


def to_inbound(update: Mapping[str, Any], bot_names: Iterable[str] = ()) -> Inbound | None:
    """The neutral form of an update, or None when there is nothing a person said to us."""
    event = str(update.get("event_name") or "")
    message = update.get("message")
    wanted = (ZaloEvent.TEXT, ZaloEvent.IMAGE, ZaloEvent.UNSUPPORTED)
    if event not in wanted or not isinstance(message, Mapping):
        return None  # stickers carry nothing the handlers use
    sender, chat = message.get("from"), message.get("chat")
    if not isinstance(sender, Mapping) or not isinstance(chat, Mapping):
        return None
    if sender.get("is_bot") or sender.get("id") in (None, "") or chat.get("id") in (None, ""):
        return None
    kind = _chat_kind(chat.get("chat_type"))
    if kind is None:
        return None
    raw = message.get("text") if event == ZaloEvent.TEXT else message.get("caption")
    text = str(raw or "")
    text = strip_mention(text, bot_names) if kind is ChatKind.GROUP else text.strip()
    attachments: tuple[Attachment, ...] = ()
    photo = message.get("photo_url") or message.get("photo")
    if event == ZaloEvent.IMAGE and isinstance(photo, str) and photo:
        attachments = (Attachment(AttachmentKind.PHOTO, file_ref=photo),)
    if event == ZaloEvent.UNSUPPORTED:
        # A file, a voice note, a video: Zalo says only that it came. Privately it is
        # answered (what the bot keeps instead); in a group it is chatter, not for us.
        if kind is not ChatKind.PRIVATE:
            return None
        attachments = (Attachment(AttachmentKind.DOCUMENT),)
    if not text and not attachments:
        return None
    user_id = str(sender["id"])
    name = next(
        (
            str(sender[key])
            for key in ("display_name", "name", "first_name")
            if isinstance(sender.get(key), str) and sender[key].strip()
        ),
        user_id,
    )
    message_id = message_id_of(update)
    return Inbound(
        address=ChannelAddress(CHANNEL_NAME, str(chat["id"])),
        chat_kind=kind,
        user=InboundUser(id=user_id, name=name),
        text=text,
        message_id=message_id,
        attachments=attachments,
        update_id=message_id,
    )


def _chat_kind(chat_type: object) -> ChatKind | None:
    value = str(chat_type or ZaloChatType.PRIVATE).upper()
    if value == ZaloChatType.PRIVATE:
        return ChatKind.PRIVATE
    if value == ZaloChatType.GROUP:
        return ChatKind.GROUP
    return None


class RecentIds:
    """A bounded memory of message ids: Zalo has no offsets, so a repeat is caught by its id."""

    def __init__(self, size: int = RECENT_IDS) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, key: str) -> bool:
        """Record `key`; False when it was seen already (check and record in one step)."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return False
        self._ids[key] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True
