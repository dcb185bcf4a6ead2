"""The channel-neutral edge: what every adapter turns its platform's traffic into.

No type from a platform library crosses this line; `handlers/` sees only these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from bot.channels.routes import Route
from bot.channels.text import TextMeasure, split_text
from bot.domain.people import ChatAddress, account_uid
from bot.i18n import Lang


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


class UpdateMode(StrEnum):
    """How a platform's updates reach us: we ask (polling) or it pushes to our HTTP server."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    LOCATION = "location"
    DOCUMENT = "document"


#: The chat a message came from or goes to.
ChannelAddress = ChatAddress


@dataclass(frozen=True)
class InboundUser:
    id: str
    name: str
    username: str | None = None
    lang: str | None = None

    def uid(self, channel: str) -> str:
        return account_uid(channel, self.id)


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind
    file_ref: str | None = None  # the platform's file id, fetched with Channel.download
    size: int | None = None
    mime: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class CallbackPress:
    id: str
    data: str


@dataclass(frozen=True)
class Inbound:
    """One message, command or button press from a person, on any channel."""

    address: ChannelAddress
    chat_kind: ChatKind
    user: InboundUser
    text: str = ""
    message_id: str | None = None
    reply_to_message_id: str | None = None
    callback: CallbackPress | None = None
    attachments: tuple[Attachment, ...] = ()
    forwarded: bool = False
    update_id: str | None = None

    @property
    def channel(self) -> str:
        return self.address.channel


class ButtonKind(StrEnum):
    """What pressing a button does: our callback, a link, or a Mini App (Telegram)."""

    CALLBACK = "callback"
    URL = "url"
    #: Opens `data` (an HTTPS URL) as a Mini App; Telegram allows it in private chats only.
    WEB_APP = "web_app"


@dataclass(frozen=True)
class Button:
    text: str
    data: str  # the callback data, or the URL of a link or a Mini App
    kind: ButtonKind = ButtonKind.CALLBACK


@dataclass(frozen=True)
class Key:
    """A key of the keyboard under the input field: typing its text, or sharing a location."""

    text: str
    request_location: bool = False


@dataclass(frozen=True)
class Outbound:
    """A message as the bot means it; each channel's renderer decides how it looks."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to: str | None = None
    claim_ref: str | None = None  # a card whose main action is "claim REF"
    photo_path: str | None = None
    document_path: str | None = None
    #: A keyboard under the input field (a "send location" key); channels without one
    #: ignore it. `remove_keys` takes such a keyboard away again.
    keys: tuple[tuple[Key, ...], ...] = ()
    remove_keys: bool = False
    #: The language the text is written in, for lines a channel adds (None: the default).
    lang: Lang | None = None
    #: A case card's title, status and assignee lines: what a channel that cannot edit
    #: posts when the card changes. Empty for anything but a card.
    summary: tuple[str, ...] = ()

    def parts(self, capabilities: Capabilities) -> list[Outbound]:
        """The sends this message becomes, its text cut as the channel counts: the reply
        target on the first; buttons, keyboards and everything else it carries on the last.
        A message with a file goes whole: the channel decides where its text goes."""
        if self.photo_path or self.document_path:
            return [self]
        pieces = capabilities.split(self.text)
        if len(pieces) <= 1:
            return [self]
        last = len(pieces) - 1
        return [
            replace(self, text=piece, reply_to=None)
            if index == last
            else Outbound(text=piece, reply_to=self.reply_to if index == 0 else None)
            for index, piece in enumerate(pieces)
        ]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [[_button_json(b) for b in row] for row in self.buttons],
            "reply_to": self.reply_to,
            "claim_ref": self.claim_ref,
            "photo_path": self.photo_path,
            "document_path": self.document_path,
        }
        if self.keys:
            data["keys"] = [
                [{"text": k.text, "location": k.request_location} for k in row] for row in self.keys
            ]
        if self.remove_keys:
            data["remove_keys"] = True
        if self.lang is not None:
            data["lang"] = self.lang.value
        if self.summary:
            data["summary"] = list(self.summary)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outbound:
        return cls(
            text=str(data["text"]),
            buttons=tuple(
                tuple(
                    Button(str(b["text"]), str(b["data"]), ButtonKind(b.get("kind", "callback")))
                    for b in row
                )
                for row in data.get("buttons", [])
            ),
            reply_to=data.get("reply_to"),
            claim_ref=data.get("claim_ref"),
            photo_path=data.get("photo_path"),
            document_path=data.get("document_path"),
            keys=tuple(
                tuple(Key(str(k["text"]), bool(k.get("location"))) for k in row)
                for row in data.get("keys", [])
            ),
            remove_keys=bool(data.get("remove_keys")),
            # Rows written before a field existed lack it: they read as its default.
            lang=_lang(data.get("lang")),
            summary=tuple(str(line) for line in data.get("summary", [])),
        )


def _button_json(button: Button) -> dict[str, str]:
    data = {"text": button.text, "data": button.data}
    if button.kind is not ButtonKind.CALLBACK:  # rows written before kinds read as callbacks
        data["kind"] = button.kind.value
    return data


def _lang(value: object) -> Lang | None:
    """A stored language, or None for none or one this version does not know."""
    try:
        return Lang(value) if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Capabilities:
    """What a platform can show. The defaults are a chat that can show everything, with
    Telegram's text limit; each adapter states only where its platform differs."""

    buttons: bool = True
    edits: bool = True
    max_text: int = 4096
    photos_in: bool = True
    photos_out: bool = True
    locations: bool = True
    groups: bool = True
    #: Opens web pages as Mini Apps signed with the user's identity (Telegram).
    mini_apps: bool = False
    #: How the platform counts a text's length against `max_text` and `max_caption`.
    measure: TextMeasure = TextMeasure.UTF16
    #: The longest caption of a photo or document (None: as long as a text).
    max_caption: int | None = None

    def split(self, text: str) -> list[str]:
        """The messages a long text goes out as, each within `max_text`."""
        return split_text(text, self.max_text, self.measure)

    def fits_caption(self, text: str) -> bool:
        limit = self.max_text if self.max_caption is None else self.max_caption
        return self.measure.length(text) <= limit


