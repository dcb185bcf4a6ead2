"""In-memory world of the Telegram sandbox: people, chats, messages, files and pending updates.

The world is deliberately dumb storage plus the serialisation rules of the Bot API (how a
Message, a Chat or a PhotoSize looks on the wire) and of the control API (how a chat looks
to the humans).  Validation of Bot API calls lives in :mod:`sandbox.telegram`; this
module only keeps Telegram's numbering rules (message ids per chat, increasing update ids).

Everything runs on one asyncio event loop, so no locking is needed.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sandbox.serving import ApiCall, JSONDict

#: Update kinds Telegram delivers when ``allowed_updates`` was never set (or set to ``[]``).
DEFAULT_ALLOWED_UPDATES: frozenset[str] = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

#: First update id handed out; Telegram starts at an arbitrary positive number, so do we,
#: which keeps update ids visibly different from message ids in test output.
FIRST_UPDATE_ID = 500_000


class ChatType(StrEnum):
    """Telegram chat types (``Chat.type``)."""

    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"


class BotStatus(StrEnum):
    """The bot's own membership in a group (``ChatMember.status`` for the bot)."""

    MEMBER = "member"
    ADMINISTRATOR = "administrator"
    LEFT = "left"
    KICKED = "kicked"

    @property
    def is_in(self) -> bool:
        return self in (BotStatus.MEMBER, BotStatus.ADMINISTRATOR)


#: An administrator's rights in a group or supergroup, as ChatMemberAdministrator lists
#: them (the Bot API server's order), with what the sandbox gives a bot made admin by
#: default: everything but promoting others and anonymity.
ADMIN_RIGHTS: dict[str, bool] = {
    "can_manage_chat": True,
    "can_change_info": True,
    "can_delete_messages": True,
    "can_invite_users": True,
    "can_restrict_members": True,
    "can_pin_messages": True,
    "can_manage_topics": True,
    "can_promote_members": False,
    "can_manage_video_chats": True,
    "can_post_stories": True,
    "can_edit_stories": True,
    "can_delete_stories": True,
    "is_anonymous": False,
}


class FaultKind(StrEnum):
    """What an injected fault does to a Bot API call."""

    TOO_MANY_REQUESTS = "429"
    SERVER_ERROR = "500"
    STALL = "stall"


class FileKind(StrEnum):
    """Kinds of stored files; Telegram refuses to reuse a file_id as another kind."""

    PHOTO = "photo"
    DOCUMENT = "document"


@dataclass
class User:
    """A Telegram account (a human, or the bot itself)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    #: The person pressed "Stop and block bot": every send to them fails with 403.
    blocked_bot: bool = False
    #: The person has written to the bot privately (pressed Start, or anything else);
    #: until then the bot may not write first (403).
    started: bool = True
    #: The account was deleted: every send to it fails with 403.
    deactivated: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass
class Chat:
    """A chat the bot is part of; private chats share the id of their user."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    #: Human members (the bot's own membership is `bot_status`).
    members: set[int] = field(default_factory=set)
    bot_status: BotStatus = BotStatus.MEMBER
    #: The bot's rights while it is an administrator (keys of ADMIN_RIGHTS).
    bot_rights: dict[str, bool] = field(default_factory=dict)
    #: Reply keyboard currently shown to the humans (rows of button texts), if any.
    reply_keyboard: list[list[str]] | None = None
    #: The supergroup this group was upgraded to (the group itself is then dead).
    migrated_to: int | None = None

    @property
    def is_group(self) -> bool:
        return self.type in (ChatType.GROUP, ChatType.SUPERGROUP)

    @property
    def bot_is_admin(self) -> bool:
        return self.bot_status is BotStatus.ADMINISTRATOR

    @bot_is_admin.setter
    def bot_is_admin(self, admin: bool) -> None:
        """Promote (with the default rights) or demote the bot; no change when it is out."""
        if admin and self.bot_status is not BotStatus.ADMINISTRATOR:
            self.bot_status, self.bot_rights = BotStatus.ADMINISTRATOR, dict(ADMIN_RIGHTS)
        elif not admin and self.bot_status is BotStatus.ADMINISTRATOR:
            self.bot_status, self.bot_rights = BotStatus.MEMBER, {}

    def bot_may(self, right: str) -> bool:
        return self.bot_is_admin and self.bot_rights.get(right, False)


