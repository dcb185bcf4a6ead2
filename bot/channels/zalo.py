"""The Zalo adapter: the Zalo Bot Platform over plain aiohttp, behind the neutral edge types.

Zalo's Bot API is shaped like Telegram's (`{root}/bot{token}/{method}`, `{"ok", "result"}`
answers) but does less, and some things differently, so nothing is borrowed from Telegram:

- one update per `getUpdates` call, no offsets; an idle long poll ends in HTTP 408;
- updates are `{"event_name": "message.text.received", "message": {...}}`, ids are strings;
- no buttons, no edits, no replies in `sendMessage`; texts of 1 to 2,000 characters;
- `sendPhoto` takes the photo's URL, not its bytes;
- in groups (beta) a message reaches the bot only when it mentions the bot or replies to it;
- a webhook is checked with the `X-Bot-Api-Secret-Token` header.

What Zalo cannot show is turned into what it can by `ZaloRenderer`: the claim button becomes an
instruction line, a card edit becomes a short new status message, long text is split.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from bot.channels.base import (
    Attachment,
    AttachmentKind,
    Capabilities,
    ChannelAddress,
    ChatKind,
    DeliveryError,
    HandleResult,
    Inbound,
    InboundSink,
    InboundUser,
    Outbound,
    PermanentFailure,
    RetryLater,
    Sent,
    TransientFailure,
)
from bot.channels.unreadable import LogEvery
from bot.credentials import same_secret
from bot.domain.digits import whole_number
from bot.i18n import Lang, Translator

logger = logging.getLogger(__name__)

CHANNEL_NAME: Final = "zalo"
#: sendMessage and sendPhoto captions: "1 to 2000 characters" (Zalo Bot API docs).
MAX_TEXT: Final = 2000
#: Seconds a getUpdates call may wait on the server; the docs' default is 30.
LONG_POLL_SECONDS: Final = 30
#: What Zalo answers a long poll that ended without a message: not an error.
IDLE_STATUS: Final = 408
SECRET_HEADER: Final = "X-Bot-Api-Secret-Token"
#: setWebhook refuses secrets outside 8..256 characters.
SECRET_LENGTHS: Final = range(8, 257)
#: How many recent message ids are remembered to drop a delivery Zalo repeats.
RECENT_IDS: Final = 4096
#: Longest message id taken as it is (Zalo's are 32 hex digits); a longer one is digested.
MAX_MESSAGE_ID: Final = 64
DEFAULT_RETRY_AFTER: Final = 5.0
MAX_POLL_BACKOFF: Final = 60.0


class ZaloMode(StrEnum):
    """How updates reach us: we ask (polling) or Zalo pushes to our HTTP server."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class ZaloEvent(StrEnum):
    """The `event_name`s the Bot API documents for messages people send to the bot."""

    TEXT = "message.text.received"
    IMAGE = "message.image.received"
    STICKER = "message.sticker.received"
    UNSUPPORTED = "message.unsupported.received"


class ZaloChatType(StrEnum):
    PRIVATE = "PRIVATE"
    GROUP = "GROUP"


class PartKind(StrEnum):
    TEXT = "text"
    PHOTO = "photo"


@dataclass(frozen=True)
class ZaloPart:
    """One Bot API send an `Outbound` turns into; the renderer plans, `send` executes."""

    kind: PartKind
    text: str | None  # the message text, or the photo's caption
    photo_url: str | None = None


class ZaloApiError(Exception):
    """A Bot API answer with `ok: false` (or a non-2xx status), as Zalo gave it."""

    def __init__(
        self,
        status: int,
        error_code: int | None,
        description: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status}/{error_code}: {description}")
        self.status = status
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    @property
    def code(self) -> int:
        """Zalo's `error_code` when it gave one, else the HTTP status."""
        return self.error_code if self.error_code is not None else self.status

    @property
    def is_idle_poll(self) -> bool:
        return IDLE_STATUS in (self.status, self.error_code)


def translate_error(exc: ZaloApiError) -> DeliveryError:
    """What the relay should do about a refused call, judged by its code, never its text."""
    code = exc.code
    if code == 429:
        return RetryLater(exc.retry_after or DEFAULT_RETRY_AFTER, exc.description)
    if code >= 500 or code == IDLE_STATUS:
        return TransientFailure(exc.description)
    if 400 <= code < 500:
        return PermanentFailure(exc.description)  # bad request, bad token, unknown chat
    return TransientFailure(exc.description)


# --------------------------------------------------------------------------- text


