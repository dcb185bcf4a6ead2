"""Talking to the Telegram Bot API through python-telegram-bot: calls, timeouts, errors.

Every call is bounded in time and every refusal becomes a `DeliveryError` saying what to
do about it, with the token never in its text. PTB's exceptions are read here and
nowhere else, which is where a new refusal of Telegram's gets its meaning.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.error import ChatMigrated, TelegramError
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.adapter import PartKind, redact
from bot.channels.base import (
    ChatKind,
    CommandMenus,
    DeliveryError,
    PermanentFailure,
    TransientFailure,
)
from bot.channels.late import waited
from bot.channels.refusals import ChatMoved, as_error
from bot.channels.telegram.inbound import read_update
from bot.channels.telegram.render import RenderedEdit, RenderedPart
from bot.channels.telegram.wire import AiohttpRequest, refusal_of
from bot.channels.telegram.wire import retry_after_seconds as retry_after_seconds
from bot.channels.unreadable import LogEvery, UnreadableUpdates

# One logger for the whole adapter, named after its package.
logger = logging.getLogger(__package__ or __name__)

#: A call's whole life (connect, upload, answer) is capped at this many request timeouts:
#: PTB's timeouts bound each phase, not a server that trickles its answer byte by byte.
CALL_DEADLINE_FACTOR: Final = 5
Result = TypeVar("Result")


def translate_error(exc: TelegramError) -> DeliveryError:
    """Map a PTB exception to what the caller should do about it (retry, drop, re-post,
    pause the channel): the one table of `bot.channels.refusals` decides."""
    return as_error(refusal_of(exc))


def chat_target(chat_id: str) -> int | str:
    """Telegram chat ids are integers; `@channelname` stays a string."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


