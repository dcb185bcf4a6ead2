"""Async client of the sandbox's control API: tests and the demo "play the humans" with it.

It talks real HTTP to :class:`sandbox.telegram.TelegramSandbox` (endpoints listed in
that module's docstring), so it works the same against an in-process sandbox or one
started by another process.  Waiting is always condition-based with a deadline
(:meth:`SandboxClient.wait_for`), never sleep-and-hope; on expiry the error shows the chat
as a person would see it.

`ZaloSandboxClient` (at the end) does the same for :class:`sandbox.zalo.ZaloSandbox`,
in Zalo's terms: string ids, no buttons, messages placed by their index in the chat.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import aiohttp

from sandbox.serving import ApiCall, Scoped
from sandbox.state import BotStatus, ChatType, FaultKind

JSONDict = dict[str, Any]
T = TypeVar("T")


class _Shown(Protocol):
    """A message as people see it, in either dialect."""

    @property
    def from_bot(self) -> bool: ...
    @property
    def body(self) -> str: ...


M = TypeVar("M", bound=_Shown)
C = TypeVar("C")


class SandboxError(Exception):
    """The control API refused a request (e.g. pressing a button that is not there)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"sandbox answered {status}: {message}")
        self.status = status
        self.message = message


class SandboxTimeout(TimeoutError):
    """A waited-for condition did not hold before the deadline."""


@dataclass(frozen=True)
class SandboxUser:
    """A human account in the sandbox."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    @classmethod
    def from_json(cls, data: JSONDict) -> SandboxUser:
        return cls(
            id=int(data["id"]),
            first_name=str(data["first_name"]),
            last_name=data.get("last_name"),
            username=data.get("username"),
            language_code=data.get("language_code"),
        )


@dataclass(frozen=True)
class SandboxChat:
    """A chat as the control API describes it."""

    id: int
    type: ChatType
    display_name: str
    title: str | None = None
    members: tuple[int, ...] = ()
    bot_is_admin: bool = False
    #: The reply keyboard the humans currently see (rows of button texts).
    reply_keyboard: tuple[tuple[str, ...], ...] | None = None
    bot_status: BotStatus = BotStatus.MEMBER
    #: The supergroup a group was upgraded to (the group is dead then).
    migrated_to: int | None = None

    @classmethod
    def from_json(cls, data: JSONDict) -> SandboxChat:
        keyboard = data.get("reply_keyboard")
        migrated_to = data.get("migrated_to")
        return cls(
            id=int(data["id"]),
            type=ChatType(data["type"]),
            display_name=str(data.get("display_name") or data["id"]),
            title=data.get("title"),
            members=tuple(data.get("members") or ()),
            bot_is_admin=bool(data.get("bot_is_admin")),
            reply_keyboard=None if keyboard is None else tuple(tuple(r) for r in keyboard),
            bot_status=BotStatus(data.get("bot_status", BotStatus.MEMBER.value)),
            migrated_to=None if migrated_to is None else int(migrated_to),
        )


@dataclass(frozen=True)
class Button:
    """One inline keyboard button under a message."""

    text: str
    callback_data: str | None
    url: str | None
    row: int
    column: int
    #: The Mini App's URL, for a button that opens one.
    web_app: str | None = None


@dataclass(frozen=True)
class PhotoInfo:
    """The largest size of a photo in a message."""

    file_id: str
    width: int
    height: int
    file_size: int


@dataclass(frozen=True)
class DocumentInfo:
    """A document attached to a message."""

    file_id: str
    file_name: str | None
    mime_type: str | None
    file_size: int


@dataclass(frozen=True)
class ChatMessage:
    """A message as the people in the chat see it."""

    chat_id: int
    message_id: int
    sender_id: int
    sender_name: str
    from_bot: bool
    date: int
    text: str | None
    caption: str | None = None
    #: Text exactly as the bot sent it (with HTML tags when parse_mode was HTML).
    raw_text: str | None = None
    parse_mode: str | None = None
    buttons: tuple[Button, ...] = ()
    reply_keyboard: tuple[tuple[str, ...], ...] | None = None
    remove_keyboard: bool = False
    edited: bool = False
    reply_to: int | None = None
    photo: PhotoInfo | None = None
    document: DocumentInfo | None = None
    location: tuple[float, float] | None = None
    contact: JSONDict | None = None
    forwarded: bool = False
    deleted: bool = False
    #: The service messages of a group's upgrade to a supergroup.
    migrate_to_chat_id: int | None = None
    migrate_from_chat_id: int | None = None
    #: Set on messages returned by the send_* methods: the queued update (None when the
    #: bot may not see the message, e.g. privacy mode in groups).
    update_id: int | None = None
    #: The Bot API ``Message`` object, for assertions on entities and the like.
    raw: JSONDict = field(default_factory=dict, compare=False, repr=False)

    @property
    def body(self) -> str:
        """Text or caption, whichever the message has."""
        return self.text if self.text is not None else (self.caption or "")

    def button(self, label: str) -> Button:
        """The button whose text contains ``label`` (raises LookupError listing them)."""
        for candidate in self.buttons:
            if label in candidate.text:
                return candidate
        shown = ", ".join(repr(b.text) for b in self.buttons) or "none"
        raise LookupError(f"message {self.message_id} has no button {label!r}; buttons: {shown}")

    @classmethod
    def from_json(cls, data: JSONDict, update_id: int | None = None) -> ChatMessage:
        photo = data.get("photo")
        document = data.get("document")
        location = data.get("location")
        keyboard = data.get("reply_keyboard")
        return cls(
            chat_id=int(data["chat_id"]),
            message_id=int(data["message_id"]),
            sender_id=int(data["sender_id"]),
            sender_name=str(data["sender_name"]),
            from_bot=bool(data["from_bot"]),
            date=int(data["date"]),
            text=data.get("text"),
            caption=data.get("caption"),
            raw_text=data.get("raw_text"),
            parse_mode=data.get("parse_mode"),
            buttons=tuple(
                Button(
                    text=str(b["text"]),
                    callback_data=b.get("callback_data"),
                    url=b.get("url"),
                    web_app=b.get("web_app"),
                    row=int(b["row"]),
                    column=int(b["column"]),
                )
                for b in data.get("buttons") or ()
            ),
            reply_keyboard=None if keyboard is None else tuple(tuple(r) for r in keyboard),
            remove_keyboard=bool(data.get("remove_keyboard")),
            edited=bool(data.get("edited")),
            reply_to=data.get("reply_to"),
            photo=None
            if photo is None
            else PhotoInfo(
                file_id=str(photo["file_id"]),
                width=int(photo["width"]),
                height=int(photo["height"]),
                file_size=int(photo["file_size"]),
            ),
            document=None
            if document is None
            else DocumentInfo(
                file_id=str(document["file_id"]),
                file_name=document.get("file_name"),
                mime_type=document.get("mime_type"),
                file_size=int(document.get("file_size") or 0),
            ),
            location=None
            if location is None
            else (float(location["latitude"]), float(location["longitude"])),
            contact=data.get("contact"),
            forwarded=bool(data.get("forwarded")),
            deleted=bool(data.get("deleted")),
            migrate_to_chat_id=data.get("migrate_to_chat_id"),
            migrate_from_chat_id=data.get("migrate_from_chat_id"),
            update_id=update_id,
            raw=dict(data.get("raw") or {}),
        )


@dataclass(frozen=True)
class CallbackPress:
    """A button press and, once the bot answered, the answer."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    update_id: int
    answered: bool
    text: str | None
    show_alert: bool
    url: str | None

    @classmethod
    def from_json(cls, data: JSONDict) -> CallbackPress:
        return cls(
            id=str(data["id"]),
            user_id=int(data["user_id"]),
            chat_id=int(data["chat_id"]),
            message_id=int(data["message_id"]),
            data=str(data["data"]),
            update_id=int(data["update_id"]),
            answered=bool(data["answered"]),
            text=data.get("text"),
            show_alert=bool(data.get("show_alert")),
            url=data.get("url"),
        )


