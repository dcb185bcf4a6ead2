"""Telegram updates → the neutral `Inbound`: only what a person said to the bot gets through.

Also what a pushed update must show before it is stored and handled: a Bot API update id.
"""

from __future__ import annotations

from typing import Final

from telegram import CallbackQuery, Message, Update, User
from telegram.constants import ChatType

from bot.channels.base import (
    Attachment,
    AttachmentKind,
    CallbackPress,
    ChannelAddress,
    ChatKind,
    Inbound,
    InboundUser,
)
from bot.domain.people import person_name

CHANNEL_NAME: Final = "telegram"
#: The header a webhook push carries the secret given to setWebhook in.
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
#: Telegram's update ids are positive whole numbers; these bounds keep a key short.
MAX_UPDATE_ID: Final = 2**63 - 1


def to_inbound(update: Update, bot_username: str | None = None) -> Inbound | None:
    """The neutral form of an update, or None when there is nothing a person said to us."""
    if update.callback_query is not None:
        return _callback_to_inbound(update, update.callback_query)
    message = update.message
    if message is None or message.from_user is None:
        return None
    kind = _chat_kind(message.chat.type)
    if kind is None:
        return None
    text = _strip_own_mention(message.text or message.caption or "", bot_username)
    if text is None:  # a command meant for another bot in the same group
        return None
    attachments = _attachments(message)
    forwarded = message.forward_origin is not None
    if not text and not attachments and not forwarded:
        return None  # service messages, stickers, polls: nothing the handlers can use
    user = message.from_user
    return Inbound(
        address=ChannelAddress(CHANNEL_NAME, str(message.chat.id)),
        chat_kind=kind,
        user=_inbound_user(user),
        text=text,
        message_id=str(message.message_id),
        reply_to_message_id=_reply_to(message),
        attachments=attachments,
        forwarded=forwarded,
        update_id=str(update.update_id),
    )


def chat_move_of(update: Update) -> tuple[str, str] | None:
    """(old id, new id) when the update is Telegram's service message about a group
    upgraded to a supergroup (`migrate_to_chat_id` in the group, `migrate_from_chat_id`
    in the supergroup), else None."""
    message = update.message
    if message is None:
        return None
    if message.migrate_to_chat_id:
        return str(message.chat.id), str(message.migrate_to_chat_id)
    if message.migrate_from_chat_id:
        return str(message.migrate_from_chat_id), str(message.chat.id)
    return None


def update_id_of(payload: object) -> str | None:
    """The update's id as stored, or None unless it is a whole number as Telegram sends it.

    Whoever holds the webhook secret may still send anything: `1.0`, `null` or a long
    string are refused before anything is stored, so `1` and `1.0` can never be handled
    as two updates.
    """
    if not isinstance(payload, dict):
        return None
    value = payload.get("update_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UPDATE_ID:
        return None
    return str(value)


def _inbound_user(user: User) -> InboundUser:
    return InboundUser(
        id=str(user.id),
        name=person_name(user.first_name, user.last_name, user.language_code),
        username=user.username,
        lang=user.language_code,
    )


def _callback_to_inbound(update: Update, query: CallbackQuery) -> Inbound | None:
    message = query.message  # None for buttons under inline-mode messages: not ours
    if message is None:
        return None
    kind = _chat_kind(message.chat.type)
    if kind is None:
        return None
    user = query.from_user
    return Inbound(
        address=ChannelAddress(CHANNEL_NAME, str(message.chat.id)),
        chat_kind=kind,
        user=_inbound_user(user),
        message_id=str(message.message_id),
        callback=CallbackPress(id=query.id, data=query.data or ""),
        update_id=str(update.update_id),
    )


def _chat_kind(chat_type: str) -> ChatKind | None:
    if chat_type == ChatType.PRIVATE:
        return ChatKind.PRIVATE
    if chat_type in (ChatType.GROUP, ChatType.SUPERGROUP):
        return ChatKind.GROUP
    return None  # channels have no people to dispatch to


def _reply_to(message: Message) -> str | None:
    replied = message.reply_to_message
    if replied is None:
        return None
    # In forum topics every message "replies" to the topic's first message; that is no reply.
    if message.is_topic_message and replied.forum_topic_created is not None:
        return None
    return str(replied.message_id)


def _strip_own_mention(text: str, bot_username: str | None) -> str | None:
    """`/claim@OurBot PL-1` → `/claim PL-1`; None when the command names another bot."""
    if not text.startswith("/"):
        return text
    head, sep, rest = text.partition(" ")
    command, at, target = head.partition("@")
    if not at:
        return text
    if bot_username is None or target.lower() != bot_username.lower():
        return None
    return f"{command}{sep}{rest}"


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        biggest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found.append(
            Attachment(
                AttachmentKind.PHOTO,
                file_ref=biggest.file_id,
                size=biggest.file_size,
                mime="image/jpeg",
            )
        )
    document = message.document
    if document is not None:
        is_image = (document.mime_type or "").startswith("image/")
        found.append(
            Attachment(
                AttachmentKind.PHOTO if is_image else AttachmentKind.DOCUMENT,
                file_ref=document.file_id,
                size=document.file_size,
                mime=document.mime_type,
            )
        )
    if message.location is not None:
        found.append(
            Attachment(
                AttachmentKind.LOCATION,
                latitude=message.location.latitude,
                longitude=message.location.longitude,
            )
        )
    return tuple(found)
