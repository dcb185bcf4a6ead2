"""A local stand-in of the Telegram Bot API server ("the sandbox").

The real bot (python-telegram-bot) is pointed at it with ``base_url=f"{root}/bot"`` and
``base_file_url=f"{root}/file/bot"``; tests and the offline demo play the humans through a
small JSON control API on the same server (see :class:`sandbox.client.SandboxClient`).

Bot API side (what the bot sees)
--------------------------------
``GET|POST /bot{token}/{method}`` - parameters as query string, urlencoded form, JSON or
multipart (JSON-valued parameters may arrive as JSON strings).  Method names are matched
case-insensitively.  Answers are ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": "...", "parameters"?: {...}}`` with the HTTP
status equal to ``error_code``.  Wrong or revoked token: 401 ``Unauthorized``; a token
not shaped ``<digits>:<secret>``: 404 ``Not Found`` (see `sandbox.serving`); unknown
method: 404 ``Not Found``.  Implemented: getMe, getUpdates (long poll), setWebhook,
deleteWebhook, getWebhookInfo, sendMessage, editMessageText, editMessageCaption,
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, sendPhoto, sendDocument,
sendLocation, getFile, setMyCommands, getMyCommands, deleteMyCommands, sendChatAction,
getChat, getChatMember, close, logOut.

How it refuses, with the texts of the Bot API server (tdlib/telegram-bot-api, Client.cpp)
or, where that server passes Telegram's own refusal on, the text bots receive:

- a person who never wrote to the bot (``started: false``): sends to them, 403
  ``Forbidden: bot can't initiate conversation with a user``, until their first private
  message; blocked: 403 ``Forbidden: bot was blocked by the user``; account deleted: 403
  ``Forbidden: user is deactivated`` (sends and edits);
- the bot out of a group (control route ``/chats/{id}/bot``): 403 ``Forbidden: bot was
  kicked from the group chat`` / ``... bot is not a member of the group chat`` (``...
  supergroup chat`` in a supergroup, where a private one refuses even getChat);
- a group upgraded to a supergroup: every send, edit, delete, chat action or member read on
  the old id answers 400 ``Bad Request: group chat was upgraded to a supergroup chat`` with
  ``parameters.migrate_to_chat_id`` (the server's check covers writing and reading members;
  Telegram's answer to an edit there is not published, the sandbox gives the same); getChat
  on the old id still answers. The supergroup starts with no message of the group's: the
  group's history stays under the old id, where the bot can no longer touch it;
- setWebhook: ``secret_token`` longer than 256: 400 ``Bad Request: secret token is too
  long``; a character outside ``A-Z a-z 0-9 _ -``: 400 ``Bad Request: secret token contains
  unallowed characters``;
- getChatMember: no ``user_id``: 400 ``Bad Request: invalid user_id specified``; a user the
  sandbox does not know: 400 ``Bad Request: user not found``; a known one not in the chat:
  status ``left``;
- getWebhookInfo: ``last_error_date`` and ``last_error_message`` of the latest failed push
  (``Wrong response from the webhook: 500 Internal Server Error``, as the server words it;
  ``Read timeout expired``, ``Connection refused`` or ``Webhook connection closed`` when no
  answer came), forgotten when the webhook's URL changes or it is deleted.

``GET /file/bot{token}/{file_path}`` - the bytes of a file returned by getFile.

Control API side (what the humans do), JSON in and out, errors as ``{"ok": false, "error"}``
---------------------------------------------------------------------------------------------
``GET  /_sandbox/bot``                        the bot's User object and settings
``POST /_sandbox/bot``                        {privacy_mode?, can_join_groups?}: what
                                              getMe answers (``can_read_all_group_messages``
                                              is the opposite of privacy_mode)
``POST /_sandbox/reset``                      forget everything (users, chats, calls, ...)
``POST /_sandbox/users``                      {id, first_name, last_name?, username?,
                                              language_code?, started? (true)}; also opens
                                              the private chat. ``started: false``: the
                                              person never wrote to the bot (403 until then)
``GET  /_sandbox/users``                      all users (with blocked_bot, started,
                                              deactivated)
``POST|DELETE /_sandbox/users/{id}/block``    the user blocks / unblocks the bot (queues a
                                              ``my_chat_member`` update, as Telegram does)
``POST /_sandbox/users/{id}/deactivate``      the user deletes their account (403 to sends)
``POST /_sandbox/chats``                      {id?, type: private|group|supergroup, title?,
                                              username?, members?: [user ids], bot_is_admin?}
``GET  /_sandbox/chats``                      all chats
``GET  /_sandbox/chats/{id}``                 one chat (with its current reply keyboard)
``POST /_sandbox/chats/{id}/members``         {user_id} - add a member to a group
``POST /_sandbox/chats/{id}/bot``             {status: member|administrator|left|kicked,
                                              rights?: {can_delete_messages: false, ...},
                                              by?: user id (default: first member)}: the
                                              bot's place in the group changes; the bot
                                              gets ``my_chat_member``; getChatMember shows
                                              it; out of the group the bot gets no message
``POST /_sandbox/chats/{id}/migrate``         {new_id?, by?}: the group becomes a
                                              supergroup: a new id (-100…), a service
                                              message with ``migrate_to_chat_id`` in the
                                              group and one with ``migrate_from_chat_id``
                                              in the supergroup (both reach the bot), and
                                              the old id dead -> {old_id, new_id, chat,
                                              update_ids}
``GET  /_sandbox/chats/{id}/messages``        what the chat shows now (``?include_deleted=1``)
``POST /_sandbox/messages``                   a user sends a message: {user_id, chat_id?
                                              (default: private chat), text?, caption?,
                                              reply_to_message_id?, photo?: {base64 | file_id
                                              | width+height}, document?: {base64, file_name,
                                              mime_type?}, location?: {latitude, longitude},
                                              contact?: {phone_number, first_name, ...},
                                              forward_from?: user id or User dict,
                                              forward_sender_name?, forward_origin?: raw}
                                              -> {message: view, update_id, delivered}
``POST /_sandbox/callback``                   a user presses an inline button: {user_id,
                                              chat_id?, message_id, data | text}
                                              -> callback view (id, update_id, answered, ...)
``GET  /_sandbox/callbacks[/{id}]``           button presses and what the bot answered
``GET  /_sandbox/updates``                    updates not yet confirmed by the bot
``POST /_sandbox/updates``                    {kind, payload}: an update whose content is
                                              as given (what a newer Bot API, or a fault
                                              on Telegram's side, may send that the bot's
                                              library cannot read); Telegram numbers it,
                                              as every update -> {update_id}
``GET|DELETE /_sandbox/calls``                Bot API call log (``?method=``,
                                              ``?include_polling=1``, ``?since=seq``) / reset
``GET  /_sandbox/commands``                   command lists by scope and language_code
``GET  /_sandbox/files/{file_id}``            raw bytes of any stored file
``POST|GET|DELETE /_sandbox/faults``          fault injection: {kind: "429"|"500"|"stall",
                                              count?, seconds?, retry_after?, delay?,
                                              methods?: [...]}; see ``_before_call``.
                                              Without count and seconds: the next call only.
                                              A stall hangs ``delay`` s (default: until the
                                              window ends, else 10 s), then runs the call,
                                              even when its caller has given up by then
                                              (the send IS made, the caller saw a timeout).
                                              Windows run on the sandbox's clock
                                              (``monotonic=``), which a test may speed up.
``POST|GET|DELETE /_sandbox/limits``          enforce Telegram's rate limits: {per_chat?,
                                              per_group?, global?} each [count, seconds],
                                              "count/seconds" or null (off); a key left out
                                              keeps Telegram's (1/1, 20/60, 30/1). Past a
                                              limit: 429 "Too Many Requests: retry after N"
                                              with parameters.retry_after. GET also tells
                                              how many calls were refused ("rejected").
``POST|GET|DELETE /_sandbox/answers``         inject any answer (see `sandbox.serving`)
``POST /_sandbox/webapp``                     a user opens the bot's Mini App: {user_id, url,
                                              chat_type? (private), start_param?,
                                              auth_date? (the sandbox's clock), token? (the
                                              bot's)} -> {init_data, url}: the URL with the
                                              launch fragment Telegram's client appends
                                              (``#tgWebAppData=…&tgWebAppVersion=…``), the
                                              init data signed as Telegram signs it
``POST|DELETE /_sandbox/token/revoke``        revoke / restore the bot's token
``POST /_sandbox/token``                      {token}: the bot's new token
``POST|GET|DELETE /_sandbox/webhook``         push updates while a webhook is set, as
                                              Telegram does: {deliver_to: URL standing in
                                              for the public one, retry_seconds?, timeout?};
                                              POST with the secret header, up to
                                              max_connections at once, an update leaving the
                                              queue on a 2xx only. GET: counts and attempts.

Telegram behaviours kept on purpose: editMessageText/Caption without ``reply_markup``
removes the inline keyboard; reply keyboards are never echoed in the returned Message;
a newer getUpdates ends a waiting one with 409; answerCallbackQuery fails when late or
repeated; in groups the bot may delete other people's messages only as an admin; with
``privacy_mode=True`` (off by default) group chatter that is not a command, reply to the
bot or mention never reaches the bot.

Deliberate simplifications: photos are not re-encoded (every PhotoSize serves the uploaded
bytes), Markdown parse modes are stored unparsed, inline mode/payments/media groups are
absent, a user's private chat exists as soon as the user is added (``started: false``
then models the bot not being allowed to write first: Telegram answers so to a person the
bot has seen, e.g. in a group, who never wrote to it), getChat answers only the fields
every ChatFullInfo has, and rarely seen error texts (e.g. for malformed keyboards) are
close to, not guaranteed to be, Telegram's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import mimetypes
import re
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from sandbox.serving import (
    ApiCall,
    ApiError,
    ControlError,
    JSONDict,
    Route,
    Served,
    known,
    method_names,
    refused,
    utf16_len,
)
from sandbox.state import (
    ADMIN_RIGHTS,
    DEFAULT_ALLOWED_UPDATES,
    BotStatus,
    CallbackQuery,
    Chat,
    ChatType,
    Fault,
    FaultKind,
    FileKind,
    Message,
    StoredFile,
    User,
    World,
    keyboard_texts,
)

DEFAULT_TOKEN = "7000000001:sandbox-TEST-token-0123456789abcdef"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
MAX_BUTTONS = 100
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
# The texts below are the Bot API server's (tdlib/telegram-bot-api, Client.cpp), or, where
# the server passes Telegram's own on, as bots receive them (see the module docstring).
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
DEACTIVATED = "Forbidden: user is deactivated"
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
CHAT_NOT_FOUND = "Bad Request: chat not found"
USER_NOT_FOUND = "Bad Request: user not found"
SECRET_TOO_LONG = "Bad Request: secret token is too long"
SECRET_UNALLOWED = "Bad Request: secret token contains unallowed characters"
#: The bot is out of a group: (chat type, bot status) -> the 403 every send gets.
OUT_OF_CHAT: dict[tuple[ChatType, BotStatus], str] = {
    (ChatType.GROUP, BotStatus.KICKED): "Forbidden: bot was kicked from the group chat",
    (ChatType.GROUP, BotStatus.LEFT): "Forbidden: bot is not a member of the group chat",
    (ChatType.SUPERGROUP, BotStatus.KICKED): "Forbidden: bot was kicked from the supergroup chat",
    (ChatType.SUPERGROUP, BotStatus.LEFT): "Forbidden: bot is not a member of the supergroup chat",
}
#: setWebhook's secret_token: at most 256 of A-Z a-z 0-9 _ - (empty: no secret).
SECRET_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_-]*")
MAX_SECRET_TOKEN = 256

#: Parameters whose values are JSON (they arrive as JSON strings in form posts).
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "commands",
        "scope",
        "media",
    }
)

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)

COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
SUPERGROUP_ID_LIMIT = -1_000_000_000_000


class Access(IntEnum):
    """What a method needs of its chat, checked as the Bot API server does (its
    AccessRights): to read it, to read its members, to edit in it, to write to it."""

    READ = 0
    READ_MEMBERS = 1
    EDIT = 2
    WRITE = 3


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


class Params:
    """Bot API parameters from any transport, with Telegram-like coercion and errors."""

    def __init__(self, values: dict[str, Any]):
        self._values = values

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def has(self, name: str) -> bool:
        return self._values.get(name) is not None

    def string(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or isinstance(value, Upload):
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def integer(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise ApiError(400, f'Bad Request: field "{name}" must be of type Integer') from None

    def number(self, name: str) -> float | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise ApiError(400, f'Bad Request: field "{name}" must be a Number') from None

    def boolean(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in ("true", "1", "yes")

    def json(self, name: str) -> Any:
        value = self._values.get(name)
        if value is None or isinstance(value, Upload):
            return None
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
        return value

    def file_input(self, name: str) -> Upload | str | None:
        """An uploaded part, or a file_id/URL string; ``attach://x`` refers to part ``x``."""
        value = self._values.get(name)
        if isinstance(value, Upload):
            return value
        if isinstance(value, str) and value.startswith("attach://"):
            attached = self._values.get(value.removeprefix("attach://"))
            return attached if isinstance(attached, Upload) else None
        if isinstance(value, str) and value:
            return value
        return None

    def loggable(self) -> JSONDict:
        """Parameters for the call log: uploads summarised, JSON-valued params decoded."""
        out: JSONDict = {}
        for key, value in self._values.items():
            if isinstance(value, Upload):
                out[key] = {
                    "upload": value.filename,
                    "content_type": value.content_type,
                    "size": len(value.data),
                }
            elif key in JSON_PARAMS and isinstance(value, str):
                try:
                    out[key] = json.loads(value)
                except ValueError:
                    out[key] = value
            else:
                out[key] = value
        return out