@dataclass(frozen=True)
class Sent:
    message_ids: tuple[str, ...] = field(default_factory=tuple)


class DeliveryError(Exception):
    """A send or edit that did not happen; the subclass says what to do about it."""


class RetryLater(DeliveryError):
    def __init__(self, retry_after: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {retry_after}s")
        self.retry_after = retry_after


class TransientFailure(DeliveryError):
    """5xx, timeout, connection refused: retry with backoff."""


class PermanentFailure(DeliveryError):
    """Blocked, chat not found, bad request: retrying cannot help."""


class NotModified(DeliveryError):
    """The edit asked for what the message already shows: counts as success."""


class MessageGone(DeliveryError):
    """The message to edit no longer exists: post a new one instead."""


InboundSink = Callable[[Inbound], Awaitable["HandleResult"]]
#: Told (channel, old chat id, new chat id) when a chat lives on under a new id.
ChatMovedSink = Callable[[str, str, str], Awaitable[None]]

#: Command menus: (chat kind, language code) → [(command, description)]; the code ""
#: is the menu for every language without its own.
CommandMenus = Mapping[tuple[str, str], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class HandleResult:
    """What the adapter must do at once: answer a button press (Telegram requires it)."""

    toast: str | None = None
    alert: bool = False


class Channel(Protocol):
    """An adapter: thin, one per platform, chosen by name from a registry.

    Besides sending and receiving it offers what the rest of the application would
    otherwise have to know per platform: its HTTP routes and its command menus.
    """

    name: str
    capabilities: Capabilities

    @property
    def bot_username(self) -> str | None:
        """The name commands may be addressed to (`/claim@name`), where the platform has one."""
        ...

    def routes(self) -> Sequence[Route]:
        """The routes our HTTP server must serve for this channel (none when polling)."""
        ...

    async def set_commands(self, menus: CommandMenus) -> None:
        """Publish the command menus, where the platform shows some (else nothing)."""
        ...

    async def start(self, sink: InboundSink) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, chat_id: str, message: Outbound) -> Sent: ...
    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        """Show `message` as the new state of an earlier one; a channel without edits
        (`capabilities.edits` false) posts a short status message instead."""
        ...

    async def download(self, file_ref: str, max_bytes: int) -> bytes: ...
