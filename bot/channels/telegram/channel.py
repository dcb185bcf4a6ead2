"""`TelegramChannel`: the `Channel` for Telegram, thin, like the Zalo one beside it.

The PTB `Application` runs inside our own event loop: polling through its `Updater`, or
(webhook mode) fed by our HTTP server through the route the channel offers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeAlias
from urllib.parse import urlparse

from telegram import Bot
from telegram.constants import UpdateType
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot, TypeHandler

from bot.channels.adapter import check_settings, hand_on, secret_matches
from bot.channels.base import (
    ChatMovedSink,
    CommandMenus,
    HandleResult,
    InboundSink,
    MessageGone,
    Outbound,
    Sent,
    TransientFailure,
    UpdateMode,
)
from bot.channels.lanes import ChatLanes
from bot.channels.late import LateAnswer, then
from bot.channels.routes import Accepted, Refused, Route, WebhookRoute
from bot.channels.telegram.api import CALL_DEADLINE_FACTOR, PollingBot, TelegramApi
from bot.channels.telegram.inbound import (
    CHANNEL_NAME,
    SECRET_HEADER,
    TelegramUpdate,
    chat_move_of,
    read_update,
    to_inbound,
    update_id_of,
)
from bot.channels.telegram.render import CAPABILITIES, render, render_edit
from bot.domain.digits import whole_number

# One logger for the whole adapter, named after its package.
logger = logging.getLogger(__package__ or __name__)

#: Seconds a getUpdates call may wait on the server for new updates.
LONG_POLL_SECONDS: Final = 10
#: Only what the bot acts on.  Edited messages are left out on purpose: an `Inbound` cannot
#: say "edited", and re-running an edited `/claim` as a new command would surprise people.
ALLOWED_UPDATES: Final = (UpdateType.MESSAGE, UpdateType.CALLBACK_QUERY)

_App: TypeAlias = Application[
    PollingBot,
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    None,
]


class TelegramChannel:
    """`Channel` for Telegram: updates in as `Inbound`, `Outbound` out as Bot API calls."""

    name = CHANNEL_NAME
    capabilities = CAPABILITIES

    def __init__(
        self,
        token: str,
        api_url: str = "https://api.telegram.org",
        *,
        mode: UpdateMode = UpdateMode.POLLING,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        request_timeout: float = 20.0,
    ) -> None:
        mode = UpdateMode(mode)
        check_settings("Telegram", token, mode, webhook_url)
        self._api = TelegramApi(token, api_url, request_timeout)
        self.mode = mode
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self._timeout = request_timeout
        self._app: _App | None = None
        self._sink: InboundSink | None = None
        #: Told when a group moves to a new id (upgraded to a supergroup): bot.chat_moves.
        self.chat_moved: ChatMovedSink | None = None
        self._started = False
        self._stopping = False
        self._lock = asyncio.Lock()
        #: Polled updates of different chats run side by side, one chat's in order.
        self._lanes = ChatLanes()

    def __repr__(self) -> str:  # never the token
        return f"TelegramChannel(api_url={self._api.api_url!r}, mode={self.mode.value})"

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
                if self.mode is UpdateMode.POLLING:
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
                raise self._api.translated(exc) from exc
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
            if not await self._lanes.drain(self._timeout + 5.0):
                logger.warning("Telegram updates still in hand at stop: %d", self._lanes.busy)
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
            logger.warning("Telegram %s failed: %s", label, self._api.redact(str(exc)))

    async def _initialized_app(self) -> _App:
        """The Application, built and initialised (getMe) on first use, started or not."""
        if self._app is not None:
            return self._app
        app = self._build_app()
        try:
            await app.initialize()
        except TelegramError as exc:
            await app.shutdown()
            raise self._api.translated(exc) from exc
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
        builder = ApplicationBuilder().bot(self._api.new_bot()).job_queue(None)  # ours
        if self.mode is UpdateMode.WEBHOOK:
            builder = builder.updater(None)
        app = builder.build()
        app.add_handler(TypeHandler(TelegramUpdate, self._on_update))
        app.add_error_handler(self._on_error)
        return app

    # ----------------------------------------------------------- inbound

    def routes(self) -> Sequence[Route]:
        """In webhook mode, the path of the webhook URL, where Telegram pushes updates."""
        if self.mode is not UpdateMode.WEBHOOK or not self._webhook_url:
            return ()
        path = urlparse(self._webhook_url).path or "/"
        return (WebhookRoute(path, SECRET_HEADER, self.secret_matches, self._accept),)

    def _accept(self, payload: object) -> Accepted | Refused:
        update_id = update_id_of(payload)
        if update_id is None or not isinstance(payload, dict):
            return Refused.BAD_UPDATE
        return Accepted(update_id, lambda: self.process_webhook(payload))

    async def process_webhook(self, payload: dict[str, Any]) -> HandleResult | None:
        """Handle one pushed update to the end, so the HTTP server answers 200 only after."""
        app = self._app
        if app is None or not self._started:
            raise RuntimeError("the Telegram channel is not started")
        try:
            update = read_update(payload)
        except Exception as exc:  # malformed push: a 500 would only make Telegram re-send it
            logger.warning(
                "ignoring webhook update %s: no Telegram update (%s)",
                payload.get("update_id"),
                type(exc).__name__,  # never the content: it may hold a phone number
            )
            return None
        return await self._dispatch(update, app.bot)

    def secret_matches(self, header_value: str | None) -> bool:
        """Check `X-Telegram-Bot-Api-Secret-Token` in constant time."""
        return secret_matches(self._webhook_secret, header_value, when_unset=True)

    async def _on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A polled update, queued in its chat's lane (PTB hands them on in order)."""
        if isinstance(update, TelegramUpdate):
            bot = context.bot
            await self._lanes.submit(update.lane, lambda: self._dispatch(update, bot, polled=True))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        logger.error(
            "Telegram update handling failed: %s",
            self._api.redact(repr(error)),
            exc_info=error if error is not None and not isinstance(error, TelegramError) else None,
        )

    async def _dispatch(
        self, update: TelegramUpdate, bot: Bot, *, polled: bool = False
    ) -> HandleResult | None:
        """Convert, hand to the sink, answer the button; a failing sink never stops polling.

        A polled press is answered beside its chat's lane: the chat's next update need not
        wait for the answer's round trip (a pushed one is answered before the 200)."""
        moved = chat_move_of(update)
        if moved is not None and self.chat_moved is not None:
            try:
                await self.chat_moved(self.name, *moved)
            except Exception:
                logger.exception("following the group %s to its new id failed", moved[0])
        result = await hand_on(
            self._sink,
            lambda: to_inbound(update, self.bot_username),
            logger,
            f"Telegram update {update.update_id}",
        )
        if update.press_id is not None:
            answer = self._answer(bot, update.press_id, result)
            if polled:
                self._lanes.beside(answer)
            else:
                await answer
        return result

    async def _answer(self, bot: Bot, press_id: str, result: HandleResult | None) -> None:
        """Always answer a press, even silently: otherwise the client spins for seconds."""
        text = result.toast if result is not None else None
        alert = bool(result is not None and result.alert and text)
        try:
            async with asyncio.timeout(self._timeout * CALL_DEADLINE_FACTOR):
                await self._api.answer(bot, press_id, text, alert)
        except TelegramError as exc:
            logger.warning("answering a button press failed: %s", self._api.redact(exc.message))
        except TimeoutError:
            logger.warning("answering a button press took too long; abandoned")

    # ----------------------------------------------------------- outbound

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        parts = render(message, self.capabilities)
        bot = await self._bot()
        ids: list[str] = []
        for part in parts:
            try:
                sent = await self._api.send(bot, chat_id, part)
            except LateAnswer as e:  # what went before comes with the late part's id
                if not ids:
                    raise
                late = then(e.late, functools.partial(_after, tuple(ids)))
                raise LateAnswer(str(e), late) from e
            ids.append(str(sent))
        return Sent(message_ids=tuple(ids))

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        """Rewrite a text message in place; an empty `buttons` removes its keyboard."""
        edit = render_edit(message, self.capabilities)
        number = whole_number(message_id)
        if number is None:
            raise MessageGone(f"{message_id!r} is no Telegram message id")
        await self._api.edit(await self._bot(), chat_id, number, edit)

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        """Fetch a file a person sent, refusing oversize ones before transferring a byte."""
        return await self._api.download(await self._bot(), file_ref, max_bytes)

    async def probe(self) -> None:
        """getMe on a bot of its own (started or not): `TokenRefused` while refused."""
        async with self._api.reader() as bot:
            await self._api.get_me(bot)

    async def set_commands(self, menus: CommandMenus) -> None:
        """Publish command menus; keys are (scope, language), language "" for the default."""
        await self._api.set_commands(await self._bot(), menus)


def _after(before: tuple[str, ...], sent: Sent) -> Sent:
    """A late part's ids after those of the parts sent before it."""
    return Sent(before + sent.message_ids)