async def read_params(request: web.Request) -> dict[str, Any]:
    """Merge query string and body (JSON, urlencoded or multipart) into one mapping."""
    values: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return values
    content_type = request.content_type
    if content_type == "application/json":
        text = await request.text()
        if text.strip():
            try:
                body = json.loads(text)
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None
            if isinstance(body, dict):
                values.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                values[key] = Upload(
                    filename=value.filename,
                    content_type=value.content_type,
                    data=value.file.read(),
                )
            elif isinstance(value, bytes | bytearray):
                values[key] = bytes(value).decode("utf-8", "replace")
            else:
                values[key] = value
    return values


# --------------------------------------------------------------------------- formatting


class EntityParseError(Exception):
    """Raised for HTML Telegram would refuse ("can't parse entities: ...")."""


_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode: the supported tags become entities, anything else fails."""

    def __init__(self, raw: str):
        super().__init__(convert_charrefs=True)
        self._raw = raw
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(raw) if ch == "\n"]
        self.parts: list[str] = []
        self.entities: list[JSONDict] = []
        self._length = 0
        self._open: list[tuple[str, JSONDict | None, int]] = []

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self._raw[:index].encode("utf-8"))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self._length += utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _HTML_ENTITY_TYPES.get(tag)
        if kind is None:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}'
            )
        attributes = dict(attrs)
        entity: JSONDict | None = {"type": kind}
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if tag == "a":
            href = attributes.get("href")
            entity = {"type": kind, "url": href} if href else None
        elif tag == "tg-emoji":
            emoji_id = attributes.get("emoji-id")
            if not emoji_id:
                raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
            entity = {"type": kind, "custom_emoji_id": emoji_id}
        elif tag == "blockquote" and "expandable" in attributes:
            entity = {"type": "expandable_blockquote"}
        elif tag == "code" and self._open and self._open[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            language = (attributes.get("class") or "").removeprefix("language-")
            pre_entity = self._open[-1][1]
            if language and pre_entity is not None:
                pre_entity["language"] = language
            entity = None
        self._open.append((tag, entity, self._length))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise EntityParseError(
            f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}'
        )

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._byte_offset()}")
        open_tag, entity, start = self._open.pop()
        if open_tag != tag:
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{open_tag}"')
        if entity is not None and self._length > start:
            entity["offset"] = start
            entity["length"] = self._length - start
            self.entities.append(entity)

    def finish(self) -> tuple[str, list[JSONDict]]:
        self.close()
        if self._open:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self._open[-1][0]}"'
            )
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def parse_html(raw: str) -> tuple[str, list[JSONDict]]:
    """Plain text and entities of an HTML-formatted message (raises EntityParseError)."""
    parser = _TelegramHtml(raw)
    parser.feed(raw)
    return parser.finish()


def command_entities(text: str) -> list[JSONDict]:
    """The ``bot_command`` entity Telegram adds to a text starting with ``/``."""
    match = re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,64})?", text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


# --------------------------------------------------------------------------- images


def image_info(data: bytes) -> tuple[int, int, str, str] | None:
    """(width, height, extension, mime type) of a PNG/JPEG/GIF/WebP image, else None."""
    size: tuple[int, int] | None = None
    ext, mime = "jpg", "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        size = struct.unpack(">II", data[16:24])
        ext, mime = "png", "image/png"
    elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        size = struct.unpack("<HH", data[6:10])
        ext, mime = "gif", "image/gif"
    elif data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        size = _webp_size(data)
        ext, mime = "webp", "image/webp"
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size[0], size[1], ext, mime


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:
            index += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        (segment_length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + segment_length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        return (
            1 + int.from_bytes(data[24:27], "little"),
            1 + int.from_bytes(data[27:30], "little"),
        )
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        b = data[21:25]
        width = 1 + (((b[1] & 0x3F) << 8) | b[0])
        height = 1 + (((b[3] & 0x0F) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
        return width, height
    return None


def make_png(width: int, height: int, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A valid single-colour PNG, so tests can "take a photo" of any size without fixtures."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- rate limits

#: Methods that put a message in a chat or change one: what Telegram's limits count.
RATE_LIMITED_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendlocation",
        "editmessagetext",
        "editmessagecaption",
        "editmessagereplymarkup",
    }
)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` calls in any ``seconds`` (a sliding window)."""

    count: int
    seconds: float

    def view(self) -> list[float]:
        return [self.count, self.seconds]


@dataclass(frozen=True)
class RateLimits:
    """What the sandbox enforces when asked to, by default Telegram's published limits:
    about one message a second in a chat, twenty a minute in a group, thirty a second
    overall. Past them it answers 429 with ``retry_after``, as Telegram does."""

    per_chat: Limit | None = Limit(1, 1.0)
    per_group: Limit | None = Limit(20, 60.0)
    overall: Limit | None = Limit(30, 1.0)

    def view(self) -> JSONDict:
        return {
            "per_chat": self.per_chat.view() if self.per_chat else None,
            "per_group": self.per_group.view() if self.per_group else None,
            "global": self.overall.view() if self.overall else None,
        }