def zalo_length(text: str) -> int:
    """Length in UTF-16 code units: never under what Zalo counts, so emoji cannot push us over."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit`, cut at line ends; only a line longer than that is cut hard.

    Blank pieces are dropped: Zalo refuses a text under one character.
    """
    if zalo_length(text) <= limit:
        return [text] if text.strip() else []
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for line in text.split("\n"):
        for piece in _hard_split(line, limit) if zalo_length(line) > limit else [line]:
            width = zalo_length(piece)
            needed = width + (1 if current else 0)
            if current and used + needed > limit:
                chunks.append("\n".join(current))
                current, used, needed = [], 0, width
            current.append(piece)
            used += needed
    if current:
        chunks.append("\n".join(current))
    return [chunk for chunk in chunks if chunk.strip()]


def _hard_split(line: str, limit: int) -> list[str]:
    """Cut an over-long line, at a space when there is one in the second half of the piece."""
    pieces: list[str] = []
    rest = line
    while zalo_length(rest) > limit:
        cut = 0
        used = 0
        for index, char in enumerate(rest):
            used += 2 if ord(char) > 0xFFFF else 1
            if used > limit:
                break
            cut = index + 1
        space = rest.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space + 1
        cut = max(cut, 1)  # a character wider than the limit still moves us on
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces


# --------------------------------------------------------------------------- inbound

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
    if event not in (ZaloEvent.TEXT, ZaloEvent.IMAGE) or not isinstance(message, Mapping):
        return None  # stickers and "unsupported" messages carry nothing the handlers use
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


# --------------------------------------------------------------------------- outbound


class MediaLinks:
    """Public, signed URLs for local files, because `sendPhoto` takes a URL and never bytes.

    Our HTTP server serves them (see `bot.http.webhooks`); a link names the file and carries an
    HMAC of its path, so only paths the bot chose to send can be fetched. The key comes from
    the webhook secret, which Zalo holds too: whoever has it could sign any path, so only
    files under `root` (MEDIA_DIR) are ever served.
    """

    def __init__(self, base_url: str, secret: str, root: Path | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = hashlib.sha256(b"zalo-media:" + secret.encode()).digest()
        self._root = root.resolve() if root is not None else None

    @property
    def route_path(self) -> str:
        """The path our server answers on, `{token}` being the signed part."""
        return (urlsplit(self.base_url).path or "") + "/{token}"

    def link(self, path: Path) -> str:
        raw = str(path.resolve()).encode()
        name = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{self.base_url}/{name}.{self._sign(raw)}"

    def resolve(self, token: str) -> Path | None:
        """The file a token names, or None for a forged, damaged or stale one."""
        name, _, signature = token.partition(".")
        try:
            raw = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4))
        except (binascii.Error, ValueError):
            return None
        if not signature or not hmac.compare_digest(signature, self._sign(raw)):
            return None
        path = Path(raw.decode(errors="replace"))
        try:
            outside = self._root is not None and not path.resolve().is_relative_to(self._root)
        except (OSError, ValueError):  # a NUL byte, a symlink loop
            return None
        if outside:
            return None
        return path if path.is_file() else None

    def _sign(self, raw: bytes) -> str:
        return hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:32]


def media_base(webhook_url: str) -> str:
    """Photo links live next to the webhook: `https://h/zalo/webhook` -> `https://h/zalo/media`,
    so the reverse proxy that forwards the webhook's folder forwards them too."""
    parts = urlsplit(webhook_url)
    folder = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return f"{parts.scheme}://{parts.netloc}{folder}/media"


