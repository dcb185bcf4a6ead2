"""The Telegram adapter: python-telegram-bot on one side, the neutral edge types on the other.

Everything Telegram-specific (Update shapes, keyboards, the 4096/1024 limits, Bot API error
texts) stays in this module, so `handlers/` only ever sees `Inbound`/`Outbound` and the
`DeliveryError` family.  The PTB `Application` runs inside our own event loop: polling through
its `Updater`, or (webhook mode) fed by our HTTP server through `process_webhook`.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, UpdateType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot, TypeHandler
from telegram.request import HTTPXRequest

from bot.channels.base import (
    Attachment,
    AttachmentKind,
    Button,
    CallbackPress,
    Capabilities,
    ChannelAddress,
    ChatKind,
    DeliveryError,
    HandleResult,
    Inbound,
    InboundSink,
    InboundUser,
    Key,
    MessageGone,
    NotModified,
    Outbound,
    PermanentFailure,
    RetryLater,
    Sent,
    TransientFailure,
)
from bot.channels.unreadable import LogEvery, UnreadableUpdates
from bot.credentials import same_secret
from bot.domain.digits import whole_number

logger = logging.getLogger(__name__)

CHANNEL_NAME: Final = "telegram"
MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024
#: Seconds a getUpdates call may wait on the server for new updates.
LONG_POLL_SECONDS: Final = 10
#: A call's whole life (connect, upload, answer) is capped at this many request timeouts:
#: PTB's timeouts bound each phase, not a server that trickles its answer byte by byte.
CALL_DEADLINE_FACTOR: Final = 5
#: Only what the bot acts on.  Edited messages are left out on purpose: an `Inbound` cannot
#: say "edited", and re-running an edited `/claim` as a new command would surprise people.
ALLOWED_UPDATES: Final = (UpdateType.MESSAGE, UpdateType.CALLBACK_QUERY)

_App: TypeAlias = Application[
    "PollingBot",
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    None,
]
_T = TypeVar("_T")


class TelegramMode(StrEnum):
    """How updates reach us: we ask (polling) or Telegram pushes to our HTTP server."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class CommandScope(StrEnum):
    """Where a command list is offered (Telegram shows different menus per scope)."""

    PRIVATE = "private"
    GROUP = "group"


#: What goes under a message: inline buttons, a keyboard under the input field, or its removal.
ReplyMarkup: TypeAlias = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


class PartKind(StrEnum):
    TEXT = "text"
    PHOTO = "photo"
    DOCUMENT = "document"


@dataclass(frozen=True)
class RenderedPart:
    """One Bot API send that an `Outbound` turns into; `render` plans, `send` executes."""

    kind: PartKind
    text: str | None  # the message text, or the caption of a photo/document
    keyboard: ReplyMarkup | None = None
    reply_to: int | None = None
    path: str | None = None


# --------------------------------------------------------------------------- inbound


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