#: One Bot API request the bot made, as the sandbox logged it (``ok`` is None while it runs):
#: the client reads the very record the server keeps.
BotCall = ApiCall


@dataclass(frozen=True)
class CommandSet:
    """Commands the bot registered for one scope and language."""

    scope: JSONDict
    language_code: str
    commands: tuple[tuple[str, str], ...]


UserRef = int | SandboxUser
ChatRef = int | SandboxChat | SandboxUser


def _user_id(user: UserRef) -> int:
    return user.id if isinstance(user, SandboxUser) else int(user)


def _chat_id(chat: ChatRef) -> int:
    return chat.id if isinstance(chat, SandboxChat | SandboxUser) else int(chat)


def render_transcript(chat: SandboxChat | str, messages: Sequence[ChatMessage]) -> str:
    """A chat as people see it: sender, text, attachments, buttons, "(edited)" marks."""
    if isinstance(chat, SandboxChat):
        heading = f"=== {chat.display_name} ({chat.type.value} {chat.id}) ==="
    else:
        heading = f"=== {chat} ==="
    lines = [heading]
    if not messages:
        lines.append("(no messages)")
    for msg in messages:
        parts: list[str] = []
        if msg.forwarded:
            parts.append("(forwarded)")
        if msg.photo is not None:
            parts.append(f"[photo {msg.photo.width}x{msg.photo.height}]")
        if msg.document is not None:
            parts.append(f"[document {msg.document.file_name or msg.document.file_id}]")
        if msg.location is not None:
            parts.append(f"[location {msg.location[0]:.5f}, {msg.location[1]:.5f}]")
        if msg.contact is not None:
            parts.append(
                f"[contact {msg.contact.get('first_name', '')} {msg.contact.get('phone_number')}]"
            )
        if msg.migrate_to_chat_id is not None:
            parts.append(f"[upgraded to supergroup {msg.migrate_to_chat_id}]")
        if msg.migrate_from_chat_id is not None:
            parts.append(f"[upgraded from group {msg.migrate_from_chat_id}]")
        if msg.body:
            parts.append(msg.body)
        if msg.edited:
            parts.append("(edited)")
        if msg.deleted:
            parts.append("(deleted)")
        reply = f" ↪ #{msg.reply_to}" if msg.reply_to is not None else ""
        body_lines = " ".join(parts).split("\n")
        lines.append(f"#{msg.message_id} {msg.sender_name}{reply}: {body_lines[0]}")
        lines.extend(f"    {extra}" for extra in body_lines[1:])
        rows: dict[int, list[str]] = {}
        for button in msg.buttons:
            label = f"[{button.text} ↗ {button.url}]" if button.url else f"[{button.text}]"
            rows.setdefault(button.row, []).append(label)
        lines.extend(f"    {' '.join(row)}" for _, row in sorted(rows.items()))
        if msg.reply_keyboard is not None:
            keys = " | ".join(" ".join(f"[{t}]" for t in row) for row in msg.reply_keyboard)
            lines.append(f"    keyboard: {keys}")
        if msg.remove_keyboard:
            lines.append("    (keyboard removed)")
    return "\n".join(lines)