class TelegramApi:
    """The Bot API for one token: the PTB bot built to our timeouts, and the calls made
    with it, each bounded in time, each failure a `DeliveryError` without the token."""

    def __init__(self, token: str, api_url: str, timeout: float) -> None:
        self.token = token
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def new_bot(self) -> PollingBot:
        seconds = self.timeout

        def request(pool: int, media: float = 20.0) -> AiohttpRequest:
            """Each step of a call (connect, send, wait, pool) bounded by the timeout."""
            return AiohttpRequest(
                pool,
                read_timeout=seconds,
                write_timeout=seconds,
                connect_timeout=seconds,
                pool_timeout=seconds,
                media_write_timeout=media,
            )

        return PollingBot(
            self.token,
            base_url=f"{self.api_url}/bot",
            base_file_url=f"{self.api_url}/file/bot",
            request=request(256, media=seconds * 3),
            get_updates_request=request(1),
            read_timeout=seconds,  # the long-poll seconds come on top
        )

    async def call(self, call: Awaitable[Result]) -> Result:
        """One Bot API call, bounded in time; its failure as a `DeliveryError`."""
        deadline = self.timeout * CALL_DEADLINE_FACTOR
        try:
            async with asyncio.timeout(deadline):
                return await call
        except TelegramError as exc:
            raise self.translated(exc) from exc
        except TimeoutError:
            raise TransientFailure(f"no answer from Telegram within {deadline:.0f}s") from None

    def translated(self, exc: TelegramError) -> DeliveryError:
        error = translate_error(exc)
        if self.token in str(error):
            error.args = (self.redact(str(error)),)
        return error

    def redact(self, text: str) -> str:
        return redact(text, self.token)

    @staticmethod
    async def post(
        bot: Bot,
        method: str,
        params: Mapping[str, object],
        *,
        read_timeout: float | None = None,
    ) -> Any:
        """A Bot API method's answer as Telegram gave it (a dict, or True), with none of
        PTB's objects made from it.

        For the calls made per update and per message: the relay wants a message id, and a
        PTB `Message` made from every sendMessage and editMessageText answer was most of
        PTB's share of the bot's time (docs/performance.md). The parameters go out exactly
        as PTB's methods send them (`form_of`), through PTB's own request (`BaseRequest.post`,
        as its `Bot._do_post` calls it), so the request, its timeouts and its errors are
        PTB's as before. Parameters `form_of` does not know go through PTB's `_post`.
        """
        timeout = BaseRequest.DEFAULT_NONE if read_timeout is None else read_timeout
        fields = form_of(params) if _plain(bot) else None
        if fields is None:
            return await bot._post(method, dict(params), read_timeout=timeout)
        return await bot.request.post(
            f"{bot.base_url}/{method}", form(fields), read_timeout=timeout
        )

    async def send(self, bot: ExtBot[None], chat_id: str, part: RenderedPart) -> int:
        """Send one part; the id of the message it made."""
        chat = chat_target(chat_id)
        reply = (
            ReplyParameters(part.reply_to, allow_sending_without_reply=True)
            if part.reply_to is not None
            else None
        )
        if part.kind is PartKind.TEXT:  # an answer past the wait is still listened for
            late = self.timeout * CALL_DEADLINE_FACTOR
            params = {
                "chat_id": chat,
                "text": part.text or "",
                "reply_markup": part.keyboard,
                "reply_parameters": reply,
            }
            return await waited(
                self.call(sent_id(self.post(bot, "sendMessage", params, read_timeout=late))),
                self.timeout,
                f"no answer from Telegram within {self.timeout:g}s; it may still post it",
                lambda number: (str(number),),
            )
        assert part.path is not None
        path = Path(part.path)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise PermanentFailure(f"cannot read {path}: {exc.strerror}") from exc
        send_file = bot.send_photo if part.kind is PartKind.PHOTO else bot.send_document
        sent = await self.call(
            send_file(
                chat,
                data,
                caption=part.text,
                filename=path.name,
                reply_markup=part.keyboard,
                reply_parameters=reply,
            )
        )
        return sent.message_id

    async def edit(
        self, bot: ExtBot[None], chat_id: str, message_id: int, edit: RenderedEdit
    ) -> None:
        params = {
            "chat_id": chat_target(chat_id),
            "message_id": message_id,
            "text": edit.text,
            "reply_markup": edit.keyboard,
        }
        await self.call(self.post(bot, "editMessageText", params))

    async def answer(self, bot: Bot, query_id: str, text: str | None, alert: bool) -> None:
        """answerCallbackQuery: the toast (or popup) a press gets; PTB's error if refused."""
        params = {"callback_query_id": query_id, "text": text, "show_alert": alert or None}
        await self.post(bot, "answerCallbackQuery", params)

    async def download(self, bot: ExtBot[None], file_ref: str, max_bytes: int) -> bytes:
        """Fetch a file a person sent, refusing oversize ones before transferring a byte."""
        file = await self.call(bot.get_file(file_ref))
        if file.file_size is not None and file.file_size > max_bytes:
            raise PermanentFailure(f"file is {file.file_size} bytes, over the {max_bytes} limit")
        data = bytes(await self.call(file.download_as_bytearray()))
        if len(data) > max_bytes:
            raise PermanentFailure(f"file is {len(data)} bytes, over the {max_bytes} limit")
        return data

    async def set_commands(self, bot: ExtBot[None], menus: CommandMenus) -> None:
        """setMyCommands per menu: private chats and groups each have their own scope."""
        for (scope, language), entries in menus.items():
            chats = (
                BotCommandScopeAllPrivateChats()
                if ChatKind(scope) is ChatKind.PRIVATE
                else BotCommandScopeAllGroupChats()
            )
            await self.call(
                bot.set_my_commands(
                    [BotCommand(name.lstrip("/"), description) for name, description in entries],
                    scope=chats,
                    language_code=language or None,
                )
            )

    # ------------------------------------------------------------------ reads (doctor)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[ExtBot[None]]:
        """A bot for a few reads while no channel runs (`dispatchbot doctor`), closed after.

        Not initialised: PTB's initialize would wrap a refused token in its own words.
        """
        bot = self.new_bot()
        try:
            yield bot
        finally:
            await bot.request.shutdown()  # the connection pool the reads used

    async def get_me(self, bot: ExtBot[None]) -> dict[str, Any]:
        """getMe, as the Bot API answers it (`can_read_all_group_messages` and all)."""
        return (await self.call(bot.get_me())).to_dict()

    async def get_chat(self, bot: ExtBot[None], chat_id: str) -> dict[str, Any]:
        """getChat: the chat as the bot may read it (its type, title, permissions)."""
        return (await self.call(bot.get_chat(chat_target(chat_id)))).to_dict()

    async def get_chat_member(
        self, bot: ExtBot[None], chat_id: str, user_id: int
    ) -> dict[str, Any]:
        """getChatMember: a member's status (and, for an administrator, its rights).

        On a basic group that became a supergroup, asking about anyone but the bot itself
        is refused with the new id (`ChatUpgraded`): that is how a reader learns of it.
        """
        try:
            member = await self.call(bot.get_chat_member(chat_target(chat_id), user_id))
        except DeliveryError as exc:
            cause = exc.__cause__  # read from PTB's own error, whatever it was mapped to
            if isinstance(cause, ChatMigrated):
                raise ChatUpgraded(str(cause.new_chat_id), str(exc)) from cause
            raise
        return member.to_dict()

    async def get_webhook_info(self, bot: ExtBot[None]) -> dict[str, Any]:
        """getWebhookInfo: the registered URL, the last delivery error, updates waiting."""
        return (await self.call(bot.get_webhook_info())).to_dict()