class _RateKeeper:
    """Sliding windows of accepted calls, per chat, per group and overall."""

    GLOBAL = "*"

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._seen: dict[tuple[str, str], list[float]] = {}
        self.rejected = 0

    def check(self, chat_key: str, is_group: bool, now: float) -> float:
        """Seconds to wait (0 when the call is allowed, and then it is counted)."""
        checks: list[tuple[tuple[str, str], Limit]] = []
        if self.limits.per_chat is not None:
            checks.append((("chat", chat_key), self.limits.per_chat))
        if is_group and self.limits.per_group is not None:
            checks.append((("group", chat_key), self.limits.per_group))
        if self.limits.overall is not None:
            checks.append((("all", self.GLOBAL), self.limits.overall))
        wait = 0.0
        for key, limit in checks:
            seen = self._seen.setdefault(key, [])
            while seen and seen[0] <= now - limit.seconds:
                seen.pop(0)
            if len(seen) >= limit.count:
                wait = max(wait, seen[len(seen) - limit.count] + limit.seconds - now)
        if wait > 0:
            self.rejected += 1
            return wait
        for key, _limit in checks:
            self._seen[key].append(now)
        return 0.0


def _limit(value: Any, what: str) -> Limit | None:
    """A limit from the control API: ``[count, seconds]``, ``"count/seconds"`` or null."""
    if value is None:
        return None
    parts: Any = value.partition("/")[::2] if isinstance(value, str) else value
    try:
        count, seconds = int(parts[0]), float(parts[1] or 1)
    except (TypeError, ValueError, IndexError, KeyError):
        raise ControlError(400, f"{what}: use [count, seconds], 'count/seconds' or null") from None
    if count < 1 or seconds <= 0:
        raise ControlError(400, f"{what} needs count >= 1 and seconds > 0")
    return Limit(count, seconds)


# --------------------------------------------------------------------------- webhook pushes


@dataclass
class WebhookPush:
    """Where the sandbox delivers updates while a webhook is set (its stand-in for DNS)."""

    deliver_to: str
    retry_seconds: float = 0.5
    timeout: float = 30.0
    delivered: int = 0
    failed: int = 0
    attempts: list[JSONDict] | None = None

    def view(self, pending: int, in_flight: int) -> JSONDict:
        return {
            "deliver_to": self.deliver_to,
            "retry_seconds": self.retry_seconds,
            "delivered": self.delivered,
            "failed_attempts": self.failed,
            "pending": pending,
            "in_flight": in_flight,
            "attempts": list(self.attempts or [])[-200:],
        }


# --------------------------------------------------------------------------- server

Handler = Callable[[Params], Awaitable[Any]]
#: Every kind of update the Bot API has; by default all but the last three are delivered.
UPDATE_KINDS = DEFAULT_ALLOWED_UPDATES | {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}