class ControlClient(Scoped, Generic[C, M]):
    """An HTTP session to one sandbox's control API (`/_sandbox/...`), shared by both dialects.

    `C` is how a chat is named in the dialect, `M` a message as its people see it. Waiting is
    always on a condition with a deadline; on expiry the error shows the chat as people see it.
    """

    #: How a timeout names the chat it waited on.
    chat_noun = "chat"

    def __init__(self, root_url: str, *, session: aiohttp.ClientSession | None = None):
        self.root_url = root_url.rstrip("/")
        self._session = session
        self._owns_session = session is None

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        body: JSONDict | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self.root_url}/_sandbox{path}"
        async with self._http().request(method, url, json=body, params=query) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                message = data.get("error") if isinstance(data, dict) else None
                raise SandboxError(response.status, str(message or data))
            return data

    # ------------------------------------------------------------------ the dialect's part
    def _chat_key(self, chat: C) -> str:
        raise NotImplementedError

    def _place(self, message: M) -> int:
        """A message's place in its chat, for "after this one"."""
        raise NotImplementedError

    async def messages(self, chat: C) -> list[M]:
        """What the chat shows now, oldest first."""
        raise NotImplementedError

    async def transcript(self, chat: C) -> str:
        """The chat rendered as people see it (for the demo and failure messages)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    async def reset(self) -> None:
        """Forget all users, chats, messages, calls and faults."""
        await self._request("POST", "/reset")

    async def calls(
        self, method: str | None = None, *, include_polling: bool = False, since: int = 0
    ) -> list[BotCall]:
        """The Bot API calls the bot made (getUpdates left out unless asked for)."""
        query: dict[str, str] = {"since": str(since)}
        if method is not None:
            query["method"] = method
        if include_polling:
            query["include_polling"] = "1"
        return [BotCall(**c) for c in await self._request("GET", "/calls", query=query)]

    async def clear_calls(self) -> None:
        await self._request("DELETE", "/calls")

    async def pending_updates(self) -> list[JSONDict]:
        """Updates the platform holds for the bot and has not handed over for good."""
        return list(await self._request("GET", "/updates"))

    async def clear_faults(self) -> None:
        await self._request("DELETE", "/faults")

    # ------------------------------------------------------------------ the platform misbehaves
    async def inject_answer(
        self,
        status: int,
        *,
        description: str | None = None,
        parameters: JSONDict | None = None,
        body: str | None = None,
        content_type: str | None = None,
        count: int = 1,
        methods: Sequence[str] | None = None,
        chat: C | None = None,
    ) -> JSONDict:
        """The next `count` calls (of `methods`, about `chat`) get this answer instead of
        running: the platform's JSON error (`status`, `description`, `parameters`), or
        `body` as it is (e.g. a proxy's HTML page, `content_type` default text/html)."""
        request: JSONDict = {"status": status, "count": count}
        for key, value in (
            ("description", description),
            ("parameters", parameters),
            ("body", body),
            ("content_type", content_type),
        ):
            if value is not None:
                request[key] = value
        if methods is not None:
            request["methods"] = list(methods)
        if chat is not None:
            request["chat_id"] = self._chat_key(chat)
        return dict(await self._request("POST", "/answers", request))

    async def injected_answers(self) -> list[JSONDict]:
        """Injected answers not used up yet."""
        return list(await self._request("GET", "/answers"))

    async def clear_answers(self) -> None:
        await self._request("DELETE", "/answers")

    async def _set_bot(self, **settings: bool | None) -> JSONDict:
        """The bot's settings (those given), then all of them as the sandbox has them."""
        body = {name: value for name, value in settings.items() if value is not None}
        return dict(await self._request("POST", "/bot", body))

    async def revoke_token(self) -> None:
        """Every Bot API call answers 401 Unauthorized until `restore_token`."""
        await self._request("POST", "/token/revoke")

    async def restore_token(self) -> None:
        await self._request("DELETE", "/token/revoke")

    async def replace_token(self, token: str) -> None:
        """The bot's token becomes `token` (same bot id); the old one answers 401."""
        await self._request("POST", "/token", {"token": token})

    # ------------------------------------------------------------------ waiting
    async def _poll(
        self,
        probe: Callable[[], Awaitable[T]],
        describe: Callable[[], Awaitable[str]],
        timeout: float,  # noqa: ASYNC109
        interval: float,
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = await probe()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SandboxTimeout(await describe())
            await asyncio.sleep(min(interval, remaining))

    async def wait_for(
        self,
        chat: C,
        predicate: Callable[[list[M]], T],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        interval: float = 0.02,
        what: str = "condition",
    ) -> T:
        """Poll the chat until ``predicate(messages)`` is truthy and return that value.

        Raises :class:`SandboxTimeout` with the chat's transcript when ``timeout`` passes.
        """

        async def probe() -> T:
            return predicate(await self.messages(chat))

        async def describe() -> str:
            return (
                f"timed out after {timeout}s waiting for {what} in {self.chat_noun} "
                f"{self._chat_key(chat)}; the chat shows:\n{await self.transcript(chat)}"
            )

        return await self._poll(probe, describe, timeout, interval)

    async def wait_for_message(
        self,
        chat: C,
        *,
        contains: str | None = None,
        text: str | None = None,
        from_bot: bool | None = True,
        after: int = 0,
        where: Callable[[M], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> M:
        """The first message placed after ``after`` matching all the given conditions."""

        def matches(msg: M) -> bool:
            return (
                self._place(msg) > after
                and (from_bot is None or msg.from_bot == from_bot)
                and (contains is None or contains in msg.body)
                and (text is None or msg.body == text)
                and (where is None or where(msg))
            )

        def first(messages: list[M]) -> M | None:
            return next((m for m in messages if matches(m)), None)

        conditions = [
            f"{k}={v!r}"
            for k, v in (("contains", contains), ("text", text), ("from_bot", from_bot))
            if v is not None
        ]
        found = await self.wait_for(
            chat,
            first,
            timeout=timeout,
            what=f"a message after #{after} with {', '.join(conditions) or 'anything'}",
        )
        if found is None:  # wait_for only returns truthy values
            raise SandboxTimeout("no message found")
        return found


class SandboxClient(ControlClient[ChatRef, ChatMessage]):
    """Plays the humans against a running sandbox over HTTP."""

    def _chat_key(self, chat: ChatRef) -> str:
        return str(_chat_id(chat))

    def _place(self, message: ChatMessage) -> int:
        return message.message_id

    # ------------------------------------------------------------------ setup
    async def bot_user(self) -> JSONDict:
        """The bot's own User object (id, username, ...)."""
        data = await self._request("GET", "/bot")
        return dict(data["user"])

    async def add_user(
        self,
        id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = True,
    ) -> SandboxUser:
        """Create a person (and their private chat with the bot). With `started` False they
        have never written to the bot: it may not write first (403) until they do."""
        body: JSONDict = {"id": id, "first_name": first_name, "started": started}
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                body[key] = value
        return SandboxUser.from_json(await self._request("POST", "/users", body))

    async def add_chat(
        self,
        id: int | None = None,
        *,
        type: ChatType | str = ChatType.GROUP,
        title: str | None = None,
        members: Sequence[UserRef] = (),
        bot_is_admin: bool = False,
        username: str | None = None,
    ) -> SandboxChat:
        """Create a group/supergroup the bot is in (``id`` None: a fresh Telegram-like id)."""
        body: JSONDict = {
            "type": ChatType(type).value,
            "members": [_user_id(m) for m in members],
            "bot_is_admin": bot_is_admin,
        }
        if id is not None:
            body["id"] = id
        if title is not None:
            body["title"] = title
        if username is not None:
            body["username"] = username
        return SandboxChat.from_json(await self._request("POST", "/chats", body))

    async def add_member(self, chat: ChatRef, user: UserRef) -> SandboxChat:
        data = await self._request(
            "POST", f"/chats/{_chat_id(chat)}/members", {"user_id": _user_id(user)}
        )
        return SandboxChat.from_json(data)

    async def block(self, user: UserRef) -> None:
        """The person blocks the bot: sends to them now fail with 403 Forbidden."""
        await self._request("POST", f"/users/{_user_id(user)}/block")

    async def unblock(self, user: UserRef) -> None:
        await self._request("DELETE", f"/users/{_user_id(user)}/block")

    async def deactivate(self, user: UserRef) -> None:
        """The person deletes their account: sends to them fail with 403."""
        await self._request("POST", f"/users/{_user_id(user)}/deactivate")

    async def set_bot(
        self, *, privacy_mode: bool | None = None, can_join_groups: bool | None = None
    ) -> JSONDict:
        """Change the bot's @BotFather settings (what getMe answers)."""
        return await self._set_bot(privacy_mode=privacy_mode, can_join_groups=can_join_groups)

    async def set_bot_status(
        self,
        chat: ChatRef,
        status: BotStatus | str,
        *,
        rights: dict[str, bool] | None = None,
        by: UserRef | None = None,
    ) -> SandboxChat:
        """Someone (`by`, default the first member) promotes, demotes, removes or bans the
        bot in a group; the bot gets a my_chat_member update."""
        body: JSONDict = {"status": BotStatus(status).value}
        if rights is not None:
            body["rights"] = dict(rights)
        if by is not None:
            body["by"] = _user_id(by)
        data = await self._request("POST", f"/chats/{_chat_id(chat)}/bot", body)
        return SandboxChat.from_json(data["chat"])

    async def migrate(
        self, chat: ChatRef, *, new_id: int | None = None, by: UserRef | None = None
    ) -> SandboxChat:
        """The group becomes a supergroup (returned): a new id, service messages in both,
        and 400 "group chat was upgraded to a supergroup chat" on the old id from now on."""
        body: JSONDict = {}
        if new_id is not None:
            body["new_id"] = new_id
        if by is not None:
            body["by"] = _user_id(by)
        data = await self._request("POST", f"/chats/{_chat_id(chat)}/migrate", body)
        return SandboxChat.from_json(data["chat"])

    # ------------------------------------------------------------------ humans act
    async def send_message(self, user: UserRef, chat: ChatRef | None, **fields: Any) -> ChatMessage:
        """Send any message the control API accepts (see the server's docstring)."""
        body: JSONDict = {"user_id": _user_id(user), **fields}
        if chat is not None:
            body["chat_id"] = _chat_id(chat)
        data = await self._request("POST", "/messages", body)
        return ChatMessage.from_json(data["message"], update_id=data.get("update_id"))

    async def send_text(
        self, user: UserRef, chat: ChatRef | None, text: str, reply_to: int | None = None
    ) -> ChatMessage:
        """The person types ``text`` (a leading ``/`` makes it a command)."""
        return await self.send_message(user, chat, text=text, **_reply_field(reply_to))

    async def send_photo(
        self,
        user: UserRef,
        chat: ChatRef | None,
        data: bytes | None = None,
        *,
        width: int = 640,
        height: int = 480,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> ChatMessage:
        """The person sends a photo: ``data`` (an image file) or a generated one."""
        photo = _photo_fields(data, width, height, caption)
        return await self.send_message(user, chat, **photo, **_reply_field(reply_to))

    async def send_document(
        self,
        user: UserRef,
        chat: ChatRef | None,
        data: bytes,
        file_name: str,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> ChatMessage:
        document: JSONDict = {"base64": base64.b64encode(data).decode(), "file_name": file_name}
        if mime_type is not None:
            document["mime_type"] = mime_type
        extra: JSONDict = {"caption": caption} if caption is not None else {}
        return await self.send_message(user, chat, document=document, **extra)

    async def send_location(
        self,
        user: UserRef,
        chat: ChatRef | None,
        latitude: float,
        longitude: float,
        reply_to: int | None = None,
    ) -> ChatMessage:
        return await self.send_message(
            user,
            chat,
            location={"latitude": latitude, "longitude": longitude},
            **_reply_field(reply_to),
        )

    async def send_contact(
        self,
        user: UserRef,
        chat: ChatRef | None,
        phone_number: str,
        first_name: str,
        *,
        last_name: str | None = None,
        contact_user_id: int | None = None,
    ) -> ChatMessage:
        contact: JSONDict = {"phone_number": phone_number, "first_name": first_name}
        if last_name is not None:
            contact["last_name"] = last_name
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return await self.send_message(user, chat, contact=contact)

    async def forward_text(
        self,
        user: UserRef,
        chat: ChatRef | None,
        text: str,
        *,
        original_sender: UserRef | None = None,
        hidden_sender_name: str | None = None,
    ) -> ChatMessage:
        """The person forwards a text written by someone else (or by a hidden account)."""
        extra: JSONDict = {}
        if original_sender is not None:
            extra["forward_from"] = _user_id(original_sender)
        elif hidden_sender_name is not None:
            extra["forward_sender_name"] = hidden_sender_name
        else:
            raise ValueError("give original_sender or hidden_sender_name")
        return await self.send_message(user, chat, text=text, **extra)

    async def press(
        self, user: UserRef, chat: ChatRef | None, message_id: int, data: str
    ) -> CallbackPress:
        """Press the inline button carrying ``data`` (the sandbox checks it is there)."""
        return await self._press(user, chat, message_id, {"data": data})

    async def press_button(
        self, user: UserRef, chat: ChatRef | None, message_id: int, text: str
    ) -> CallbackPress:
        """Press the inline button labelled exactly ``text``."""
        return await self._press(user, chat, message_id, {"text": text})

    async def _press(
        self, user: UserRef, chat: ChatRef | None, message_id: int, which: JSONDict
    ) -> CallbackPress:
        body: JSONDict = {"user_id": _user_id(user), "message_id": message_id, **which}
        if chat is not None:
            body["chat_id"] = _chat_id(chat)
        return CallbackPress.from_json(await self._request("POST", "/callback", body))

    async def open_web_app(
        self,
        user: UserRef,
        url: str,
        *,
        auth_date: float | None = None,
        chat_type: str = "private",
        start_param: str | None = None,
        token: str | None = None,
    ) -> str:
        """The URL a person's Telegram opens for the bot's Mini App at `url`: the launch
        data signed in its fragment (`token`: signed as another bot's would be)."""
        body: JSONDict = {"user_id": _user_id(user), "url": url, "chat_type": chat_type}
        for key, value in (
            ("auth_date", auth_date),
            ("start_param", start_param),
            ("token", token),
        ):
            if value is not None:
                body[key] = value
        return str((await self._request("POST", "/webapp", body))["url"])

    # ------------------------------------------------------------------ observe
    async def chat(self, chat: ChatRef) -> SandboxChat:
        return SandboxChat.from_json(await self._request("GET", f"/chats/{_chat_id(chat)}"))

    async def chats(self) -> list[SandboxChat]:
        return [SandboxChat.from_json(c) for c in await self._request("GET", "/chats")]

    async def messages(self, chat: ChatRef, *, include_deleted: bool = False) -> list[ChatMessage]:
        """What the chat shows now, oldest first."""
        query = {"include_deleted": "1"} if include_deleted else None
        data = await self._request("GET", f"/chats/{_chat_id(chat)}/messages", query=query)
        return [ChatMessage.from_json(m) for m in data]

    async def callback(self, press: CallbackPress | str) -> CallbackPress:
        """Current state of a button press (whether and how the bot answered)."""
        press_id = press.id if isinstance(press, CallbackPress) else press
        return CallbackPress.from_json(await self._request("GET", f"/callbacks/{press_id}"))

    async def commands(self) -> list[CommandSet]:
        return [
            CommandSet(
                scope=dict(c["scope"]),
                language_code=str(c["language_code"]),
                commands=tuple((str(x["command"]), str(x["description"])) for x in c["commands"]),
            )
            for c in await self._request("GET", "/commands")
        ]

    async def queue_update(self, kind: str, payload: JSONDict) -> int | None:
        """An update of `kind` with `payload` as it is, malformed or not; its update_id
        (None when the bot's allowed_updates filter it out)."""
        answer = await self._request("POST", "/updates", {"kind": kind, "payload": payload})
        update_id = answer.get("update_id")
        return int(update_id) if update_id is not None else None

    async def download(self, file_id: str) -> bytes:
        """Bytes of any file the sandbox stores (e.g. a photo the bot sent)."""
        async with self._http().get(f"{self.root_url}/_sandbox/files/{file_id}") as response:
            if response.status >= 400:
                raise SandboxError(response.status, await response.text())
            return await response.read()

    async def transcript(self, chat: ChatRef) -> str:
        info = await self.chat(chat)
        return render_transcript(info, await self.messages(chat))

    # ------------------------------------------------------------------ faults
    async def add_fault(
        self,
        kind: FaultKind | str,
        *,
        count: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
        delay: float | None = None,
        methods: Sequence[str] | None = None,
    ) -> JSONDict:
        """Make the next ``count`` calls (or those within ``seconds``) fail or stall.

        A stall hangs each call ``delay`` seconds (default: until the window ends, else
        10 s) and then processes it, like a slow network; ``clear_faults`` releases it.
        """
        body: JSONDict = {
            "kind": kind.value if isinstance(kind, FaultKind) else str(kind),
            "retry_after": retry_after,
        }
        if delay is not None:
            body["delay"] = delay
        if count is not None:
            body["count"] = count
        if seconds is not None:
            body["seconds"] = seconds
        if methods is not None:
            body["methods"] = list(methods)
        return dict(await self._request("POST", "/faults", body))

    # ------------------------------------------------------------------ waiting
    async def wait_for_answer(
        self,
        press: CallbackPress | str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackPress:
        """Wait until the bot answered the button press (answerCallbackQuery)."""

        async def probe() -> CallbackPress | None:
            state = await self.callback(press)
            return state if state.answered else None

        async def describe() -> str:
            state = await self.callback(press)
            return f"timed out after {timeout}s: callback {state.id} ({state.data!r}) unanswered"

        found = await self._poll(probe, describe, timeout, 0.02)
        if found is None:  # wait_for only returns truthy values
            raise SandboxTimeout("no message found")
        return found

    async def wait_for_calls(
        self,
        method: str,
        *,
        count: int = 1,
        where: Callable[[BotCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[BotCall]:
        """Wait until the bot has made at least ``count`` matching calls of ``method``."""

        async def matching() -> list[BotCall]:
            found = await self.calls(method)
            return [c for c in found if where is None or where(c)]

        async def probe() -> list[BotCall]:
            found = await matching()
            return found if len(found) >= count else []

        async def describe() -> str:
            found = await matching()
            return f"timed out after {timeout}s: {len(found)}/{count} {method} calls seen"

        return await self._poll(probe, describe, timeout, 0.02)


def _reply_field(reply_to: int | str | None) -> JSONDict:
    return {} if reply_to is None else {"reply_to_message_id": reply_to}


def _photo_fields(data: bytes | None, width: int, height: int, caption: str | None) -> JSONDict:
    """A photo as the control API takes it: the image's bytes, or the size of one to make."""
    photo: JSONDict = (
        {"base64": base64.b64encode(data).decode()}
        if data is not None
        else {"width": width, "height": height}
    )
    return {"photo": photo} if caption is None else {"photo": photo, "caption": caption}


# =========================================================================== Zalo dialect


@dataclass(frozen=True)
class ZaloPerson:
    """A person on Zalo in the sandbox (Zalo ids are strings; there are no usernames)."""

    id: str
    display_name: str

    @classmethod
    def from_json(cls, data: JSONDict) -> ZaloPerson:
        return cls(id=str(data["id"]), display_name=str(data["display_name"]))


@dataclass(frozen=True)
class ZaloChatInfo:
    id: str
    type: str  # "PRIVATE" | "GROUP"
    title: str
    members: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: JSONDict) -> ZaloChatInfo:
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            title=str(data["title"]),
            members=tuple(str(m) for m in data.get("members") or ()),
        )


@dataclass(frozen=True)
class ZaloChatMessage:
    """A Zalo message as the people in the chat see it; `index` is its place in the chat."""

    chat_id: str
    message_id: str
    index: int
    sender_id: str
    sender_name: str
    from_bot: bool
    date: int
    text: str | None = None
    caption: str | None = None
    photo_url: str | None = None
    sticker: str | None = None
    reply_to: str | None = None
    #: Whether the bot was given this message (groups: only mentions and replies to it).
    delivered: bool = False
    #: Whether the bot is done with it (it polled again after taking it, or answered its push).
    handled: bool = False

    @property
    def body(self) -> str:
        return self.text if self.text is not None else (self.caption or "")

    @classmethod
    def from_json(cls, data: JSONDict) -> ZaloChatMessage:
        return cls(
            chat_id=str(data["chat_id"]),
            message_id=str(data["message_id"]),
            index=int(data["index"]),
            sender_id=str(data["sender_id"]),
            sender_name=str(data["sender_name"]),
            from_bot=bool(data["from_bot"]),
            date=int(data["date"]),
            text=data.get("text"),
            caption=data.get("caption"),
            photo_url=data.get("photo_url"),
            sticker=data.get("sticker"),
            reply_to=data.get("reply_to"),
            delivered=bool(data.get("delivered")),
            handled=bool(data.get("handled")),
        )


ZaloPersonRef = str | ZaloPerson
ZaloChatRef = str | ZaloPerson | ZaloChatInfo


def _zalo_id(ref: ZaloPersonRef | ZaloChatRef) -> str:
    return ref if isinstance(ref, str) else ref.id


def render_zalo_transcript(chat: ZaloChatInfo, messages: Sequence[ZaloChatMessage]) -> str:
    """A Zalo chat as people see it; `#n` is the message's place in the chat."""
    kind = "group" if chat.type == "GROUP" else "private"
    lines = [f"=== {chat.title} (Zalo {kind} {chat.id}) ==="]
    if not messages:
        lines.append("(no messages)")
    for msg in messages:
        parts: list[str] = []
        if msg.photo_url is not None:
            parts.append("[photo]")
        if msg.sticker is not None:
            parts.append("[sticker]")
        if msg.body:
            parts.append(msg.body)
        reply = ""
        if msg.reply_to is not None:
            target = next((m.index for m in messages if m.message_id == msg.reply_to), None)
            reply = f" ↪ #{target}" if target is not None else " ↪"
        body_lines = " ".join(parts).split("\n")
        lines.append(f"#{msg.index} {msg.sender_name}{reply}: {body_lines[0]}")
        lines.extend(f"    {extra}" for extra in body_lines[1:])
    return "\n".join(lines)


class ZaloSandboxClient(ControlClient[ZaloChatRef, ZaloChatMessage]):
    """Plays the humans against a running `ZaloSandbox` over HTTP."""

    chat_noun = "Zalo chat"

    def __init__(self, root_url: str, *, session: aiohttp.ClientSession | None = None):
        super().__init__(root_url, session=session)
        self._bot_name: str | None = None

    def _chat_key(self, chat: ZaloChatRef) -> str:
        return _zalo_id(chat)

    def _place(self, message: ZaloChatMessage) -> int:
        return message.index

    # ------------------------------------------------------------------ setup
    async def bot(self) -> JSONDict:
        return dict(await self._request("GET", "/bot"))

    async def bot_mention(self) -> str:
        """What a person types to mention the bot in a group: `@` and its display name."""
        if self._bot_name is None:
            self._bot_name = str((await self.bot())["display_name"])
        return f"@{self._bot_name}"

    async def add_user(self, id: str, display_name: str, *, started: bool = True) -> ZaloPerson:
        """A person; with `started` False they have never written to the bot (403 until
        they do)."""
        body: JSONDict = {"id": id, "display_name": display_name, "started": started}
        return ZaloPerson.from_json(await self._request("POST", "/users", body))

    async def set_bot(
        self, *, can_join_groups: bool | None = None, mention_only: bool | None = None
    ) -> JSONDict:
        """Change what getMe says of groups, and whether the bot hears only mentions."""
        return await self._set_bot(can_join_groups=can_join_groups, mention_only=mention_only)

    async def add_chat(
        self,
        id: str | None = None,
        *,
        title: str | None = None,
        members: Sequence[ZaloPersonRef] = (),
    ) -> ZaloChatInfo:
        body: JSONDict = {"members": [_zalo_id(m) for m in members]}
        if id is not None:
            body["id"] = id
        if title is not None:
            body["title"] = title
        return ZaloChatInfo.from_json(await self._request("POST", "/chats", body))

    async def add_member(self, chat: ZaloChatRef, user: ZaloPersonRef) -> ZaloChatInfo:
        data = await self._request(
            "POST", f"/chats/{_zalo_id(chat)}/members", {"user_id": _zalo_id(user)}
        )
        return ZaloChatInfo.from_json(data)

    # ------------------------------------------------------------------ people act
    async def send_message(
        self, user: ZaloPersonRef, chat: ZaloChatRef | None, **fields: Any
    ) -> ZaloChatMessage:
        body: JSONDict = {"user_id": _zalo_id(user), **fields}
        if chat is not None:
            body["chat_id"] = _zalo_id(chat)
        data = await self._request("POST", "/messages", body)
        return ZaloChatMessage.from_json(data["message"])

    async def send_text(
        self,
        user: ZaloPersonRef,
        chat: ZaloChatRef | None,
        text: str,
        *,
        reply_to: str | None = None,
    ) -> ZaloChatMessage:
        return await self.send_message(user, chat, text=text, **_reply_field(reply_to))

    async def send_photo(
        self,
        user: ZaloPersonRef,
        chat: ZaloChatRef | None,
        data: bytes | None = None,
        *,
        width: int = 640,
        height: int = 480,
        caption: str | None = None,
    ) -> ZaloChatMessage:
        """The person sends a photo: ``data`` (an image file) or a generated one."""
        return await self.send_message(user, chat, **_photo_fields(data, width, height, caption))

    async def redeliver(self, message: ZaloChatMessage | str) -> None:
        """The platform hands the bot the same message again (it has no offsets)."""
        message_id = message.message_id if isinstance(message, ZaloChatMessage) else message
        await self._request("POST", "/redeliver", {"message_id": message_id})

    # ------------------------------------------------------------------ observe
    async def chat(self, chat: ZaloChatRef) -> ZaloChatInfo:
        return ZaloChatInfo.from_json(await self._request("GET", f"/chats/{_zalo_id(chat)}"))

    async def messages(self, chat: ZaloChatRef) -> list[ZaloChatMessage]:
        data = await self._request("GET", f"/chats/{_zalo_id(chat)}/messages")
        return [ZaloChatMessage.from_json(m) for m in data]

    async def queue_update(self, update: Any) -> None:
        """The platform hands the bot `update` as it is: any JSON, malformed or not."""
        await self._request("POST", "/updates", {"update": update})

    async def pushes(self) -> list[JSONDict]:
        """Webhook deliveries the sandbox made: url, update and the status it got."""
        return list(await self._request("GET", "/pushes"))

    async def transcript(self, chat: ZaloChatRef) -> str:
        return render_zalo_transcript(await self.chat(chat), await self.messages(chat))

    async def add_fault(
        self,
        status: int,
        *,
        count: int = 1,
        methods: Sequence[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next `count` calls (of `methods`) fail with `status`."""
        body: JSONDict = {"status": status, "count": count}
        if methods is not None:
            body["methods"] = list(methods)
        if retry_after is not None:
            body["retry_after"] = retry_after
        await self._request("POST", "/faults", body)

    async def add_stall(
        self, seconds: float, *, count: int = 1, methods: Sequence[str] | None = None
    ) -> None:
        """Make the next `count` calls (of `methods`) hang `seconds`, then run them."""
        body: JSONDict = {"stall": seconds, "count": count}
        if methods is not None:
            body["methods"] = list(methods)
        await self._request("POST", "/faults", body)
