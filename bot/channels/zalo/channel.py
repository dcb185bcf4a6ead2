"""`ZaloChannel`: the `Channel` for the Zalo Bot Platform, thin, like the Telegram one.

Zalo's Bot API is shaped like Telegram's (`{root}/bot{token}/{method}`, `{"ok", "result"}`
answers) but does less, and some things differently, so nothing is borrowed from Telegram:
one update per `getUpdates` call, no offsets, and an idle long poll ends in HTTP 408; a
webhook is checked with the `X-Bot-Api-Secret-Token` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from bot.channels.adapter import check_settings, hand_on, secret_matches
from bot.channels.base import (
    CommandMenus,
    HandleResult,
    InboundSink,
    Outbound,
    PermanentFailure,
    RetryLater,
    Sent,
    TransientFailure,
    UpdateMode,
)
from bot.channels.routes import Accepted, FileRoute, Refused, Route, WebhookRoute
from bot.channels.unreadable import LogEvery
from bot.channels.zalo.api import ZaloApi, ZaloApiError, translate_error
from bot.channels.zalo.inbound import (
    CHANNEL_NAME,
    SECRET_HEADER,
    RecentIds,
    delivery_key,
    to_inbound,
    unwrap_update,
)
from bot.channels.zalo.render import CAPABILITIES, MediaLinks, ZaloPart, ZaloRenderer, media_base
from bot.i18n import Lang, Translator

# One logger for the whole adapter, named after its package.
logger = logging.getLogger(__package__ or __name__)

#: Seconds a getUpdates call may wait on the server; the docs' default is 30.
LONG_POLL_SECONDS: Final = 30
#: setWebhook refuses secrets outside 8..256 characters.
SECRET_LENGTHS: Final = range(8, 257)
MAX_POLL_BACKOFF: Final = 60.0


class ZaloChannel:
    """`Channel` for the Zalo Bot Platform, thin like the Telegram one."""

    name = CHANNEL_NAME
    capabilities = CAPABILITIES

    def __init__(
        self,
        token: str,
        api_url: str = "https://bot-api.zaloplatforms.com",
        *,
        mode: UpdateMode = UpdateMode.POLLING,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        translator: Translator | None = None,
        language: Lang = Lang.VI,
        bot_names: Iterable[str] = (),
        poll_timeout: int = LONG_POLL_SECONDS,
        request_timeout: float = 20.0,
        media_root: Path | None = None,
    ) -> None:
        mode = UpdateMode(mode)
        check_settings("Zalo", token, mode, webhook_url)
        if mode is UpdateMode.WEBHOOK and (
            webhook_secret is None or len(webhook_secret) not in SECRET_LENGTHS
        ):
            raise ValueError("webhook mode needs a secret of 8 to 256 characters")
        self.mode = mode
        self._api = ZaloApi(token, api_url, timeout=request_timeout)
        self._api_url = api_url.rstrip("/")
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self.media = (
            MediaLinks(media_base(webhook_url), webhook_secret, media_root)
            if mode is UpdateMode.WEBHOOK and webhook_url and webhook_secret
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

    @property
    def bot_username(self) -> None:
        """Zalo has no @usernames to address commands to; mentions are stripped on the way in."""
        return None

    # ----------------------------------------------------------- lifecycle

    async def start(self, sink: InboundSink) -> None:
        async with self._lock:
            if self._started:
                raise RuntimeError("the Zalo channel is already started")
            self._api.open()
            try:
                await self._introduce()
                if self.mode is UpdateMode.POLLING:
                    await self._drop_webhook()
                else:
                    await self._api.request(
                        "setWebhook",
                        {"url": self._webhook_url, "secret_token": self._webhook_secret},
                    )
            except BaseException:
                await self._api.close()
                raise
            self._sink = sink
            self._stopping = asyncio.Event()
            self._started = True
            if self.mode is UpdateMode.POLLING:
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
        me = await self._api.request("getMe")
        if isinstance(me, Mapping):
            self.bot_id = str(me.get("id")) if me.get("id") is not None else None
            for key in ("display_name", "name", "account_name"):
                value = me.get(key)
                if isinstance(value, str) and value.strip():
                    self.bot_names.add(value.strip())

    async def _drop_webhook(self) -> None:
        """getUpdates does not work while a webhook is set, so polling removes it first."""
        try:
            await self._api.request("deleteWebhook")
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

    def routes(self) -> Sequence[Route]:
        """In webhook mode: the webhook's path, and next to it the photos Zalo fetches."""
        if self.mode is not UpdateMode.WEBHOOK or not self._webhook_url:
            return ()
        path = urlparse(self._webhook_url).path or "/"
        routes: list[Route] = [WebhookRoute(path, SECRET_HEADER, self.secret_matches, self._accept)]
        if self.media is not None:
            routes.append(FileRoute(self.media.route_path, self.media.resolve))
        return routes

    def _accept(self, payload: object) -> Accepted | Refused:
        update = unwrap_update(payload) if isinstance(payload, Mapping) else None
        if update is None:
            return Refused.BAD_UPDATE
        if not self.running:  # starting or stopping: not handled, so not acknowledged
            return Refused.NOT_READY
        # Without a message id too: a replay is known by a digest and handled once.
        return Accepted(delivery_key(update), lambda: self.process_webhook(update))

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
        return secret_matches(self._webhook_secret, header_value, when_unset=False)

    async def _dispatch(self, update: Mapping[str, Any]) -> HandleResult | None:
        """Drop a repeat, convert, hand to the sink; a failing sink never stops polling."""
        key = delivery_key(update)
        if not self._recent.first_time(key):
            logger.info("Zalo update %s delivered again; handled once already", key)
            return None
        return await hand_on(
            self._sink, lambda: to_inbound(update, self.bot_names), logger, f"Zalo update {key}"
        )

    # ----------------------------------------------------------- outbound

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        return await self._send_parts(chat_id, self.renderer.render(message))

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        """Zalo cannot edit: say what changed in a short new message instead."""
        await self._send_parts(chat_id, self.renderer.render_update(message))

    async def _send_parts(self, chat_id: str, parts: list[ZaloPart]) -> Sent:
        ids = [await self._api.send(chat_id, part) for part in parts]
        return Sent(message_ids=tuple(i for i in ids if i is not None))

    async def probe(self) -> None:
        """getMe: `TokenRefused` while Zalo refuses the token (started or not)."""
        await self._api.request("getMe")

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        """Fetch a photo a person sent: `file_ref` is the URL Zalo gave in the update."""
        return await self._api.fetch(file_ref, max_bytes)

    async def set_commands(self, menus: CommandMenus) -> None:
        """Zalo shows no command menus: there is nothing to publish."""