class ZaloRenderer:
    """Turns one neutral `Outbound` into what Zalo can show.

    The language of the added lines follows the message's own (found from the card's status
    line), else the configured default.
    """

    def __init__(
        self,
        tr: Translator,
        default: Lang = Lang.VI,
        *,
        max_text: int = MAX_TEXT,
        media: MediaLinks | None = None,
    ) -> None:
        self.tr = tr
        self.default = default
        self.max_text = max_text
        self.media = media

    def lang_of(self, text: str) -> Lang:
        lines = text.split("\n")
        for lang in Lang:
            marker = self._prefix(lang, "card.status", "status")
            if any(line.startswith(marker) for line in lines):
                return lang
        return self.default

    def claim_hint(self, message: Outbound, lang: Lang) -> str | None:
        """The claim button, as the line to type instead (Zalo has no buttons)."""
        if not message.claim_ref:
            return None
        return self.tr.t(lang, "card.claim_hint", ref=message.claim_ref)

    def render(self, message: Outbound) -> list[ZaloPart]:
        """Plan the sends for a new message: photo first (with the text as caption when it
        fits), then the text in pieces of at most `max_text`."""
        lang = self.lang_of(message.text)
        lines = [message.text] if message.text.strip() else []
        hint = self.claim_hint(message, lang)
        if hint:
            lines.append(hint)
        if message.document_path:
            name = Path(message.document_path).name
            lines.append(self.tr.t(lang, "card.no_document", name=name))
        text = "\n".join(lines)
        parts: list[ZaloPart] = []
        photo = self.photo_url(message.photo_path)
        if photo is not None:
            caption = text if text.strip() and zalo_length(text) <= self.max_text else None
            parts.append(ZaloPart(PartKind.PHOTO, caption, photo))
            if caption is not None:
                return parts
        elif message.photo_path:
            logger.warning("a photo for Zalo was left out: no public URL for a local file")
        parts.extend(ZaloPart(PartKind.TEXT, chunk) for chunk in split_text(text, self.max_text))
        if not parts:
            raise PermanentFailure("nothing to send: empty text and no photo")
        return parts

    def render_update(self, message: Outbound) -> list[ZaloPart]:
        """A card edit, as a short new message: its title, status and assignee lines."""
        lang = self.lang_of(message.text)
        lines = message.text.split("\n")
        wanted = (
            self._prefix(lang, "card.status", "status"),
            self._prefix(lang, "card.assignee", "name"),
        )
        kept = [line for line in lines[1:] if line.startswith(wanted)]
        if not kept:
            return self.render(message)  # not a card we know: show it whole
        short = [lines[0], *kept]
        hint = self.claim_hint(message, lang)
        if hint:
            short.append(hint)
        return [ZaloPart(PartKind.TEXT, chunk) for chunk in split_text("\n".join(short))]

    def photo_url(self, photo_path: str | None) -> str | None:
        if not photo_path:
            return None
        if photo_path.startswith(("https://", "http://")):
            return photo_path
        if self.media is None:
            return None
        return self.media.link(Path(photo_path))

    def _prefix(self, lang: Lang, key: str, field: str) -> str:
        """The fixed start of a catalogue line, e.g. "Trạng thái: " of `card.status`."""
        return self.tr.t(lang, key, **{field: "\x00"}).split("\x00")[0]


# --------------------------------------------------------------------------- HTTP


class ZaloApi:
    """A thin client of the Bot API; every error names the method, never the token."""

    def __init__(self, token: str, api_url: str, *, timeout: float = 20.0) -> None:
        self._token = token
        self._root = api_url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def open(self) -> None:
        """Keep one connection pool while the channel runs."""
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def call(
        self, method: str, payload: Mapping[str, Any] | None = None, *, seconds: float | None = None
    ) -> Any:
        """POST JSON and return `result`; raises ZaloApiError or TransientFailure."""
        if self._session is not None:
            return await self._call(self._session, method, payload, seconds)
        # Outside start/stop (the CLI, the relay's last flush): a short-lived pool.
        async with aiohttp.ClientSession() as session:
            return await self._call(session, method, payload, seconds)

    async def _call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        payload: Mapping[str, Any] | None,
        seconds: float | None,
    ) -> Any:
        url = f"{self._root}/bot{self._token}/{method}"
        limit = aiohttp.ClientTimeout(total=seconds if seconds is not None else self.timeout)
        try:
            async with session.post(url, json=dict(payload or {}), timeout=limit) as resp:
                status = resp.status
                retry_header = resp.headers.get("Retry-After")
                try:
                    data = await resp.json(content_type=None)
                except (ValueError, RecursionError):  # not JSON, or nested past reading
                    data = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure(self.redact(f"{method}: {exc!r}")) from None
        if isinstance(data, dict) and data.get("ok") is True and status < 400:
            return data.get("result")
        code: int | None = None
        description = f"HTTP {status}"
        retry_after: float | None = None
        if isinstance(data, dict):
            raw_code = data.get("error_code")
            code = whole_number(str(raw_code)) if isinstance(raw_code, int | str) else None
            description = str(data.get("description") or description)
            params = data.get("parameters")
            if isinstance(params, dict) and isinstance(params.get("retry_after"), int | float):
                retry_after = float(params["retry_after"])
        header_seconds = whole_number(retry_header) if retry_header else None
        if retry_after is None and header_seconds is not None:
            retry_after = float(header_seconds)
        if status < 400 and code is None:
            code = 400  # `ok: false` on a 200: Zalo refused it
        raise ZaloApiError(status, code, self.redact(f"{method}: {description}"), retry_after)

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """GET a file a person sent (Zalo hands out plain URLs), refusing oversize ones."""
        if not url.startswith(("https://", "http://")):
            raise PermanentFailure("not a file URL")
        limit = aiohttp.ClientTimeout(total=self.timeout * 3)
        try:
            async with aiohttp.ClientSession() as session, session.get(url, timeout=limit) as resp:
                if resp.status >= 400:
                    error = PermanentFailure if resp.status < 500 else TransientFailure
                    raise error(f"file download answered {resp.status}")
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise PermanentFailure(
                        f"file is {resp.content_length} bytes, over the {max_bytes} limit"
                    )
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise PermanentFailure(f"file is over the {max_bytes} limit")
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure(f"file download failed: {exc!r}") from None

    def redact(self, text: str) -> str:
        return text.replace(self._token, "<token>")


