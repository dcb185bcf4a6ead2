"""Telegram updates → the neutral `Inbound`: only what a person said to the bot gets through.

An update is read from Telegram's JSON as it came, once, into what the adapter needs (what
was said, the chat it keeps order in, the press to answer, a group's new id), not into
PTB's objects: PTB made a whole `Message` of every update (the pressed card with its
keyboard too), about 0.25 ms each, to be read for a dozen fields here (docs/performance.md).
Reading is strict about what it reads: a part that is not what Telegram sends makes the
update `Unreadable`, as PTB's failing to read it did.

Also what a pushed update must show before it is stored and handled: a Bot API update id.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from telegram import Update

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
#: Telegram's chat types a person can talk to us in, and what they are to the handlers.
CHAT_KINDS: Final = {
    "private": ChatKind.PRIVATE,
    "group": ChatKind.GROUP,
    "supergroup": ChatKind.GROUP,
}  # channels have no people to dispatch to

JSON = dict[str, Any]


class Unreadable(ValueError):
    """An update whose parts are not what Telegram sends (never its content in the text)."""


class TelegramUpdate(Update):
    """One update as the adapter reads it (`read_update`). An `Update` only so that PTB's
    Updater and Application carry it to the channel; of PTB's fields just `update_id`."""

    __slots__ = ("heard", "lane", "moved", "press_id")

    def __init__(
        self,
        update_id: int,
        lane: str,
        heard: Inbound | None = None,
        *,
        moved: tuple[str, str] | None = None,
        press_id: str | None = None,
    ) -> None:
        super().__init__(update_id)
        with self._unfrozen():
            #: What a person said, before `to_inbound` drops a mention of the bot.
            self.heard = heard
            #: The chat whose order the update keeps: its chat, else (an inline press) its
            #: sender, else itself.
            self.lane = lane
            #: (old id, new id) of a group upgraded to a supergroup, from the service message.
            self.moved = moved
            #: The button press to answer, whatever it was pressed on.
            self.press_id = press_id


def read_update(raw: object) -> TelegramUpdate:
    """An update of a getUpdates answer or a webhook push; `Unreadable` if malformed."""
    data = _obj(raw)
    update_id = _int(data, "update_id")
    query = _opt_obj(data, "callback_query")
    if query is not None:
        return _press(update_id, query)
    message = _opt_obj(data, "message")
    if message is not None:
        return _message(update_id, message)
    return TelegramUpdate(update_id, _lane_of_other(update_id, data))


def to_inbound(update: TelegramUpdate, bot_username: str | None = None) -> Inbound | None:
    """The neutral form of an update, or None when there is nothing a person said to us."""
    heard = update.heard
    if heard is None or heard.callback is not None:
        return heard
    text = _strip_own_mention(heard.text, bot_username)
    if text is None:  # a command meant for another bot in the same group
        return None
    return heard if text == heard.text else replace(heard, text=text)


def chat_move_of(update: TelegramUpdate) -> tuple[str, str] | None:
    """(old id, new id) when the update is Telegram's service message about a group
    upgraded to a supergroup (`migrate_to_chat_id` in the group, `migrate_from_chat_id`
    in the supergroup), else None."""
    return update.moved


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


def _press(update_id: int, query: JSON) -> TelegramUpdate:
    press_id = _str(query, "id")
    user = _inbound_user(_obj(query.get("from")))
    data = _opt_str(query, "data") or ""
    message = _opt_obj(query, "message")  # None under inline-mode messages: not ours
    if message is None:
        return TelegramUpdate(update_id, f"user:{user.id}", press_id=press_id)
    chat_id, kind = _chat(message)
    heard = (
        None
        if kind is None
        else Inbound(
            address=ChannelAddress(CHANNEL_NAME, str(chat_id)),
            chat_kind=kind,
            user=user,
            message_id=str(_int(message, "message_id")),
            callback=CallbackPress(id=press_id, data=data),
            update_id=str(update_id),
        )
    )
    return TelegramUpdate(update_id, f"chat:{chat_id}", heard, press_id=press_id)