def _inbound_user(user: User) -> InboundUser:
    return InboundUser(
        id=str(user.id), name=user.full_name, username=user.username, lang=user.language_code
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


# --------------------------------------------------------------------------- outbound


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), so emoji cannot push us over."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit`, cut at line ends; only a line longer than that is cut hard.

    Blank pieces are dropped because Telegram refuses an empty message.
    """
    if telegram_length(text) <= limit:
        return [text] if text.strip() else []
    chunks: list[str] = []
    current: list[str] = []
    current_len = 0
    for line in text.split("\n"):
        pieces = _hard_split(line, limit) if telegram_length(line) > limit else [line]
        for piece in pieces:
            piece_len = telegram_length(piece)
            needed = piece_len + (1 if current else 0)
            if current and current_len + needed > limit:
                chunks.append("\n".join(current))
                current, current_len, needed = [], 0, piece_len
            current.append(piece)
            current_len += needed
    if current:
        chunks.append("\n".join(current))
    return [chunk for chunk in chunks if chunk.strip()]


def _hard_split(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    start = 0
    used = 0
    for index, char in enumerate(line):
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > limit:
            pieces.append(line[start:index])
            start, used = index, 0
        used += width
    pieces.append(line[start:])
    return pieces


def keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        tuple(
            tuple(InlineKeyboardButton(b.text, callback_data=b.data) for b in row)
            for row in buttons
        )
    )


def reply_keys(keys: tuple[tuple[Key, ...], ...]) -> ReplyKeyboardMarkup | None:
    """The keyboard under the input field; a location key shares the phone's position."""
    if not keys:
        return None
    return ReplyKeyboardMarkup(
        tuple(
            tuple(KeyboardButton(k.text, request_location=k.request_location or None) for k in row)
            for row in keys
        ),
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def markup_of(message: Outbound) -> ReplyMarkup | None:
    """One markup per message: inline buttons win, then a key keyboard, then its removal."""
    inline = keyboard(message.buttons)
    if inline is not None:
        return inline
    keys = reply_keys(message.keys)
    if keys is not None:
        return keys
    return ReplyKeyboardRemove() if message.remove_keys else None


def render(message: Outbound, max_text: int = MAX_TEXT) -> list[RenderedPart]:
    """Plan the Bot API calls for one `Outbound`: media first, text after, buttons last.

    Text is plain (no parse mode): a customer called `<Hưng>` must not break the message.
    `claim_ref` needs nothing here: on Telegram the claim action is already a button.
    """
    media = [
        (kind, path)
        for kind, path in (
            (PartKind.PHOTO, message.photo_path),
            (PartKind.DOCUMENT, message.document_path),
        )
        if path is not None
    ]
    as_caption = (
        len(media) == 1
        and bool(message.text.strip())
        and telegram_length(message.text) <= MAX_CAPTION
    )
    plans: list[tuple[PartKind, str | None, str | None]] = []
    for index, (kind, path) in enumerate(media):
        plans.append((kind, message.text if as_caption and index == 0 else None, path))
    if not as_caption:
        plans.extend((PartKind.TEXT, chunk, None) for chunk in split_text(message.text, max_text))
    if not plans:
        raise PermanentFailure("nothing to send: empty text and no media")
    # A reply is a nicety: a target that cannot be a Telegram message id is simply dropped.
    reply_to = whole_number(message.reply_to or "")
    markup = markup_of(message)
    last = len(plans) - 1
    return [
        RenderedPart(
            kind=kind,
            text=text,
            keyboard=markup if index == last else None,
            reply_to=reply_to if index == 0 else None,
            path=path,
        )
        for index, (kind, text, path) in enumerate(plans)
    ]


# --------------------------------------------------------------------------- errors


def retry_after_seconds(exc: RetryAfter) -> float:
    """PTB ≥ 22.2 may hand out an int or a timedelta (and warns about the int); take both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | dtm.timedelta = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


def translate_error(exc: TelegramError) -> DeliveryError:
    """Map a PTB exception to what the caller should do about it (retry, drop, re-post).

    Telegram tells several 400s apart only by their description, so the texts are matched
    here, once, and nowhere else.
    """
    reason = exc.message
    lowered = reason.lower()
    if isinstance(exc, RetryAfter):
        return RetryLater(retry_after_seconds(exc), reason)
    if isinstance(exc, ChatMigrated):
        return PermanentFailure(f"group became supergroup {exc.new_chat_id}")
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest subclasses it
        if "message is not modified" in lowered:
            return NotModified(reason)
        if "message to edit not found" in lowered:
            return MessageGone(reason)
        return PermanentFailure(reason)  # "chat not found" and every other bad request
    if isinstance(exc, Forbidden | InvalidToken | EndPointNotFound):
        return PermanentFailure(reason)
    if isinstance(exc, NetworkError | Conflict):  # TimedOut, 5xx, connection refused
        return TransientFailure(reason)
    return TransientFailure(reason)


# --------------------------------------------------------------------------- polling


@dataclass
class _Skip:
    """The next getUpdates offset confirms (drops) every update below `below`."""

    below: int = 0


class PollingBot(ExtBot[None]):
    """The bot PTB's Updater polls with: it reads the updates of a getUpdates answer one
    by one, so an update it cannot read is asked for again with a pause and then skipped.

    PTB reads the whole answer at once; when one update fails, its Updater logs the data
    and asks again at once with the same offset, for ever, and nothing behind that
    update arrives. Here the answer is fetched as JSON and each update read on its own:
    those before the bad one are handed on, the bad one is retried with a growing pause
    (`UnreadableUpdates`) and then confirmed to Telegram with the next call's `offset`,
    which is how Telegram lets a bot drop an update. Nothing of its content is logged.
    """

    def __init__(self, token: str, *, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        with self._unfrozen():  # PTB freezes its objects after __init__
            self._base_read_timeout = read_timeout
            self.unreadable = UnreadableUpdates()
            self._said = LogEvery(logger)
            self._skip = _Skip()

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: Any = None,  # noqa: ASYNC109 - the Bot API's long-poll seconds, PTB's name
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
        api_kwargs: Any = None,
    ) -> tuple[Update, ...]:
        wait = timeout.total_seconds() if isinstance(timeout, dtm.timedelta) else timeout or 0
        start = max(offset or 0, self._skip.below) or None
        data = {
            "offset": start,
            "limit": limit,
            "timeout": wait,
            "allowed_updates": allowed_updates,
        }
        given = read_timeout if isinstance(read_timeout, int | float) else None
        raw = await self._post(
            "getUpdates",
            {key: value for key, value in data.items() if value is not None},
            read_timeout=(given if given is not None else self._base_read_timeout) + wait,
        )
        return await self._read_all(raw if isinstance(raw, list) else [raw])

    async def _read_all(self, raw: list[Any]) -> tuple[Update, ...]:
        updates: list[Update] = []
        for item in raw:
            try:
                update = Update.de_json(item, self)
            except Exception as exc:
                if updates:  # hand on what came before; the bad one is first next time
                    break
                if not await self._unreadable_update(item, exc):
                    return ()
                continue
            self.unreadable.read()
            self.insert_callback_data(update)
            updates.append(update)
        return tuple(updates)

    async def _unreadable_update(self, item: Any, exc: Exception) -> bool:
        """Pause and say False (ask again), or confirm the update away and say True."""
        found = item.get("update_id") if isinstance(item, dict) else None
        update_id = found if isinstance(found, int) and not isinstance(found, bool) else None
        verdict = self.unreadable.failed(update_id)
        if verdict.skip and update_id is not None:
            self._skip.below = update_id + 1
            self._said.warning(
                "Telegram update %s skipped: still unreadable (%s) after %d tries",
                update_id,
                type(exc).__name__,
                self.unreadable.tries,
            )
            return True
        self._said.warning(
            "Telegram update %s unreadable (%s); asking again in %.1fs, skipped after %d tries",
            update_id if update_id is not None else "without an id",
            type(exc).__name__,
            verdict.pause,
            self.unreadable.tries,
        )
        await asyncio.sleep(verdict.pause)
        return False


# --------------------------------------------------------------------------- adapter


class TelegramChannel:
    """`Channel` for Telegram; thin on purpose, so the same handlers can later serve Zalo."""

    name = CHANNEL_NAME
    capabilities = Capabilities(
        buttons=True,
        edits=True,
        max_text=MAX_TEXT,
        photos_in=True,
        photos_out=True,
        locations=True,
        groups=True,
    )

    def __init__(
        self,
        token: str,
        api_url: str = "https://api.telegram.org",
        *,
        mode: TelegramMode = TelegramMode.POLLING,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        request_timeout: float = 20.0,
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot token is required")
        mode = TelegramMode(mode)
        if mode is TelegramMode.WEBHOOK and not webhook_url:
            raise ValueError("webhook mode needs a webhook URL")
        self._token = token
        self._api_url = api_url.rstrip("/")
        self.mode = mode
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self._timeout = request_timeout
        self._app: _App | None = None
        self._sink: InboundSink | None = None
        self._started = False
        self._stopping = False
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:  # never the token
        return f"TelegramChannel(api_url={self._api_url!r}, mode={self.mode.value})"

    # ----------------------------------------------------------- lifecycle

    @property
    def bot_username(self) -> str | None:
        """The bot's @username from getMe; known once the bot is initialised."""
        app = self._app
        if app is None:
            return None
        try:
            return app.bot.username
        except RuntimeError:  # PTB raises until get_me has answered
            return None

    @property
    def running(self) -> bool:
        return self._started

    async def start(self, sink: InboundSink) -> None:
        async with self._lock:
            if self._started:
                raise RuntimeError("the Telegram channel is already started")
            self._sink = sink
            app = await self._initialized_app()
            try:
                await app.start()
                if self.mode is TelegramMode.POLLING:
                    assert app.updater is not None  # built with one in polling mode
                    await app.updater.start_polling(
                        poll_interval=0.0,
                        timeout=LONG_POLL_SECONDS,
                        allowed_updates=list(ALLOWED_UPDATES),
                        drop_pending_updates=False,
                    )
                else:
                    await app.bot.set_webhook(
                        url=self._webhook_url or "",
                        secret_token=self._webhook_secret,
                        allowed_updates=list(ALLOWED_UPDATES),
                        drop_pending_updates=False,
                    )
            except TelegramError as exc:
                await self._teardown(app)
                raise self._translated(exc) from exc
            except BaseException:
                await self._teardown(app)
                raise
            self._started = True
            logger.info("Telegram channel started as @%s (%s)", self.bot_username, self.mode.value)

    async def stop(self) -> None:
        """Stop polling and release the HTTP client; safe to call twice, bounded in time.

        A webhook stays registered, so Telegram keeps queueing updates until we are back.
        """
        async with self._lock:
            app = self._app
            if app is None:
                return
            await self._teardown(app)
            logger.info("Telegram channel stopped")

    async def _teardown(self, app: _App) -> None:
        """Drain first (the sink may still reply through the bot), then close the client."""
        self._started = False
        self._stopping = True
        try:
            updater = app.updater
            if updater is not None and updater.running:
                await self._bounded("updater.stop", updater.stop)
            if app.running:
                await self._bounded("application.stop", app.stop)
            self._app = None
            await self._bounded("application.shutdown", app.shutdown)
        finally:
            self._app = None
            self._stopping = False

    async def _bounded(self, label: str, step: Callable[[], Awaitable[None]]) -> None:
        """One shutdown step, abandoned after a while: stopping must never hang the process."""
        limit = self._timeout + 5.0
        try:
            async with asyncio.timeout(limit):
                await step()
        except TimeoutError:
            logger.warning("Telegram %s took over %.0fs; abandoned", label, limit)
        except (TelegramError, RuntimeError) as exc:
            logger.warning("Telegram %s failed: %s", label, self._redact(str(exc)))

    async def _initialized_app(self) -> _App:
        """The Application, built and initialised (getMe) on first use, started or not."""
        if self._app is not None:
            return self._app
        app = self._build_app()
        try:
            await app.initialize()
        except TelegramError as exc:
            await app.shutdown()
            raise self._translated(exc) from exc
        self._app = app
        return app

    async def _bot(self) -> ExtBot[None]:
        """A ready bot for outgoing calls, even when nobody started polling (CLI, scheduler)."""
        app = self._app
        if app is not None:
            return app.bot
        if self._stopping:
            raise TransientFailure("the Telegram channel is stopping")
        async with self._lock:
            return (await self._initialized_app()).bot

    def _build_app(self) -> _App:
        t = self._timeout

        def request(pool: int, media: float = 20.0) -> HTTPXRequest:
            """Each step of a call (connect, send, wait, pool) bounded by the timeout."""
            return HTTPXRequest(
                pool,
                read_timeout=t,
                write_timeout=t,
                connect_timeout=t,
                pool_timeout=t,
                media_write_timeout=media,
            )

        bot = PollingBot(
            self._token,
            base_url=f"{self._api_url}/bot",
            base_file_url=f"{self._api_url}/file/bot",
            request=request(256, media=t * 3),
            get_updates_request=request(1),
            read_timeout=t,  # the long-poll seconds come on top
        )
        builder = ApplicationBuilder().bot(bot).job_queue(None)  # scheduling is ours
        if self.mode is TelegramMode.WEBHOOK:
            builder = builder.updater(None)
        app = builder.build()
        app.add_handler(TypeHandler(Update, self._on_update))
        app.add_error_handler(self._on_error)
        return app

    # ----------------------------------------------------------- inbound

    async def process_webhook(self, payload: dict[str, Any]) -> HandleResult | None:
        """Handle one pushed update to the end, so the HTTP server answers 200 only after."""
        app = self._app
        if app is None or not self._started:
            raise RuntimeError("the Telegram channel is not started")
        try:
            update = Update.de_json(payload, app.bot)
        except Exception as exc:  # malformed push: a 500 would only make Telegram re-send it
            logger.warning(
                "ignoring webhook update %s: no Telegram update (%s)",
                payload.get("update_id"),
                type(exc).__name__,  # never the content: it may hold a phone number
            )
            return None
        return await self._dispatch(update)

    def secret_matches(self, header_value: str | None) -> bool:
        """Check `X-Telegram-Bot-Api-Secret-Token` in constant time."""
        if self._webhook_secret is None:
            return True
        return same_secret(header_value, self._webhook_secret)

    async def _on_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            await self._dispatch(update)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        logger.error(
            "Telegram update handling failed: %s",
            self._redact(repr(error)),
            exc_info=error if error is not None and not isinstance(error, TelegramError) else None,
        )

    async def _dispatch(self, update: Update) -> HandleResult | None:
        """Convert, hand to the sink, answer the button; a failing sink never stops polling."""
        result: HandleResult | None = None
        try:
            inbound = to_inbound(update, self.bot_username)
            if inbound is not None and self._sink is not None:
                result = await self._sink(inbound)
        except Exception:
            logger.exception("handling Telegram update %s failed", update.update_id)
        if update.callback_query is not None:
            await self._answer(update.callback_query, result)
        return result

    async def _answer(self, query: CallbackQuery, result: HandleResult | None) -> None:
        """Always answer a press, even silently: otherwise the client spins for seconds."""
        text = result.toast if result is not None else None
        alert = bool(result is not None and result.alert and text)
        try:
            async with asyncio.timeout(self._timeout * CALL_DEADLINE_FACTOR):
                await query.answer(text=text, show_alert=alert or None)
        except TelegramError as exc:
            logger.warning("answering a button press failed: %s", self._redact(exc.message))
        except TimeoutError:
            logger.warning("answering a button press took too long; abandoned")

    # ----------------------------------------------------------- outbound

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        parts = render(message, self.capabilities.max_text)
        bot = await self._bot()
        target = _chat_target(chat_id)
        ids: list[str] = []
        for part in parts:
            sent = await self._send_part(bot, target, part)
            ids.append(str(sent.message_id))
        return Sent(message_ids=tuple(ids))

    async def _send_part(self, bot: ExtBot[None], chat: int | str, part: RenderedPart) -> Message:
        reply = (
            ReplyParameters(part.reply_to, allow_sending_without_reply=True)
            if part.reply_to is not None
            else None
        )
        if part.kind is PartKind.TEXT:
            return await self._api(
                bot.send_message(
                    chat, part.text or "", reply_markup=part.keyboard, reply_parameters=reply
                )
            )
        assert part.path is not None
        path = Path(part.path)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise PermanentFailure(f"cannot read {path}: {exc.strerror}") from exc
        if part.kind is PartKind.PHOTO:
            return await self._api(
                bot.send_photo(
                    chat,
                    data,
                    caption=part.text,
                    filename=path.name,
                    reply_markup=part.keyboard,
                    reply_parameters=reply,
                )
            )
        return await self._api(
            bot.send_document(
                chat,
                data,
                caption=part.text,
                filename=path.name,
                reply_markup=part.keyboard,
                reply_parameters=reply,
            )
        )

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        """Rewrite a text message in place; an empty `buttons` removes its keyboard.

        An edit cannot grow into several messages, so an over-long text is cut short.
        """
        text = message.text
        if telegram_length(text) > self.capabilities.max_text:
            text = _hard_split(text, self.capabilities.max_text - 1)[0] + "…"
        # Leaving reply_markup out is how Telegram drops an inline keyboard on edit; an empty
        # markup cannot say it, because PTB serialises it to `{}`.
        markup = keyboard(message.buttons)
        number = whole_number(message_id)
        if number is None:
            raise MessageGone(f"{message_id!r} is no Telegram message id")
        bot = await self._bot()
        await self._api(
            bot.edit_message_text(
                text,
                chat_id=_chat_target(chat_id),
                message_id=number,
                reply_markup=markup,
            )
        )

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        """Fetch a file a person sent, refusing oversize ones before transferring a byte."""
        bot = await self._bot()
        file = await self._api(bot.get_file(file_ref))
        if file.file_size is not None and file.file_size > max_bytes:
            raise PermanentFailure(f"file is {file.file_size} bytes, over the {max_bytes} limit")
        data = bytes(await self._api(file.download_as_bytearray()))
        if len(data) > max_bytes:
            raise PermanentFailure(f"file is {len(data)} bytes, over the {max_bytes} limit")
        return data

    async def set_commands(
        self, commands: Mapping[tuple[str, str], Sequence[tuple[str, str]]]
    ) -> None:
        """Publish command menus; keys are (scope, language), language "" for the default."""
        bot = await self._bot()
        for (scope, language), entries in commands.items():
            tg_scope = (
                BotCommandScopeAllPrivateChats()
                if CommandScope(scope) is CommandScope.PRIVATE
                else BotCommandScopeAllGroupChats()
            )
            await self._api(
                bot.set_my_commands(
                    [BotCommand(name.lstrip("/"), description) for name, description in entries],
                    scope=tg_scope,
                    language_code=language or None,
                )
            )

    # ----------------------------------------------------------- helpers

    async def _api(self, call: Awaitable[_T]) -> _T:
        """One Bot API call, bounded in time; its failure as a `DeliveryError`."""
        deadline = self._timeout * CALL_DEADLINE_FACTOR
        try:
            async with asyncio.timeout(deadline):
                return await call
        except TelegramError as exc:
            raise self._translated(exc) from exc
        except TimeoutError:
            raise TransientFailure(f"no answer from Telegram within {deadline:.0f}s") from None

    def _translated(self, exc: TelegramError) -> DeliveryError:
        error = translate_error(exc)
        if self._token in str(error):
            error.args = (self._redact(str(error)),)
        return error

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>")


def _chat_target(chat_id: str) -> int | str:
    """Telegram chat ids are integers; `@channelname` stays a string."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id