# --------------------------------------------------------------------------- adapter


class ZaloChannel:
    """`Channel` for the Zalo Bot Platform, thin like the Telegram one."""

    name = CHANNEL_NAME
    #: Zalo cannot edit a message: `edit()` posts a short status message instead.
    capabilities = Capabilities(
        buttons=False,
        edits=False,
        max_text=MAX_TEXT,
        photos_in=True,
        photos_out=True,
        locations=False,
        groups=True,
    )

    def __init__(
        self,
        token: str,
        api_url: str = "https://bot-api.zaloplatforms.com",
        *,
        mode: ZaloMode = ZaloMode.POLLING,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        translator: Translator | None = None,
        language: Lang = Lang.VI,
        bot_names: Iterable[str] = (),
        poll_timeout: int = LONG_POLL_SECONDS,
        request_timeout: float = 20.0,
        media_root: Path | None = None,
    ) -> None:
        if not token:
            raise ValueError("a Zalo bot token is required")
        mode = ZaloMode(mode)
        if mode is ZaloMode.WEBHOOK:
            if not webhook_url:
                raise ValueError("webhook mode needs a webhook URL")
            if webhook_secret is None or len(webhook_secret) not in SECRET_LENGTHS:
                raise ValueError("webhook mode needs a secret of 8 to 256 characters")
        self.mode = mode
        self._api = ZaloApi(token, api_url, timeout=request_timeout)
        self._api_url = api_url.rstrip("/")
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self.media = (
            MediaLinks(media_base(webhook_url), webhook_secret, media_root)
            if mode is ZaloMode.WEBHOOK and webhook_url and webhook_secret
            else None
        )
        self.renderer = ZaloRenderer(translator or Translator(language), language, media=self.media)
        self.bot_names: set[str] = {n for n in bot_names if n}
        self.bot_id: str | None = None
        self.poll_timeout = poll_timeout
        self._sink: InboundSink | None = None
        self._recent = RecentIds()
        self._said = LogEvery(logger)
        self._started = False
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._fetch: asyncio.Task[Any] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:  # never the token
        return f"ZaloChannel(api_url={self._api_url!r}, mode={self.mode.value})"

    @property
    def running(self) -> bool:
        return self._started

    # ----------------------------------------------------------- lifecycle

    async def start(self, sink: InboundSink) -> None:
        async with self._lock:
            if self._started:
                raise RuntimeError("the Zalo channel is already started")
            self._api.open()
            try:
                await self._introduce()
                if self.mode is ZaloMode.POLLING:
                    await self._drop_webhook()
                else:
                    await self._call(
                        "setWebhook",
                        {"url": self._webhook_url, "secret_token": self._webhook_secret},
                    )
            except BaseException:
                await self._api.close()
                raise
            self._sink = sink
            self._stopping = asyncio.Event()
            self._started = True
            if self.mode is ZaloMode.POLLING:
                self._poller = asyncio.create_task(self._poll_loop(), name="zalo-poll")
            logger.info("Zalo channel started (%s)", self.mode.value)

    async def stop(self) -> None:
        """Stop polling (an update being handled is finished first) and close the pool.

        A webhook stays registered, so Zalo keeps the updates for when we are back.
        """
        async with self._lock:
            if not self._started:
                return
            self._started = False
            self._stopping.set()
            fetch, poller = self._fetch, self._poller
            if fetch is not None and not fetch.done():
                fetch.cancel()
            if poller is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(poller, self._api.timeout + 5)
            self._poller = self._fetch = None
            await self._api.close()
            logger.info("Zalo channel stopped")

    async def _introduce(self) -> None:
        """getMe: checks the token and learns the names people may mention the bot by."""
        me = await self._call("getMe")
        if isinstance(me, Mapping):
            self.bot_id = str(me.get("id")) if me.get("id") is not None else None
            for key in ("display_name", "name", "account_name"):
                value = me.get(key)
                if isinstance(value, str) and value.strip():
                    self.bot_names.add(value.strip())

    async def _drop_webhook(self) -> None:
        """getUpdates does not work while a webhook is set, so polling removes it first."""
        try:
            await self._call("deleteWebhook")
        except PermanentFailure as exc:  # a bot that never had one may answer 4xx
            logger.debug("deleteWebhook: %s", exc)

    async def _poll_loop(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            self._fetch = asyncio.create_task(
                self._api.call(
                    "getUpdates",
                    {"timeout": str(self.poll_timeout)},
                    seconds=self.poll_timeout + self._api.timeout,
                )
            )
            try:
                result = await self._fetch
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    return
                raise
            except ZaloApiError as exc:
                if exc.is_idle_poll:
                    backoff = 1.0
                    continue
                error = translate_error(exc)
                delay = error.retry_after if isinstance(error, RetryLater) else backoff
                self._said.warning("Zalo getUpdates failed (%s); again in %.0fs", error, delay)
                await self._pause(delay)
                backoff = min(backoff * 2, MAX_POLL_BACKOFF)
                continue
            except TransientFailure as exc:
                self._said.warning("Zalo getUpdates failed (%s); again in %.0fs", exc, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_POLL_BACKOFF)
                continue
            except Exception:  # a bug must not end polling for good
                self._said.warning("Zalo getUpdates failed; again in %.0fs", backoff, trace=True)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_POLL_BACKOFF)
                continue
            finally:
                self._fetch = None
            backoff = 1.0
            # Zalo hands an update out once, so one that cannot be read is gone already:
            # it is ignored (and said at most once a minute), never asked for again.
            for update in result if isinstance(result, list) else [result]:
                if isinstance(update, Mapping):
                    await self._dispatch(update)
                else:
                    self._said.warning(
                        "Zalo getUpdates handed out something that is no update (%s); ignored",
                        type(update).__name__,
                    )

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # ----------------------------------------------------------- inbound

    async def process_webhook(self, payload: Mapping[str, Any]) -> HandleResult | None:
        """Handle one pushed update to the end, so the HTTP server answers only after."""
        if self._sink is None or not self._started:
            raise RuntimeError("the Zalo channel is not started")
        update = unwrap_update(payload)
        if update is None:
            logger.warning("ignoring a webhook payload that is no Zalo update")
            return None
        return await self._dispatch(update)

    def secret_matches(self, header_value: str | None) -> bool:
        """Check `X-Bot-Api-Secret-Token` in constant time; no secret set means no webhook."""
        if self._webhook_secret is None:
            return False
        return same_secret(header_value, self._webhook_secret)

    async def _dispatch(self, update: Mapping[str, Any]) -> HandleResult | None:
        """Drop a repeat, convert, hand to the sink; a failing sink never stops polling."""
        key = delivery_key(update)
        if not self._recent.first_time(key):
            logger.info("Zalo update %s delivered again; handled once already", key)
            return None
        try:
            inbound = to_inbound(update, self.bot_names)
            if inbound is not None and self._sink is not None:
                return await self._sink(inbound)
        except Exception:
            logger.exception("handling Zalo update %s failed", key)
        return None

    # ----------------------------------------------------------- outbound

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        return await self._send_parts(chat_id, self.renderer.render(message))

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        """Zalo cannot edit: say what changed in a short new message instead."""
        await self._send_parts(chat_id, self.renderer.render_update(message))

    async def _send_parts(self, chat_id: str, parts: list[ZaloPart]) -> Sent:
        ids: list[str] = []
        for part in parts:
            if part.kind is PartKind.PHOTO:
                payload: dict[str, Any] = {"chat_id": chat_id, "photo": part.photo_url}
                if part.text:
                    payload["caption"] = part.text
                result = await self._call("sendPhoto", payload)
            else:
                result = await self._call("sendMessage", {"chat_id": chat_id, "text": part.text})
            if isinstance(result, Mapping) and result.get("message_id") is not None:
                ids.append(str(result["message_id"]))
        return Sent(message_ids=tuple(ids))

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        """Fetch a photo a person sent: `file_ref` is the URL Zalo gave in the update."""
        return await self._api.fetch(file_ref, max_bytes)

    async def _call(self, method: str, payload: Mapping[str, Any] | None = None) -> Any:
        try:
            return await self._api.call(method, payload)
        except ZaloApiError as exc:
            raise translate_error(exc) from None