def _message(update_id: int, message: JSON) -> TelegramUpdate:
    chat_id, kind = _chat(message)
    message_id = _int(message, "message_id")
    sender = _opt_obj(message, "from")
    heard = None
    if sender is not None and kind is not None:
        text = _opt_str(message, "text") or _opt_str(message, "caption") or ""
        attachments = _attachments(message)
        forwarded = message.get("forward_origin") is not None
        if text or attachments or forwarded:  # not service messages, stickers, polls
            heard = Inbound(
                address=ChannelAddress(CHANNEL_NAME, str(chat_id)),
                chat_kind=kind,
                user=_inbound_user(sender),
                text=text,
                message_id=str(message_id),
                reply_to_message_id=_reply_to(message),
                attachments=attachments,
                forwarded=forwarded,
                update_id=str(update_id),
            )
    return TelegramUpdate(update_id, f"chat:{chat_id}", heard, moved=_moved(message, chat_id))


def _lane_of_other(update_id: int, data: JSON) -> str:
    """Another kind of update (not asked for): its chat if it shows one."""
    for key, value in data.items():
        chat = value.get("chat") if key != "update_id" and isinstance(value, dict) else None
        if isinstance(chat, dict) and chat.get("id") is not None:
            return f"chat:{chat['id']}"
    return f"update:{update_id}"


def _chat(message: JSON) -> tuple[int, ChatKind | None]:
    chat = _obj(message.get("chat"))
    return _int(chat, "id"), CHAT_KINDS.get(_str(chat, "type"))


def _moved(message: JSON, chat_id: int) -> tuple[str, str] | None:
    if message.get("migrate_to_chat_id"):
        return str(chat_id), str(_int(message, "migrate_to_chat_id"))
    if message.get("migrate_from_chat_id"):
        return str(_int(message, "migrate_from_chat_id")), str(chat_id)
    return None


def _inbound_user(user: JSON) -> InboundUser:
    lang = _opt_str(user, "language_code")
    return InboundUser(
        id=str(_int(user, "id")),
        name=person_name(_str(user, "first_name"), _opt_str(user, "last_name"), lang),
        username=_opt_str(user, "username"),
        lang=lang,
    )


def _reply_to(message: JSON) -> str | None:
    replied = _opt_obj(message, "reply_to_message")
    if replied is None:
        return None
    # In forum topics every message "replies" to the topic's first message; that is no reply.
    if message.get("is_topic_message") and replied.get("forum_topic_created") is not None:
        return None
    return str(_int(replied, "message_id"))


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


def _attachments(message: JSON) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    sizes = message.get("photo")
    if sizes:
        if not isinstance(sizes, list):
            raise Unreadable("photo is no list")
        biggest = max(
            (_obj(size) for size in sizes),
            key=lambda p: (_int(p, "width") * _int(p, "height"), _opt_int(p, "file_size") or 0),
        )
        found.append(
            Attachment(
                AttachmentKind.PHOTO,
                file_ref=_str(biggest, "file_id"),
                size=_opt_int(biggest, "file_size"),
                mime="image/jpeg",
            )
        )
    document = _opt_obj(message, "document")
    if document is not None:
        mime = _opt_str(document, "mime_type")
        is_image = (mime or "").startswith("image/")
        found.append(
            Attachment(
                AttachmentKind.PHOTO if is_image else AttachmentKind.DOCUMENT,
                file_ref=_str(document, "file_id"),
                size=_opt_int(document, "file_size"),
                mime=mime,
            )
        )
    location = _opt_obj(message, "location")
    if location is not None:
        found.append(
            Attachment(
                AttachmentKind.LOCATION,
                latitude=_number(location, "latitude"),
                longitude=_number(location, "longitude"),
            )
        )
    return tuple(found)


# --------------------------------------------------------------------------- strict reads


def _obj(value: object) -> JSON:
    if not isinstance(value, dict):
        raise Unreadable(f"an object expected, {type(value).__name__} found")
    return value


def _opt_obj(data: JSON, key: str) -> JSON | None:
    value = data.get(key)
    return None if value is None else _obj(value)


def _int(data: JSON, key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unreadable(f"{key} is no whole number")
    return value


def _opt_int(data: JSON, key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _number(data: JSON, key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unreadable(f"{key} is no number")
    return value


def _str(data: JSON, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise Unreadable(f"{key} is no text")
    return value


def _opt_str(data: JSON, key: str) -> str | None:
    return None if data.get(key) is None else _str(data, key)