class TelegramSandbox(Served[Params]):
    """The fake Telegram server: Bot API for the bot, control API for the humans."""

    max_request = MAX_UPLOAD + 1024 * 1024
    #: @BotFather's settings: group privacy, and "Allow Groups?".
    settings = ("privacy_mode", "can_join_groups")

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_first_name: str = "Dispatch Bot",
        bot_username: str = "dispatch_sandbox_bot",
        privacy_mode: bool = False,
        can_join_groups: bool = True,
        callback_answer_timeout: float = 15.0,
        clock: Callable[[], float] = time.time,
        rate_limits: RateLimits | None = None,
        monotonic: Callable[[], float] | None = None,
    ):
        """``privacy_mode``: in groups the bot then only receives commands, replies to its
        own messages and mentions, like a real bot with privacy mode on.
        ``can_join_groups``: False as when "Allow Groups?" is off in @BotFather: getMe says
        so and no new group can be made with the bot in it.
        ``callback_answer_timeout``: seconds (by ``clock``) after which answerCallbackQuery
        fails with "query is too old" (Telegram does not document the exact limit).
        ``rate_limits``: enforce these limits from the start (also settable by the control
        API); without, the sandbox accepts any rate.
        ``monotonic``: the clock of fault windows and rate limits (default: the event
        loop's), so a test can move the sandbox's time instead of waiting for it."""
        super().__init__(token, clock)
        bot_id = token.partition(":")[0]
        self.privacy_mode = privacy_mode
        self.can_join_groups = can_join_groups
        self.callback_answer_timeout = callback_answer_timeout
        self.bot = User(
            id=int(bot_id), first_name=bot_first_name, username=bot_username, is_bot=True
        )
        self.world = World(self.bot, clock=clock)
        self.world.subscribe(self._wake)
        self._poll_generation = 0
        self._rates: _RateKeeper | None = _RateKeeper(rate_limits) if rate_limits else None
        self._monotonic = monotonic or (lambda: asyncio.get_running_loop().time())
        self._push: WebhookPush | None = None
        self._push_task: asyncio.Task[None] | None = None
        self._pushing: set[int] = set()
        self._push_retry_at: dict[int, float] = {}

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url`` (the token is appended by PTB)."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self.root_url}/file/bot"

    # ------------------------------------------------------------------ routing
    def _control_routes(self) -> list[Route]:
        return [
            ("POST", "/users/{user_id}/block", self._c_block),
            ("DELETE", "/users/{user_id}/block", self._c_unblock),
            ("POST", "/users/{user_id}/deactivate", self._c_deactivate),
            ("POST", "/chats/{chat_id}/migrate", self._c_migrate),
            ("POST", "/chats/{chat_id}/bot", self._c_set_bot_status),
            ("POST", "/callback", self._c_press),
            ("POST", "/callbacks", self._c_press),
            ("GET", "/callbacks", self._c_callbacks),
            ("GET", "/callbacks/{callback_id}", self._c_callback),
            ("POST", "/updates", self._c_add_update),
            ("GET", "/commands", self._c_commands),
            ("GET", "/files/{file_id}", self._c_file),
            ("GET", "/faults", self._c_faults),
            ("POST", "/limits", self._c_set_limits),
            ("GET", "/limits", self._c_limits),
            ("DELETE", "/limits", self._c_clear_limits),
            ("POST", "/webapp", self._c_open_web_app),
            ("POST", "/webhook", self._c_set_push),
            ("GET", "/webhook", self._c_push),
            ("DELETE", "/webhook", self._c_clear_push),
        ]

    def _file_routes(self) -> list[Route]:
        return [("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)]

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        refusal = self._token_refusal(request.match_info["token"])
        if refusal is not None:
            return refused(refusal)
        stored = self.world.files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return refused(ApiError(404, "Not Found"))
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _read_params(self, request: web.Request) -> Params:
        try:
            return Params(await read_params(request))
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None

    def _loggable(self, params: Params) -> JSONDict:
        return params.loggable()

    def _call_log(self) -> list[ApiCall]:
        return self.world.calls

    def _chat_key(self, params: Params) -> str | None:
        return params.string("chat_id")

    def _forget(self) -> None:
        self.world.reset()

    async def _before_call(self, method: str, params: Params | None = None) -> ApiError | None:
        """The single gate every Bot API call passes: fault injection, then rate limits.

        Returns the error to answer instead of running the method, or None to go on;
        a stall fault delays the call and then lets it run, as a slow network does.
        """
        fault = await self._fault(method)
        if fault is not None:
            return fault
        return self._rate_limit(method, params)

    def _rate_limit(self, method: str, params: Params | None) -> ApiError | None:
        """429 with retry_after (whole seconds, at least 1) past an enforced limit."""
        rates = self._rates
        if rates is None or params is None or method.lower() not in RATE_LIMITED_METHODS:
            return None
        raw = params.raw("chat_id")
        chat_key = str(raw)
        is_group = False
        with contextlib.suppress(TypeError, ValueError):
            chat = self.world.chats.get(int(raw))
            is_group = chat is not None and chat.is_group
        wait = rates.check(chat_key, is_group, self._monotonic())
        if wait <= 0:
            return None
        retry_after = max(1, math.ceil(wait))
        return ApiError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )

    async def _fault(self, method: str) -> ApiError | None:
        now = self._monotonic()
        self.world.faults = [f for f in self.world.faults if not f.exhausted(now)]
        for fault in self.world.faults:
            if not fault.applies(method, now):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
            if fault.kind is FaultKind.TOO_MANY_REQUESTS:
                return ApiError(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
            if fault.kind is FaultKind.SERVER_ERROR:
                return ApiError(500, "Internal Server Error")
            await self._stall(fault.stall_seconds(now))
            return None
        return None

    # ------------------------------------------------------------------ Bot API helpers
    def _bot_api_methods(self) -> dict[str, Handler]:
        return {
            **super()._bot_api_methods(),
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendLocation": self._send_location,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "close": self._close,
            "logOut": self._log_out,
        }

    def _chat(self, p: Params, access: Access = Access.READ) -> Chat:
        """The chat a call names, if the bot may do there what `access` says."""
        raw = p.raw("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: Chat | None = None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next(
                (
                    c
                    for c in self.world.chats.values()
                    if c.type is not ChatType.PRIVATE and c.username == raw[1:]
                ),
                None,
            )
        else:
            with contextlib.suppress(TypeError, ValueError):
                chat = self.world.chats.get(int(raw))
        if chat is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        self._check_access(chat, access)
        return chat

    def _check_access(self, chat: Chat, access: Access) -> None:
        """The Bot API server's own checks of a chat before it asks Telegram anything."""
        if chat.type is ChatType.PRIVATE:
            user = self.world.users.get(chat.id)
            if user is not None and user.deactivated and access >= Access.EDIT:
                raise ApiError(403, DEACTIVATED)
            return
        out = OUT_OF_CHAT.get((chat.type, chat.bot_status))
        if chat.type is ChatType.GROUP:
            # Reading its members counts as writing in a basic group.
            if access is Access.READ:
                return
            if chat.migrated_to is not None:
                # The server answers so to writing; to an edit, what Telegram answers is
                # not published: the sandbox answers the same (the group is dead).
                raise ApiError(400, UPGRADED, {"migrate_to_chat_id": chat.migrated_to})
            if out is not None:
                raise ApiError(403, out)
            return
        # A supergroup: out of a private one, the bot may not even read it.
        needs_membership = access >= Access.EDIT or not chat.username
        if out is not None and (chat.bot_status is BotStatus.KICKED or needs_membership):
            raise ApiError(403, out)

    def _sendable(self, p: Params) -> Chat:
        """The chat a message goes to: writable, and its person reachable (Telegram's own
        refusals, which the Bot API server passes on)."""
        chat = self._chat(p, Access.WRITE)
        user = self.world.users.get(chat.id) if chat.type is ChatType.PRIVATE else None
        if user is not None and user.blocked_bot:
            raise ApiError(403, BLOCKED)
        if user is not None and not user.started:
            raise ApiError(403, CANT_INITIATE)
        return chat

    def _formatted(
        self, p: Params, field: str, entities_field: str, *, limit: int, too_long: str
    ) -> tuple[str | None, list[JSONDict], str | None, str | None]:
        """(plain text, entities, raw text, parse mode) of a text or caption parameter."""
        raw = p.string(field)
        if raw is None or raw == "":
            return None, [], None, None
        mode = p.string("parse_mode") or None
        entities: list[JSONDict]
        if mode is None:
            plain = raw
            given = p.json(entities_field)
            entities = [e for e in given if isinstance(e, dict)] if isinstance(given, list) else []
        elif mode.lower() == "html":
            try:
                plain, entities = parse_html(raw)
            except EntityParseError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif mode.lower() in ("markdown", "markdownv2"):
            plain, entities = raw, []  # stored unparsed (documented simplification)
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        if utf16_len(plain) > limit:  # Telegram counts UTF-16 code units, as for entities
            raise ApiError(400, too_long)
        return plain, entities, raw, mode

    def _text(self, p: Params) -> tuple[str, list[JSONDict], str, str | None]:
        plain, entities, raw, mode = self._formatted(
            p, "text", "entities", limit=MAX_TEXT, too_long="Bad Request: message is too long"
        )
        if plain is None or raw is None or not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return plain, entities, raw, mode

    def _caption(self, p: Params) -> tuple[str | None, list[JSONDict]]:
        plain, entities, _raw, _mode = self._formatted(
            p,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION,
            too_long="Bad Request: message caption is too long",
        )
        return plain, entities

    def _reply_markup(
        self, p: Params, chat: Chat, *, inline_only: bool
    ) -> tuple[list[list[JSONDict]] | None, JSONDict | None]:
        """(inline keyboard rows, other markup) from ``reply_markup``, validated."""
        markup = p.json("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = self._inline_keyboard(markup["inline_keyboard"])
            # "Available only in private chats between a user and the bot" (Bot API).
            web_apps = any("web_app" in button for row in rows for button in row)
            if web_apps and chat.type is not ChatType.PRIVATE:
                raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
            return (rows or None), None
        if inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if "keyboard" in markup:
            rows_in = markup["keyboard"]
            if not isinstance(rows_in, list) or not all(isinstance(r, list) for r in rows_in):
                raise ApiError(
                    400,
                    'Bad Request: field "keyboard" of the ReplyKeyboardMarkup must be an '
                    "Array of Arrays",
                )
            for text in (t for row in keyboard_texts(rows_in) for t in row):
                if not text:
                    raise ApiError(400, "Bad Request: keyboard button text is empty")
            return None, markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return None, markup
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _inline_keyboard(self, rows: Any) -> list[list[JSONDict]]:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an '
                "Array of Arrays",
            )
        if sum(len(r) for r in rows) > MAX_BUTTONS:
            raise ApiError(400, "Bad Request: reply markup is too long")
        result: list[list[JSONDict]] = []
        for row in rows:
            clean_row: list[JSONDict] = []
            for button in row:
                if not isinstance(button, dict):
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "InlineKeyboardButton must be an Object",
                    )
                if not isinstance(button.get("text"), str):
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        'Can\'t find field "text"',
                    )
                actions = [k for k in BUTTON_ACTIONS if button.get(k) not in (None, False)]
                if not actions:
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                    )
                if len(actions) > 1:
                    raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA
                ):
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not _valid_button_url(url):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
                web_app = button.get("web_app")
                if web_app is not None:
                    _check_web_app(web_app)
                clean_row.append({"text": button["text"], actions[0]: button[actions[0]]})
            if clean_row:
                result.append(clean_row)
        return result

    def _reply_target(self, p: Params, chat: Chat) -> int | None:
        message_id = p.integer("reply_to_message_id")
        allow_missing = p.boolean("allow_sending_without_reply")
        parameters = p.json("reply_parameters")
        if isinstance(parameters, dict) and parameters.get("message_id") is not None:
            try:
                message_id = int(parameters["message_id"])
            except (TypeError, ValueError):
                raise ApiError(400, "Bad Request: can't parse reply parameters") from None
            allow_missing = bool(parameters.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        if self.world.find_message(chat.id, message_id) is None:
            if allow_missing:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return message_id

    def _apply_keyboard(self, chat: Chat, markup: JSONDict | None) -> None:
        """Track the reply keyboard the humans see at the bottom of the chat."""
        if markup is None:
            return
        if "keyboard" in markup:
            chat.reply_keyboard = keyboard_texts(markup["keyboard"])
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None

    def _bot_message(self, chat: Chat, p: Params, **fields: Any) -> JSONDict:
        inline, other = self._reply_markup(p, chat, inline_only=False)
        reply_to = self._reply_target(p, chat)
        msg = self.world.new_message(
            chat.id,
            self.bot.id,
            inline_keyboard=inline,
            reply_markup_other=other,
            reply_to_message_id=reply_to,
            message_thread_id=p.integer("message_thread_id"),
            **fields,
        )
        self._apply_keyboard(chat, other)
        return self.world.message_api(msg)

    def _own_message(self, p: Params, not_found: str, access: Access) -> tuple[Chat, Message]:
        if p.has("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat(p, access)
        message_id = p.integer("message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        msg = self.world.find_message(chat.id, message_id)
        if msg is None:
            raise ApiError(400, not_found)
        return chat, msg

    def _editable(self, p: Params) -> tuple[Chat, Message]:
        chat, msg = self._own_message(p, "Bad Request: message to edit not found", Access.EDIT)
        user = self.world.users.get(chat.id) if chat.type is ChatType.PRIVATE else None
        if user is not None and user.blocked_bot:
            raise ApiError(403, BLOCKED)
        if msg.sender_id != self.bot.id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, msg

    def _store_photo(self, data: bytes) -> list[StoredFile]:
        info = image_info(data)
        if info is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height, ext, mime = info
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        set_id = f"set{self.world.next_number()}"
        longest = max(width, height)
        targets = [t for t in (90, 320, 800, 1280) if t < longest] + [min(longest, 2560)]
        sizes: list[StoredFile] = []
        for target in targets:
            scale = target / longest
            sizes.append(
                self.world.store_file(
                    FileKind.PHOTO,
                    data,
                    extension=ext,
                    mime_type=mime,
                    width=max(1, round(width * scale)),
                    height=max(1, round(height * scale)),
                    photo_set=set_id,
                )
            )
        return sizes

    def _store_document(
        self, data: bytes, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        suffix = PurePosixPath(file_name or "").suffix.lstrip(".").lower()
        if not mime_type or mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(file_name or "")[0] or mime_type
        return self.world.store_file(
            FileKind.DOCUMENT,
            data,
            extension=suffix or "bin",
            mime_type=mime_type,
            file_name=file_name,
        )

    def _existing_file(self, ref: str, kind: FileKind) -> StoredFile:
        if ref.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        stored = self.world.files.get(ref)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if stored.kind is not kind:
            raise ApiError(
                400,
                f"Bad Request: can't use file of type {stored.kind.value.title()} "
                f"as {kind.value.title()}",
            )
        return stored

    # ------------------------------------------------------------------ Bot API methods
    async def _get_me(self, p: Params) -> JSONDict:
        data = self.bot.to_api()
        data.update(
            can_join_groups=self.can_join_groups,
            can_read_all_group_messages=not self.privacy_mode,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return data

    async def _get_updates(self, p: Params) -> list[JSONDict]:
        """Long poll: confirm by ``offset``, then wait up to ``timeout`` for anything new.

        A newer getUpdates terminates an older waiting one with 409, like Telegram does
        when two bot instances poll at once.
        """
        if self.world.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.integer("offset")
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.number("timeout") or 0.0, 0.0)
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            self.world.set_allowed_updates(str(a) for a in allowed)
        self.world.confirm_updates(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            if self.world.updates:
                return [u.to_api() for u in self.world.updates[:limit]]
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return []
            await self._until_woken(remaining)

    async def _set_webhook(self, p: Params) -> bool:
        url = p.string("url") or ""
        secret = p.string("secret_token") or ""
        if url and urlsplit(url).scheme != "https":
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if url and len(secret) > MAX_SECRET_TOKEN:
            raise ApiError(400, SECRET_TOO_LONG)
        if url and not SECRET_TOKEN_CHARACTERS.fullmatch(secret):
            raise ApiError(400, SECRET_UNALLOWED)
        allowed = p.json("allowed_updates")
        if url != self.world.webhook.url:
            self.world.webhook.last_error_date = self.world.webhook.last_error_message = None
        self.world.webhook.url = url
        self.world.webhook.max_connections = p.integer("max_connections") or 40
        self.world.webhook.secret_token = p.string("secret_token")
        if isinstance(allowed, list):
            self.world.webhook.allowed_updates = [str(a) for a in allowed]
            self.world.set_allowed_updates(self.world.webhook.allowed_updates)
        if p.boolean("drop_pending_updates"):
            self.world.updates.clear()
        return True

    async def _delete_webhook(self, p: Params) -> bool:
        self.world.webhook.url = ""
        self.world.webhook.last_error_date = self.world.webhook.last_error_message = None
        if p.boolean("drop_pending_updates"):
            self.world.updates.clear()
        return True

    async def _get_webhook_info(self, p: Params) -> JSONDict:
        hook = self.world.webhook
        info: JSONDict = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.updates),
        }
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        if hook.url:
            info["max_connections"] = hook.max_connections
            if hook.allowed_updates is not None:
                info["allowed_updates"] = hook.allowed_updates
        return info

    async def _send_message(self, p: Params) -> JSONDict:
        chat = self._sendable(p)
        text, entities, raw, mode = self._text(p)
        return self._bot_message(
            chat, p, text=text, entities=entities, raw_text=raw, parse_mode=mode
        )

    async def _edit_message_text(self, p: Params) -> JSONDict:
        chat, msg = self._editable(p)
        if msg.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities, raw, mode = self._text(p)
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        inline, _ = self._reply_markup(p, chat, inline_only=True)
        if (text, entities, inline) == (msg.text, msg.entities, msg.inline_keyboard):
            raise ApiError(400, NOT_MODIFIED)
        msg.text, msg.entities, msg.raw_text, msg.parse_mode = text, entities, raw, mode
        msg.inline_keyboard = inline
        msg.edit_date = int(self.world.clock())
        return self.world.message_api(msg)

    async def _edit_message_caption(self, p: Params) -> JSONDict:
        chat, msg = self._editable(p)
        if not msg.photo and msg.document is None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = self._caption(p)
        inline, _ = self._reply_markup(p, chat, inline_only=True)
        if (caption, entities, inline) == (msg.caption, msg.caption_entities, msg.inline_keyboard):
            raise ApiError(400, NOT_MODIFIED)
        msg.caption, msg.caption_entities, msg.inline_keyboard = caption, entities, inline
        msg.edit_date = int(self.world.clock())
        return self.world.message_api(msg)

    async def _edit_message_reply_markup(self, p: Params) -> JSONDict:
        chat, msg = self._editable(p)
        inline, _ = self._reply_markup(p, chat, inline_only=True)
        if inline == msg.inline_keyboard:
            raise ApiError(400, NOT_MODIFIED)
        msg.inline_keyboard = inline
        msg.edit_date = int(self.world.clock())
        return self.world.message_api(msg)

    async def _delete_message(self, p: Params) -> bool:
        chat, msg = self._own_message(p, "Bad Request: message to delete not found", Access.WRITE)
        others = chat.is_group and msg.sender_id != self.bot.id
        if others and not chat.bot_may("can_delete_messages"):
            raise ApiError(400, "Bad Request: message can't be deleted")
        msg.deleted = True
        return True

    async def _answer_callback_query(self, p: Params) -> bool:
        query_id = p.string("callback_query_id")
        query = self.world.callbacks.get(query_id or "")
        now = self.world.clock()
        if query is None or query.answered or now - query.created_at > self.callback_answer_timeout:
            raise ApiError(400, QUERY_TOO_OLD)
        text = p.string("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        query.answer_text = text
        query.show_alert = p.boolean("show_alert")
        query.url = p.string("url")
        query.cache_time = p.integer("cache_time")
        query.answered_at = now
        return True

    def _file_to_send(self, p: Params, field: str) -> tuple[Chat, Upload | str]:
        """The chat a file goes to and the file: an upload, or a file_id or URL."""
        chat = self._sendable(p)
        given = p.file_input(field)
        if given is None:
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        return chat, given

    async def _send_photo(self, p: Params) -> JSONDict:
        chat, given = self._file_to_send(p, "photo")
        if isinstance(given, Upload):
            sizes = self._store_photo(given.data)
        else:
            stored = self._existing_file(given, FileKind.PHOTO)
            sizes = self.world.photo_set(stored.photo_set or "") or [stored]
        caption, entities = self._caption(p)
        return self._bot_message(chat, p, photo=sizes, caption=caption, caption_entities=entities)

    async def _send_document(self, p: Params) -> JSONDict:
        chat, given = self._file_to_send(p, "document")
        if isinstance(given, Upload):
            stored = self._store_document(given.data, given.filename, given.content_type)
        else:
            stored = self._existing_file(given, FileKind.DOCUMENT)
        caption, entities = self._caption(p)
        return self._bot_message(
            chat, p, document=stored, caption=caption, caption_entities=entities
        )

    async def _send_location(self, p: Params) -> JSONDict:
        chat = self._sendable(p)
        latitude, longitude = p.number("latitude"), p.number("longitude")
        if latitude is None or longitude is None:
            raise ApiError(400, "Bad Request: wrong latitude or longitude specified")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ApiError(400, "Bad Request: wrong latitude or longitude specified")
        return self._bot_message(chat, p, location={"latitude": latitude, "longitude": longitude})

    async def _get_file(self, p: Params) -> JSONDict:
        stored = self.world.files.get(p.string("file_id") or "")
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.file_api()

    def _command_key(self, p: Params) -> tuple[str, str]:
        scope = p.json("scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        normalized: JSONDict = {"type": scope["type"]}
        for key in ("chat_id", "user_id"):
            if key in scope:
                value = scope[key]
                normalized[key] = int(value) if str(value).lstrip("-").isdigit() else value
        if scope["type"].startswith("chat") and "chat_id" not in normalized:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if scope["type"] == "chat_member" and "user_id" not in normalized:
            raise ApiError(400, "Bad Request: user_id is empty")
        return json.dumps(normalized, sort_keys=True), p.string("language_code") or ""

    async def _set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict) or not isinstance(command.get("command"), str):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            if not COMMAND_RE.match(command["command"]):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = str(command.get("description") or "")
            if not description.strip():
                raise ApiError(400, "Bad Request: command description must be non-empty")
            if len(description) > 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command["command"], "description": description})
        key = self._command_key(p)
        if cleaned:
            self.world.commands[key] = cleaned
        else:
            self.world.commands.pop(key, None)
        return True

    async def _get_my_commands(self, p: Params) -> list[JSONDict]:
        return list(self.world.commands.get(self._command_key(p), []))

    async def _delete_my_commands(self, p: Params) -> bool:
        self.world.commands.pop(self._command_key(p), None)
        return True

    async def _send_chat_action(self, p: Params) -> bool:
        self._sendable(p)
        if p.string("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _get_chat(self, p: Params) -> JSONDict:
        """ChatFullInfo, with the fields every answer has (PTB needs them)."""
        chat = self._chat(p)
        data = self.world.chat_api(chat)
        data.update(
            accent_color_id=abs(chat.id) % 7,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return data

    async def _get_chat_member(self, p: Params) -> JSONDict:
        """A member's status; for the bot itself, whether it is in the chat and its rights."""
        user_id = p.integer("user_id") or 0
        if user_id <= 0:
            raise ApiError(400, "Bad Request: invalid user_id specified")
        chat = self._chat(p, Access.READ if user_id == self.bot.id else Access.READ_MEMBERS)
        if user_id == self.bot.id:
            return self._bot_member(chat)
        user = self.world.users.get(user_id)
        if user is None:
            raise ApiError(400, USER_NOT_FOUND)
        is_in = chat.id == user_id if chat.type is ChatType.PRIVATE else user_id in chat.members
        return {"user": user.to_api(), "status": "member" if is_in else "left"}

    def _bot_member(self, chat: Chat) -> JSONDict:
        status = BotStatus.MEMBER if chat.type is ChatType.PRIVATE else chat.bot_status
        data: JSONDict = {"user": self.bot.to_api(), "status": status.value}
        if status is BotStatus.KICKED:
            data["until_date"] = 0
        elif status is BotStatus.ADMINISTRATOR:
            data["can_be_edited"] = False
            for right in ADMIN_RIGHTS:
                if right != "can_manage_topics" or chat.type is ChatType.SUPERGROUP:
                    data[right] = chat.bot_rights.get(right, False)
        return data

    async def _close(self, p: Params) -> bool:
        return True

    async def _log_out(self, p: Params) -> bool:
        return True

    # ------------------------------------------------------------------ control API
    def _user(self, value: Any) -> User:
        user_id = self._int(value, "user_id")
        return known(
            self.world.users.get(user_id), f"unknown user {user_id} (POST /_sandbox/users first)"
        )

    def _chat_by_id(self, value: Any) -> Chat:
        chat_id = self._int(value, "chat_id")
        return known(
            self.world.chats.get(chat_id), f"unknown chat {chat_id} (POST /_sandbox/chats first)"
        )

    def _human_in_chat(self, body: JSONDict) -> tuple[User, Chat]:
        user = self._user(body.get("user_id"))
        chat = self._chat_by_id(body.get("chat_id", user.id))
        if user.deactivated:
            raise ControlError(400, f"user {user.id} has deleted their account")
        if chat.migrated_to is not None:
            raise ControlError(
                409, f"group {chat.id} was upgraded to supergroup {chat.migrated_to}; write there"
            )
        if chat.type is ChatType.PRIVATE:
            if chat.id != user.id:
                raise ControlError(
                    400, f"user {user.id} cannot write in the private chat of user {chat.id}"
                )
            if user.blocked_bot:
                raise ControlError(
                    400, f"user {user.id} has blocked the bot (DELETE .../block first)"
                )
        elif user.id not in chat.members:
            raise ControlError(400, f"user {user.id} is not a member of chat {chat.id}")
        return user, chat

    async def _c_bot(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "user": self.bot.to_api(),
                "privacy_mode": self.privacy_mode,
                "can_join_groups": self.can_join_groups,
                "callback_answer_timeout": self.callback_answer_timeout,
                "token_revoked": self.token_revoked,
            }
        )

    async def _c_add_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user_id = self._int(body.get("id"), "id")
        if user_id <= 0 or user_id == self.bot.id:
            raise ControlError(400, "user id must be positive and differ from the bot's id")
        first_name = body.get("first_name")
        if not isinstance(first_name, str) or not first_name:
            raise ControlError(400, "first_name is required")
        started = body.get("started", True)
        if not isinstance(started, bool):
            raise ControlError(400, "started must be true or false")
        user = User(
            id=user_id,
            first_name=first_name,
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code"),
            started=started,
        )
        existing = self.world.users.get(user_id)
        if existing is not None:
            user.blocked_bot, user.deactivated = existing.blocked_bot, existing.deactivated
            user.started = existing.started
        self.world.add_user(user)
        return self._json(user.to_api())

    @staticmethod
    def _user_view(user: User) -> JSONDict:
        return dict(
            user.to_api(),
            blocked_bot=user.blocked_bot,
            started=user.started,
            deactivated=user.deactivated,
        )

    async def _c_users(self, request: web.Request) -> web.Response:
        return self._json([self._user_view(u) for u in self.world.users.values()])

    def _queue_my_chat_member(
        self, chat: Chat, actor: User, old: JSONDict, new: JSONDict
    ) -> int | None:
        """What Telegram tells the bot when its own membership in a chat changes."""
        update = self.world.queue_update(
            "my_chat_member",
            {
                "chat": self.world.chat_api(chat),
                "from": actor.to_api(),
                "date": int(self.world.clock()),
                "old_chat_member": old,
                "new_chat_member": new,
            },
        )
        return None if update is None else update.update_id

    def _blocking(self, user: User, blocked: bool) -> int | None:
        """The person blocks (or unblocks) the bot: my_chat_member kicked (or member)."""
        if user.blocked_bot == blocked:
            return None
        chat = self.world.chats[user.id]
        old = self._bot_member(chat)
        user.blocked_bot = blocked
        new: JSONDict = {"user": self.bot.to_api(), "status": "member"}
        if blocked:
            old, new = new, {"user": self.bot.to_api(), "status": "kicked", "until_date": 0}
        return self._queue_my_chat_member(chat, user, old, new)

    async def _c_block(self, request: web.Request) -> web.Response:
        user = self._user(request.match_info["user_id"])
        return self._json({"ok": True, "update_id": self._blocking(user, True)})

    async def _c_unblock(self, request: web.Request) -> web.Response:
        user = self._user(request.match_info["user_id"])
        return self._json({"ok": True, "update_id": self._blocking(user, False)})

    async def _c_deactivate(self, request: web.Request) -> web.Response:
        """The person deletes their account: sends to them fail with 403 from now on."""
        user = self._user(request.match_info["user_id"])
        user.deactivated = True
        return self._json(self._user_view(user))

    def _actor(self, chat: Chat, given: Any) -> User:
        """Who does something to a group: `by` (a member), else its first member."""
        if given is not None:
            user = self._user(given)
            if user.id not in chat.members:
                raise ControlError(400, f"user {user.id} is not a member of chat {chat.id}")
            return user
        if not chat.members:
            raise ControlError(400, f"chat {chat.id} has no member; say who does it (by)")
        return self._user(min(chat.members))

    async def _c_open_web_app(self, request: web.Request) -> web.Response:
        """What Telegram's client does when a person opens the bot's Mini App: init data
        with the user, signed per "Validating data received via the Mini App" (the key is
        HMAC-SHA-256 of the bot's token under "WebAppData"), in the URL's fragment.
        ``token`` signs with another token: another bot's launch data."""
        body = await self._body(request)
        user = self._user(str(body.get("user_id")))
        url = str(body.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise ControlError(400, "url must be the Mini App's http(s) URL")
        auth_date = body.get("auth_date")
        fields = {
            "query_id": f"AAE{user.id}{len(self.world.calls)}",
            "user": json.dumps(user.to_api(), ensure_ascii=False, separators=(",", ":")),
            "auth_date": str(int(auth_date if auth_date is not None else self.world.clock())),
            "chat_type": str(body.get("chat_type") or "private"),
        }
        if body.get("start_param"):
            fields["start_param"] = str(body["start_param"])
        token = str(body.get("token") or self.token)
        key = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
        check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
        fields["hash"] = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
        init_data = urlencode(fields, quote_via=quote)
        launch = urlencode(
            {"tgWebAppData": init_data, "tgWebAppVersion": "8.0", "tgWebAppPlatform": "web"},
            quote_via=quote,
        )
        return self._json({"ok": True, "init_data": init_data, "url": f"{url}#{launch}"})

    async def _c_set_bot_status(self, request: web.Request) -> web.Response:
        """The bot is promoted, demoted, removed or banned in a group (and told so)."""
        chat = self._chat_by_id(request.match_info["chat_id"])
        if not chat.is_group or chat.migrated_to is not None:
            raise ControlError(400, f"chat {chat.id} is not a live group")
        body = await self._body(request)
        try:
            status = BotStatus(str(body.get("status")))
        except ValueError:
            known_ones = ", ".join(s.value for s in BotStatus)
            raise ControlError(400, f"status must be one of {known_ones}") from None
        rights = body.get("rights") or {}
        if not isinstance(rights, dict) or not all(isinstance(v, bool) for v in rights.values()):
            raise ControlError(400, "rights must be an object of true/false values")
        unknown = sorted(set(rights) - set(ADMIN_RIGHTS))
        if unknown:
            raise ControlError(400, f"unknown rights {unknown}; known: {sorted(ADMIN_RIGHTS)}")
        if rights and status is not BotStatus.ADMINISTRATOR:
            raise ControlError(400, "only an administrator has rights")
        actor = self._actor(chat, body.get("by"))
        old = self._bot_member(chat)
        chat.bot_status = status
        chat.bot_rights = {**ADMIN_RIGHTS, **rights} if status is BotStatus.ADMINISTRATOR else {}
        update_id = self._queue_my_chat_member(chat, actor, old, self._bot_member(chat))
        return self._json({"chat": self.world.chat_view(chat), "update_id": update_id})

    async def _c_migrate(self, request: web.Request) -> web.Response:
        """A group becomes a supergroup: a new id, the service messages in both, and the
        old id dead from now on (see the module docstring)."""
        chat = self._chat_by_id(request.match_info["chat_id"])
        if chat.type is not ChatType.GROUP:
            raise ControlError(400, f"only a group is upgraded; chat {chat.id} is {chat.type}")
        if chat.migrated_to is not None:
            raise ControlError(409, f"group {chat.id} was already upgraded to {chat.migrated_to}")
        body = await self._body(request) if request.body_exists else {}
        actor = self._actor(chat, body.get("by"))
        if body.get("new_id") is None:
            new_id = SUPERGROUP_ID_LIMIT - 2_000_000_000 - self.world.next_number()
        else:
            new_id = self._int(body["new_id"], "new_id")
        if new_id > SUPERGROUP_ID_LIMIT or new_id in self.world.chats:
            raise ControlError(400, f"new_id must be a new supergroup id (-100…), not {new_id}")
        supergroup = self.world.add_chat(
            Chat(
                id=new_id,
                type=ChatType.SUPERGROUP,
                title=chat.title,
                members=set(chat.members),
                bot_status=chat.bot_status,
                bot_rights=dict(chat.bot_rights),
            )
        )
        chat.migrated_to = new_id
        notices = (
            self.world.new_message(chat.id, actor.id, migrate_to_chat_id=new_id),
            self.world.new_message(new_id, actor.id, migrate_from_chat_id=chat.id),
        )
        update_ids: list[int] = []
        if chat.bot_status.is_in:
            for notice in notices:
                update = self.world.queue_update("message", self.world.message_api(notice))
                if update is not None:
                    update_ids.append(update.update_id)
        return self._json(
            {
                "old_id": chat.id,
                "new_id": new_id,
                "chat": self.world.chat_view(supergroup),
                "update_ids": update_ids,
            }
        )

    async def _c_add_chat(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            chat_type = ChatType(body.get("type", "group"))
        except ValueError:
            raise ControlError(400, f"unsupported chat type {body.get('type')!r}") from None
        members = {self._user(m).id for m in body.get("members") or []}
        if chat_type is ChatType.CHANNEL:
            raise ControlError(400, "channels are not supported by the sandbox")
        if chat_type is ChatType.PRIVATE:
            user = self._user(body.get("id"))
            return self._json(self.world.chat_view(self.world.chats[user.id]))
        if not self.can_join_groups and (
            body.get("id") is None or self._int(body["id"], "id") not in self.world.chats
        ):
            raise ControlError(409, "the bot cannot join groups (can_join_groups is false)")
        if body.get("id") is None:
            number = self.world.next_number()
            chat_id = (
                -(4_000_000_000 + number)
                if chat_type is ChatType.GROUP
                else SUPERGROUP_ID_LIMIT - 2_000_000_000 - number
            )
        else:
            chat_id = self._int(body.get("id"), "id")
        if chat_type is ChatType.GROUP and not SUPERGROUP_ID_LIMIT < chat_id < 0:
            raise ControlError(400, "a group id must be negative and above -1000000000000")
        if chat_type is ChatType.SUPERGROUP and chat_id > SUPERGROUP_ID_LIMIT:
            raise ControlError(400, "a supergroup id must look like -100xxxxxxxxxx")
        existing = self.world.chats.get(chat_id)
        if existing is not None and existing.type is not chat_type:
            raise ControlError(409, f"chat {chat_id} already exists as {existing.type.value}")
        chat = (
            existing
            if existing is not None
            else self.world.add_chat(Chat(id=chat_id, type=chat_type))
        )
        chat.title = body.get("title") or chat.title or f"Group {chat_id}"
        chat.username = body.get("username", chat.username)
        chat.members |= members
        chat.bot_is_admin = bool(body.get("bot_is_admin", chat.bot_is_admin))
        return self._json(self.world.chat_view(chat))

    async def _c_chats(self, request: web.Request) -> web.Response:
        return self._json([self.world.chat_view(c) for c in self.world.chats.values()])

    async def _c_chat(self, request: web.Request) -> web.Response:
        return self._json(self.world.chat_view(self._chat_by_id(request.match_info["chat_id"])))

    async def _c_add_member(self, request: web.Request) -> web.Response:
        chat = self._chat_by_id(request.match_info["chat_id"])
        if not chat.is_group:
            raise ControlError(400, "members can only be added to groups")
        body = await self._body(request)
        chat.members.add(self._user(body.get("user_id")).id)
        return self._json(self.world.chat_view(chat))

    async def _c_messages(self, request: web.Request) -> web.Response:
        chat = self._chat_by_id(request.match_info["chat_id"])
        include_deleted = request.query.get("include_deleted") in ("1", "true")
        return self._json(
            [
                self.world.message_view(m)
                for m in self.world.messages[chat.id].values()
                if include_deleted or not m.deleted
            ]
        )

    def _human_photo(self, spec: Any) -> list[StoredFile]:
        if not isinstance(spec, dict):
            raise ControlError(
                400, "photo must be an object: {base64} | {file_id} | {width, height}"
            )
        if spec.get("file_id"):
            stored = self.world.files.get(str(spec["file_id"]))
            if stored is None or stored.kind is not FileKind.PHOTO:
                raise ControlError(400, f"unknown photo file_id {spec['file_id']!r}")
            return self.world.photo_set(stored.photo_set or "") or [stored]
        if spec.get("base64"):
            data = _b64(spec["base64"])
        else:
            width = self._int(spec.get("width", 640), "photo.width")
            height = self._int(spec.get("height", 480), "photo.height")
            if not (0 < width <= 5000 and 0 < height <= 5000):
                raise ControlError(400, "photo width/height must be within 1..5000")
            data = make_png(width, height)
        try:
            return self._store_photo(data)
        except ApiError as exc:
            raise ControlError(400, f"photo refused: {exc.description}") from None

    def _forward_origin(self, body: JSONDict) -> JSONDict | None:
        date = int(body.get("forward_date") or self.world.clock())
        if isinstance(body.get("forward_origin"), dict):
            return dict(body["forward_origin"])
        origin_user = body.get("forward_from")
        if isinstance(origin_user, dict):
            user = dict(origin_user)
            user.setdefault("is_bot", False)
            if "id" not in user or "first_name" not in user:
                raise ControlError(400, "forward_from needs at least id and first_name")
            return {"type": "user", "date": date, "sender_user": user}
        if origin_user is not None:
            return {"type": "user", "date": date, "sender_user": self._user(origin_user).to_api()}
        if body.get("forward_sender_name"):
            return {
                "type": "hidden_user",
                "date": date,
                "sender_user_name": str(body["forward_sender_name"]),
            }
        return None

    async def _c_send(self, request: web.Request) -> web.Response:
        """A human sends a message; the bot gets a ``message`` update (if it may see it)."""
        body = await self._body(request)
        user, chat = self._human_in_chat(body)
        text = body.get("text")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ControlError(400, "text must be a non-empty string")
        if text is not None and utf16_len(text) > MAX_TEXT:
            raise ControlError(400, f"text longer than {MAX_TEXT} characters")
        caption = body.get("caption")
        if caption is not None and utf16_len(str(caption)) > MAX_CAPTION:
            raise ControlError(400, f"caption longer than {MAX_CAPTION} characters")
        reply_to = body.get("reply_to_message_id")
        if reply_to is not None:
            reply_to = self._int(reply_to, "reply_to_message_id")
            if self.world.find_message(chat.id, reply_to) is None:
                raise ControlError(400, f"no message {reply_to} in chat {chat.id} to reply to")
        fields: JSONDict = {"reply_to_message_id": reply_to}
        if text is not None:
            fields.update(text=text, entities=command_entities(text))
        if body.get("photo") is not None:
            fields["photo"] = self._human_photo(body["photo"])
        if isinstance(body.get("document"), dict):
            doc = body["document"]
            fields["document"] = self._store_document(
                _b64(doc.get("base64", "")),
                str(doc.get("file_name") or "file.bin"),
                doc.get("mime_type"),
            )
        if isinstance(body.get("location"), dict):
            loc = body["location"]
            try:
                fields["location"] = {
                    "latitude": float(loc["latitude"]),
                    "longitude": float(loc["longitude"]),
                }
            except (KeyError, TypeError, ValueError):
                raise ControlError(400, "location needs numeric latitude and longitude") from None
        if isinstance(body.get("contact"), dict):
            contact = body["contact"]
            if not contact.get("phone_number") or not contact.get("first_name"):
                raise ControlError(400, "contact needs phone_number and first_name")
            fields["contact"] = dict(contact)
        has_media = any(k in fields for k in ("photo", "document", "location", "contact"))
        if text is None and not has_media:
            raise ControlError(400, "a message needs text, photo, document, location or contact")
        if caption is not None and ("photo" in fields or "document" in fields):
            fields["caption"] = str(caption)
        fields["forward_origin"] = self._forward_origin(body)
        msg = self.world.new_message(chat.id, user.id, **fields)
        if chat.type is ChatType.PRIVATE:
            user.started = True  # writing to the bot is what opens the chat for it
        delivered = chat.bot_status.is_in and self._bot_sees(chat, msg)
        update = (
            self.world.queue_update("message", self.world.message_api(msg)) if delivered else None
        )
        return self._json(
            {
                "message": self.world.message_view(msg),
                "update_id": None if update is None else update.update_id,
                "delivered": update is not None,
            }
        )

    def _bot_sees(self, chat: Chat, msg: Message) -> bool:
        """Privacy mode: in groups only commands, replies to the bot and mentions arrive."""
        if not self.privacy_mode or not chat.is_group:
            return True
        text = msg.text or ""
        if msg.entities and msg.entities[0]["type"] == "bot_command":
            command = text[: msg.entities[0]["length"]]
            _, _, target = command.partition("@")
            return not target or target.lower() == (self.bot.username or "").lower()
        if msg.reply_to_message_id is not None:
            replied = self.world.find_message(chat.id, msg.reply_to_message_id)
            if replied is not None and replied.sender_id == self.bot.id:
                return True
        mention = f"@{self.bot.username}".lower()
        return mention in text.lower() or mention in (msg.caption or "").lower()

    async def _c_press(self, request: web.Request) -> web.Response:
        """A human presses an inline button; only buttons really on the message count."""
        body = await self._body(request)
        user, chat = self._human_in_chat(body)
        message_id = self._int(body.get("message_id"), "message_id")
        msg = self.world.find_message(chat.id, message_id)
        if msg is None:
            raise ControlError(404, f"no message {message_id} in chat {chat.id}")
        buttons = [b for row in msg.inline_keyboard or [] for b in row]
        shown = [(b.get("text"), b.get("callback_data")) for b in buttons]
        if "data" in body:
            data = str(body["data"])
            if not any(b.get("callback_data") == data for b in buttons):
                raise ControlError(
                    400,
                    f"message {message_id} in chat {chat.id} has no button with callback_data "
                    f"{data!r}; buttons (text, data): {shown}",
                )
        elif "text" in body:
            matching = [b for b in buttons if b.get("text") == body["text"]]
            if not matching or matching[0].get("callback_data") is None:
                raise ControlError(
                    400,
                    f"message {message_id} in chat {chat.id} has no callback button labelled "
                    f"{body['text']!r}; buttons (text, data): {shown}",
                )
            data = str(matching[0]["callback_data"])
        else:
            raise ControlError(400, "give the button's data or text")
        query_id = str(4_400_000_000_000_000 + self.world.next_number())
        update = self.world.queue_update(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_api(),
                "message": self.world.message_api(msg),
                "chat_instance": self.world.chat_instance(chat.id),
                "data": data,
            },
        )
        query = CallbackQuery(
            id=query_id,
            user_id=user.id,
            chat_id=chat.id,
            message_id=message_id,
            data=data,
            created_at=self.world.clock(),
            update_id=-1 if update is None else update.update_id,
        )
        self.world.callbacks[query_id] = query
        return self._json(query.view())

    async def _c_callbacks(self, request: web.Request) -> web.Response:
        return self._json([q.view() for q in self.world.callbacks.values()])

    async def _c_callback(self, request: web.Request) -> web.Response:
        query = self.world.callbacks.get(request.match_info["callback_id"])
        if query is None:
            raise ControlError(404, f"unknown callback query {request.match_info['callback_id']}")
        return self._json(query.view())

    async def _c_updates(self, request: web.Request) -> web.Response:
        return self._json([u.to_api() for u in self.world.updates])

    async def _c_add_update(self, request: web.Request) -> web.Response:
        """Any content, but Telegram's envelope: one known kind, an object, its own id."""
        body = await self._body(request)
        kind, payload = body.get("kind"), body.get("payload")
        if "update_id" in body or (isinstance(payload, dict) and "update_id" in payload):
            raise ControlError(400, "Telegram numbers every update itself; leave out update_id")
        if kind not in UPDATE_KINDS:
            raise ControlError(400, f"kind must be one of {', '.join(sorted(UPDATE_KINDS))}")
        if not isinstance(payload, dict):
            raise ControlError(400, "payload must be a JSON object, as every update field is")
        update = self.world.queue_update(str(kind), payload)
        return self._json({"ok": True, "update_id": None if update is None else update.update_id})

    async def _c_commands(self, request: web.Request) -> web.Response:
        return self._json(
            [
                {"scope": json.loads(scope), "language_code": lang, "commands": commands}
                for (scope, lang), commands in self.world.commands.items()
            ]
        )

    async def _c_file(self, request: web.Request) -> web.StreamResponse:
        stored = self.world.files.get(request.match_info["file_id"])
        if stored is None:
            raise ControlError(404, f"unknown file_id {request.match_info['file_id']}")
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _c_add_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            kind = FaultKind(str(body.get("kind")))
        except ValueError:
            raise ControlError(400, "kind must be one of '429', '500', 'stall'") from None
        count = None if body.get("count") is None else self._int(body["count"], "count")
        seconds = body.get("seconds")
        if count is None and seconds is None:
            count = 1
        methods = method_names(body)
        now = self._monotonic()
        fault = Fault(
            kind=kind,
            remaining=count,
            until=None if seconds is None else now + float(seconds),
            retry_after=self._int(body.get("retry_after", 1), "retry_after"),
            delay=None if body.get("delay") is None else float(body["delay"]),
            methods=methods,
        )
        self.world.faults.append(fault)
        return self._json(fault.view(now))

    async def _c_faults(self, request: web.Request) -> web.Response:
        now = self._monotonic()
        return self._json([f.view(now) for f in self.world.faults if not f.exhausted(now)])

    async def _c_clear_faults(self, request: web.Request) -> web.Response:
        self.world.faults.clear()
        self._release_stalls()
        return self._json({"ok": True})

    # ------------------------------------------------------------------ rate limits
    def _limits_view(self) -> JSONDict:
        rates = self._rates
        if rates is None:
            return {"enforced": False, "rejected": 0}
        return {"enforced": True, "rejected": rates.rejected, **rates.limits.view()}

    async def _c_set_limits(self, request: web.Request) -> web.Response:
        """Enforce limits; a key left out keeps Telegram's value, null turns it off."""
        body = await self._body(request) if request.body_exists else {}
        default = RateLimits()

        def pick(name: str, fallback: Limit | None) -> Limit | None:
            return _limit(body[name], name) if name in body else fallback

        limits = RateLimits(
            per_chat=pick("per_chat", default.per_chat),
            per_group=pick("per_group", default.per_group),
            overall=pick("global", default.overall),
        )
        self._rates = _RateKeeper(limits)
        return self._json(self._limits_view())

    async def _c_limits(self, request: web.Request) -> web.Response:
        return self._json(self._limits_view())

    async def _c_clear_limits(self, request: web.Request) -> web.Response:
        self._rates = None
        return self._json({"ok": True})

    # ------------------------------------------------------------------ webhook pushes
    async def _c_set_push(self, request: web.Request) -> web.Response:
        """Deliver updates to ``deliver_to`` while a webhook is set, as Telegram would
        deliver them to the webhook's URL: POST, secret header, retried until a 2xx."""
        body = await self._body(request)
        target = body.get("deliver_to")
        if not isinstance(target, str) or urlsplit(target).scheme not in ("http", "https"):
            raise ControlError(400, "deliver_to must be an http(s) URL")
        try:
            retry = float(body.get("retry_seconds", 0.5))
            timeout = float(body.get("timeout", 30.0))
        except (TypeError, ValueError):
            raise ControlError(400, "retry_seconds and timeout must be numbers") from None
        await self._stop_pushing()
        self._push = WebhookPush(target, max(0.0, retry), max(0.1, timeout), attempts=[])
        self._push_task = asyncio.create_task(self._push_updates(self._push))
        return self._json(self._push_view())

    async def _c_push(self, request: web.Request) -> web.Response:
        return self._json(self._push_view())

    async def _c_clear_push(self, request: web.Request) -> web.Response:
        await self._stop_pushing()
        return self._json({"ok": True})

    def _push_view(self) -> JSONDict:
        push = self._push
        view: JSONDict = {"url": self.world.webhook.url}
        if push is not None:
            view.update(push.view(len(self.world.updates), len(self._pushing)))
        return view

    async def _stop_pushing(self) -> None:
        task, self._push_task = self._push_task, None
        self._push = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._pushing.clear()
        self._push_retry_at.clear()

    async def _push_updates(self, push: WebhookPush) -> None:
        """Keep up to the webhook's max_connections deliveries going; an update leaves the
        queue only when answered with a 2xx, like Telegram's."""
        import aiohttp

        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession() as session:
            try:
                while not self._closing and self._push is push:  # replaced: stop
                    now = loop.time()
                    wake = 1.0
                    if self.world.webhook.url:
                        room = self.world.webhook.max_connections - len(self._pushing)
                        for update in list(self.world.updates):
                            if room <= 0:
                                break
                            if update.update_id in self._pushing:
                                continue
                            retry_at = self._push_retry_at.get(update.update_id, 0.0)
                            if retry_at > now:
                                wake = min(wake, retry_at - now)
                                continue
                            self._pushing.add(update.update_id)
                            room -= 1
                            task = asyncio.create_task(self._push_one(session, push, update))
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
                    await self._until_woken(wake)
            finally:
                for task in tasks:
                    task.cancel()

    async def _push_one(self, session: Any, push: WebhookPush, update: Any) -> None:
        import aiohttp

        headers = {}
        if self.world.webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.world.webhook.secret_token
        status: int | None = None
        error: str | None = None
        failure = ""
        try:
            async with session.post(
                push.deliver_to,
                json=update.to_api(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=push.timeout),
            ) as resp:
                status = resp.status
                failure = f"Wrong response from the webhook: {resp.status} {resp.reason}"
                await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
            failure = _push_failure(exc)
        finally:
            self._pushing.discard(update.update_id)
        ok = status is not None and 200 <= status < 300
        if not ok:
            self.world.webhook.failed(self.world.clock(), failure)
        if push.attempts is not None:
            push.attempts.append({"update_id": update.update_id, "status": status, "error": error})
        if ok:
            push.delivered += 1
            self._push_retry_at.pop(update.update_id, None)
            self.world.updates = [u for u in self.world.updates if u.update_id != update.update_id]
        else:
            push.failed += 1
            self._push_retry_at[update.update_id] = (
                asyncio.get_running_loop().time() + push.retry_seconds
            )
        self._wake()


def _push_failure(exc: BaseException) -> str:
    """getWebhookInfo's last_error_message for a push that got no answer."""
    import aiohttp

    if isinstance(exc, TimeoutError):
        return "Read timeout expired"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "Connection refused"
    return "Webhook connection closed"


def _check_web_app(web_app: Any) -> None:
    """A WebAppInfo: an object whose `url` is an HTTPS link (Telegram refuses others)."""
    url = web_app.get("url") if isinstance(web_app, dict) else None
    if not isinstance(url, str):
        raise ApiError(
            400, "Bad Request: can't parse inline keyboard button: Can't find field \"url\""
        )
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise ApiError(
            400,
            f"Bad Request: inline keyboard button Web App URL '{url}' is invalid: "
            "Only HTTPS links are allowed",
        )


def _valid_button_url(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme == "tg"


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(400, "base64 field is not valid base64") from None