@dataclass
class StoredFile:
    """Bytes known to the server under a file_id (uploaded by the bot or by a human)."""

    file_id: str
    file_unique_id: str
    kind: FileKind
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    #: Photos come as a set of sizes; every size of one upload shares this id.
    photo_set: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def photo_size_api(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width or 0,
            "height": self.height or 0,
            "file_size": self.size,
        }

    def document_api(self) -> JSONDict:
        data: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    def file_api(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass
class Message:
    """One message as stored; serialised on demand to the Bot API or the control API shape."""

    chat_id: int
    message_id: int
    sender_id: int
    date: int
    text: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    #: Text exactly as the bot sent it (e.g. with HTML tags) and the parse mode used.
    raw_text: str | None = None
    parse_mode: str | None = None
    caption: str | None = None
    caption_entities: list[JSONDict] = field(default_factory=list)
    photo: list[StoredFile] = field(default_factory=list)
    document: StoredFile | None = None
    location: JSONDict | None = None
    contact: JSONDict | None = None
    forward_origin: JSONDict | None = None
    reply_to_message_id: int | None = None
    #: Inline keyboard rows (list of button dicts), shown under the message.
    inline_keyboard: list[list[JSONDict]] | None = None
    #: Non-inline markup sent with the message (ReplyKeyboardMarkup, ReplyKeyboardRemove,
    #: ForceReply): Telegram never echoes it back in the Message, but humans see it.
    reply_markup_other: JSONDict | None = None
    edit_date: int | None = None
    deleted: bool = False
    message_thread_id: int | None = None
    #: Service messages of a group's upgrade: in the old group, the supergroup's id; in
    #: the supergroup, the old group's id.
    migrate_to_chat_id: int | None = None
    migrate_from_chat_id: int | None = None

    @property
    def body(self) -> str | None:
        return self.text if self.text is not None else self.caption


@dataclass
class CallbackQuery:
    """A button press by a human and what the bot answered."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    update_id: int
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None
    answered_at: float | None = None

    def view(self) -> JSONDict:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "update_id": self.update_id,
            "answered": self.answered,
            "text": self.answer_text,
            "show_alert": self.show_alert,
            "url": self.url,
        }


@dataclass
class Fault:
    """A scheduled misbehaviour of the Bot API side (see ``TelegramSandbox._before_call``)."""

    kind: FaultKind
    #: How many more calls it affects (``None``: unlimited while the window lasts).
    remaining: int | None = 1
    #: Monotonic deadline of the time window (``None``: no window, only ``remaining``).
    until: float | None = None
    retry_after: int = 1
    #: How long a stalled call hangs before it is processed normally (``None``: until the
    #: window ends, or 10 s without a window).
    delay: float | None = None
    #: Lower-cased method names it applies to (``None``: every method).
    methods: frozenset[str] | None = None

    def applies(self, method: str, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.methods is None or method.lower() in self.methods

    def stall_seconds(self, now: float) -> float:
        if self.delay is not None:
            return self.delay
        return self.until - now if self.until is not None else 10.0

    def exhausted(self, now: float) -> bool:
        return (self.remaining is not None and self.remaining <= 0) or (
            self.until is not None and now >= self.until
        )

    def view(self, now: float) -> JSONDict:
        return {
            "kind": self.kind.value,
            "remaining": self.remaining,
            "seconds_left": None if self.until is None else max(0.0, self.until - now),
            "retry_after": self.retry_after,
            "delay": self.delay,
            "methods": sorted(self.methods) if self.methods is not None else None,
        }


@dataclass
class Update:
    """A queued update; its payload is a snapshot taken when the event happened."""

    update_id: int
    kind: str
    payload: JSONDict

    def to_api(self) -> JSONDict:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass
class Webhook:
    """What setWebhook stored, and how the latest push to it failed."""

    url: str = ""
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    secret_token: str | None = None
    #: Unix time and text of the latest failed push (getWebhookInfo shows them); a new
    #: webhook URL, or deleting the webhook, forgets them, as Telegram does.
    last_error_date: int | None = None
    last_error_message: str | None = None

    def failed(self, when: float, message: str) -> None:
        self.last_error_date, self.last_error_message = int(when), message


class World:
    """All state of one sandbox.  ``reset`` forgets everything except the bot itself."""

    def __init__(self, bot: User, clock: Callable[[], float] = time.time) -> None:
        self.bot = bot
        self.clock = clock
        self._on_update: list[Callable[[], None]] = []
        self.reset()

    def reset(self) -> None:
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, dict[int, Message]] = {}
        self._next_message_id: dict[int, int] = {}
        self.updates: list[Update] = []
        self._next_update_id = FIRST_UPDATE_ID
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callbacks: dict[str, CallbackQuery] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.webhook = Webhook()
        self.calls: list[ApiCall] = []
        self.faults: list[Fault] = []
        self._counter = itertools.count(1)

    # ----------------------------------------------------------------- notifications
    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever an update is queued (wakes long polls)."""
        self._on_update.append(callback)

    # ----------------------------------------------------------------- people & chats
    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        # Simplification: the private chat exists as soon as the person exists (as if they
        # had already pressed Start), so the bot can message them.
        if user.id not in self.chats:
            self.add_chat(Chat(id=user.id, type=ChatType.PRIVATE, members={user.id}))
        return user

    def add_chat(self, chat: Chat) -> Chat:
        self.chats[chat.id] = chat
        self.messages.setdefault(chat.id, {})
        self._next_message_id.setdefault(chat.id, 1)
        return chat

    def user_or_bot(self, user_id: int) -> User | None:
        if user_id == self.bot.id:
            return self.bot
        return self.users.get(user_id)

    def chat_api(self, chat: Chat) -> JSONDict:
        data: JSONDict = {"id": chat.id, "type": chat.type.value}
        if chat.type is ChatType.PRIVATE:
            user = self.users.get(chat.id)
            data["first_name"] = user.first_name if user else str(chat.id)
            if user and user.last_name:
                data["last_name"] = user.last_name
            if user and user.username:
                data["username"] = user.username
        else:
            data["title"] = chat.title or str(chat.id)
            if chat.username:
                data["username"] = chat.username
        return data

    def chat_view(self, chat: Chat) -> JSONDict:
        data = self.chat_api(chat)
        data["members"] = sorted(chat.members)
        data["bot_is_admin"] = chat.bot_is_admin
        data["bot_status"] = chat.bot_status.value
        data["bot_rights"] = dict(chat.bot_rights)
        data["migrated_to"] = chat.migrated_to
        data["reply_keyboard"] = chat.reply_keyboard
        data["display_name"] = self.chat_display_name(chat)
        return data

    def chat_display_name(self, chat: Chat) -> str:
        if chat.type is ChatType.PRIVATE:
            user = self.users.get(chat.id)
            return user.full_name if user else str(chat.id)
        return chat.title or str(chat.id)

    # ----------------------------------------------------------------- messages
    def new_message(self, chat_id: int, sender_id: int, **fields: Any) -> Message:
        """Store a message under the next id of its chat (ids never repeat in a chat)."""
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = message_id + 1
        msg = Message(
            chat_id=chat_id,
            message_id=message_id,
            sender_id=sender_id,
            date=int(self.clock()),
            **fields,
        )
        self.messages[chat_id][message_id] = msg
        return msg

    def find_message(self, chat_id: int, message_id: int) -> Message | None:
        msg = self.messages.get(chat_id, {}).get(message_id)
        return None if msg is None or msg.deleted else msg

    def message_api(self, msg: Message, *, nested: bool = True) -> JSONDict:
        """The Bot API ``Message`` object; replies are nested one level, as Telegram does."""
        chat = self.chats[msg.chat_id]
        data: JSONDict = {"message_id": msg.message_id, "date": msg.date}
        sender = self.user_or_bot(msg.sender_id)
        if sender is not None:
            data["from"] = sender.to_api()
        data["chat"] = self.chat_api(chat)
        if msg.message_thread_id is not None:
            data["message_thread_id"] = msg.message_thread_id
        if msg.forward_origin is not None:
            data["forward_origin"] = msg.forward_origin
        if nested and msg.reply_to_message_id is not None:
            replied = self.find_message(msg.chat_id, msg.reply_to_message_id)
            if replied is not None:
                data["reply_to_message"] = self.message_api(replied, nested=False)
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if msg.text is not None:
            data["text"] = msg.text
            if msg.entities:
                data["entities"] = msg.entities
        if msg.photo:
            data["photo"] = [f.photo_size_api() for f in msg.photo]
        if msg.document is not None:
            data["document"] = msg.document.document_api()
        if msg.caption is not None:
            data["caption"] = msg.caption
            if msg.caption_entities:
                data["caption_entities"] = msg.caption_entities
        if msg.location is not None:
            data["location"] = msg.location
        if msg.contact is not None:
            data["contact"] = msg.contact
        if msg.migrate_to_chat_id is not None:
            data["migrate_to_chat_id"] = msg.migrate_to_chat_id
        if msg.migrate_from_chat_id is not None:
            data["migrate_from_chat_id"] = msg.migrate_from_chat_id
        if msg.inline_keyboard:
            data["reply_markup"] = {"inline_keyboard": msg.inline_keyboard}
        return data

    def message_view(self, msg: Message) -> JSONDict:
        """The control API's "what a human sees" shape of a message."""
        sender = self.user_or_bot(msg.sender_id)
        buttons: list[JSONDict] = []
        for row_no, row in enumerate(msg.inline_keyboard or []):
            for col_no, button in enumerate(row):
                buttons.append(
                    {
                        "text": button.get("text", ""),
                        "callback_data": button.get("callback_data"),
                        "url": button.get("url"),
                        "web_app": (button.get("web_app") or {}).get("url"),
                        "row": row_no,
                        "column": col_no,
                    }
                )
        reply_keyboard: list[list[str]] | None = None
        remove_keyboard = False
        if msg.reply_markup_other is not None:
            if "keyboard" in msg.reply_markup_other:
                reply_keyboard = keyboard_texts(msg.reply_markup_other["keyboard"])
            remove_keyboard = bool(msg.reply_markup_other.get("remove_keyboard"))
        biggest = max(msg.photo, key=lambda f: (f.width or 0) * (f.height or 0), default=None)
        return {
            "chat_id": msg.chat_id,
            "message_id": msg.message_id,
            "sender_id": msg.sender_id,
            "sender_name": sender.full_name if sender else str(msg.sender_id),
            "from_bot": sender.is_bot if sender else False,
            "date": msg.date,
            "text": msg.text,
            "raw_text": msg.raw_text,
            "parse_mode": msg.parse_mode,
            "caption": msg.caption,
            "buttons": buttons,
            "reply_keyboard": reply_keyboard,
            "remove_keyboard": remove_keyboard,
            "edited": msg.edit_date is not None,
            "reply_to": msg.reply_to_message_id,
            "photo": None
            if biggest is None
            else {
                "file_id": biggest.file_id,
                "width": biggest.width,
                "height": biggest.height,
                "file_size": biggest.size,
            },
            "document": None if msg.document is None else msg.document.document_api(),
            "location": msg.location,
            "contact": msg.contact,
            "forwarded": msg.forward_origin is not None,
            "deleted": msg.deleted,
            "migrate_to_chat_id": msg.migrate_to_chat_id,
            "migrate_from_chat_id": msg.migrate_from_chat_id,
            "raw": self.message_api(msg),
        }

    # ----------------------------------------------------------------- updates
    def queue_update(self, kind: str, payload: JSONDict) -> Update | None:
        """Queue an update unless the bot's ``allowed_updates`` filters its kind out."""
        if kind not in self.allowed_updates:
            return None
        update = Update(update_id=self._next_update_id, kind=kind, payload=payload)
        self._next_update_id += 1
        self.updates.append(update)
        for callback in self._on_update:
            callback()
        return update

    def confirm_updates(self, offset: int | None) -> None:
        """Apply getUpdates' ``offset``: forget confirmed updates (negative: keep the tail)."""
        if offset is None or offset == 0:
            return
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u.update_id >= offset]

    def set_allowed_updates(self, allowed: Iterable[str] | None) -> None:
        if allowed is None:
            return
        wanted = frozenset(allowed)
        self.allowed_updates = wanted or DEFAULT_ALLOWED_UPDATES

    # ----------------------------------------------------------------- files & ids
    def next_number(self) -> int:
        return next(self._counter)

    def store_file(
        self,
        kind: FileKind,
        data: bytes,
        *,
        extension: str,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
        photo_set: str | None = None,
    ) -> StoredFile:
        number = self.next_number()
        prefix = "AgAC" if kind is FileKind.PHOTO else "BQAC"
        digest = hashlib.sha1(data + str(number).encode()).hexdigest()
        folder = "photos" if kind is FileKind.PHOTO else "documents"
        stored = StoredFile(
            file_id=f"{prefix}sbx{number:06d}{digest[:16]}",
            file_unique_id=f"AQAD{digest[16:28]}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{number}.{extension}",
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
            photo_set=photo_set,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def photo_set(self, set_id: str) -> list[StoredFile]:
        sizes = [f for f in self.files.values() if f.photo_set == set_id]
        return sorted(sizes, key=lambda f: (f.width or 0) * (f.height or 0))

    def chat_instance(self, chat_id: int) -> str:
        """A stable opaque id per chat, as Telegram sends in ``CallbackQuery.chat_instance``."""
        digest = hashlib.sha1(f"{self.bot.id}:{chat_id}".encode()).hexdigest()
        return str(int(digest[:15], 16))


def keyboard_texts(rows: Any) -> list[list[str]]:
    """Button texts of a reply keyboard (buttons may be strings or KeyboardButton dicts)."""
    result: list[list[str]] = []
    for row in rows if isinstance(rows, list) else []:
        texts: list[str] = []
        for button in row if isinstance(row, list) else []:
            texts.append(button if isinstance(button, str) else str(button.get("text", "")))
        result.append(texts)
    return result