async def sent_id(answer: Awaitable[Any]) -> int:
    """The id of the message a send made, from Telegram's answer; an answer without one is
    a refusal like any other (PTB's `Message` would not have been made from it either)."""
    found = await answer
    number = found.get("message_id") if isinstance(found, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise TelegramError(f"Telegram's answer has no message id: {type(found).__name__}")
    return number


#: The PTB objects the bot's own calls pass (keyboards, a reply): each goes out as its
#: `to_dict()` in JSON, as PTB sends it; none of them carries a file or a date.
PLAIN_OBJECTS: Final = (
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)


def form_of(params: Mapping[str, object]) -> dict[str, str] | None:
    """The fields PTB's `Bot._post` would send for `params` (its `RequestParameter.json_value`):
    None left out, a string as it is, a number, a flag or a `PLAIN_OBJECTS` one in JSON;
    None when some value is of another kind (a file, a date, a list: PTB's own path).

    Why: PTB's parameter objects (`RequestParameter.from_input`, its checks for files and
    dates) cost about a fifth of each sendMessage's CPU in this process (docs/performance.md).
    """
    fields: dict[str, str] = {}
    for name, value in params.items():
        kind = type(value)
        if value is None:
            continue
        if kind is str:
            fields[name] = value  # type: ignore[assignment]
        elif kind is int or kind is bool or kind is float:
            fields[name] = json.dumps(value)
        elif kind in PLAIN_OBJECTS:
            fields[name] = json.dumps(value.to_dict())  # type: ignore[attr-defined]
        else:
            return None
    return fields


def form(fields: Mapping[str, str]) -> RequestData:
    """A request's `fields` (as `form_of` gives them), each a string PTB sends as it is."""
    return RequestData([RequestParameter(name, value, None) for name, value in fields.items()])


def _plain(bot: Bot) -> bool:
    """A bot whose `_post` adds nothing to the fields: PTB's `ExtBot` may insert its
    `Defaults` and pass the call through a rate limiter (ours have neither)."""
    return not isinstance(bot, ExtBot) or (bot.defaults is None and bot.rate_limiter is None)


class ChatUpgraded(ChatMoved):
    """A basic group became a supergroup: its old id is dead, `new_chat_id` is the chat."""


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
    update arrives. Here the answer is fetched as JSON and each update read on its own
    (`read_update`, into a `TelegramUpdate`, not PTB's objects): those before the bad
    one are handed on, the bad one is retried with a growing pause (`UnreadableUpdates`)
    and then confirmed to Telegram with the next call's `offset`, which is how Telegram
    lets a bot drop an update. Nothing of its content is logged.
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
                update = read_update(item)
            except Exception as exc:
                if updates:  # hand on what came before; the bad one is first next time
                    break
                if not await self._unreadable_update(item, exc):
                    return ()
                continue
            self.unreadable.read()
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
