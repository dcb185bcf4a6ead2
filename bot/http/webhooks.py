"""Webhook routes on our own HTTP server: secret checked, replays dropped, processed before 200.

Telegram retries an update until it gets a 2xx, so answering only after the
update was handled (and its effects committed) means a crash loses nothing.
Zalo updates carry no update id, so a Zalo replay is recognised by its message id
(or, without a usable one, by a digest of the whole update: see `delivery_key`).

Whoever holds the secret may still send anything, so the body is strict JSON
(nesting too deep is a 400, not a crash) and Telegram's `update_id` must be what
Telegram sends, a whole number: `1.0`, `null` or a long string are refused with 400
before anything is stored, so `1` and `1.0` can never be handled as two updates.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlparse

from aiohttp import web

from bot.bootstrap import Container
from bot.channels.telegram import TelegramChannel, TelegramMode
from bot.channels.zalo import SECRET_HEADER as ZALO_SECRET_HEADER
from bot.channels.zalo import MediaLinks, ZaloChannel, ZaloMode, delivery_key, unwrap_update
from bot.http.server import BodyError, RouteInstaller, body_refused, read_json
from storage.updates import Begin, ProcessedUpdates

log = logging.getLogger(__name__)

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Telegram's update ids are positive whole numbers; these bounds keep a key short.
MAX_UPDATE_ID = 2**63 - 1
#: A claim on an update older than this is taken to be left by a crashed instance.
UPDATE_STALE_AFTER = timedelta(seconds=30)


def webhook_installers(container: Container) -> list[RouteInstaller]:
    installers: list[RouteInstaller] = []
    channel = container.channels.get("telegram")
    url = container.settings.telegram_webhook_url
    if isinstance(channel, TelegramChannel) and channel.mode is TelegramMode.WEBHOOK and url:
        installers.append(_telegram(container, channel, urlparse(url).path or "/"))
    zalo = container.channels.get("zalo")
    zalo_url = container.settings.zalo_webhook_url
    if isinstance(zalo, ZaloChannel) and zalo.mode is ZaloMode.WEBHOOK and zalo_url:
        installers.append(_zalo(container, zalo, urlparse(zalo_url).path or "/"))
        if zalo.media is not None:
            installers.append(_zalo_media(zalo.media))
    return installers


async def _once(
    container: Container,
    processed: ProcessedUpdates,
    channel: str,
    update_id: str,
    process: Callable[[], Awaitable[object]],
) -> web.StreamResponse:
    """Handle a delivered update exactly once, across retries and instances.

    The update is claimed before it is handled and marked done after, so a second
    delivery while the first runs (another instance) is turned back with 503 and
    comes again later; a failure frees the claim for the platform's next try.
    """
    begun = await processed.begin(channel, update_id, container.clock.now(), UPDATE_STALE_AFTER)
    if begun is Begin.DUPLICATE:
        return web.json_response({"ok": True, "duplicate": True})
    if begun is Begin.BUSY:
        return web.json_response({"error": "in progress"}, status=503)
    try:
        await process()
    except BaseException:
        await processed.abandon(channel, update_id)
        raise
    await processed.finish(channel, update_id, container.clock.now())
    return web.json_response({"ok": True})


def telegram_update_id(payload: object) -> str | None:
    """The update's id as stored, or None unless it is a whole number as Telegram sends it."""
    if not isinstance(payload, dict):
        return None
    value = payload.get("update_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UPDATE_ID:
        return None
    return str(value)


def _telegram(container: Container, channel: TelegramChannel, path: str) -> RouteInstaller:
    processed = ProcessedUpdates(container.engine)

    async def handle(request: web.Request) -> web.StreamResponse:
        if not channel.secret_matches(request.headers.get(TELEGRAM_SECRET_HEADER)):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            payload = await read_json(request)
        except BodyError as e:
            return body_refused(e)
        update_id = telegram_update_id(payload)
        if update_id is None:
            return web.json_response({"error": "bad update"}, status=400)
        return await _once(
            container, processed, "telegram", update_id, lambda: channel.process_webhook(payload)
        )

    def install(app: web.Application) -> None:
        app.router.add_post(path, handle)

    return install


def _zalo(container: Container, channel: ZaloChannel, path: str) -> RouteInstaller:
    processed = ProcessedUpdates(container.engine)

    async def handle(request: web.Request) -> web.StreamResponse:
        if not channel.secret_matches(request.headers.get(ZALO_SECRET_HEADER)):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            payload = await read_json(request)
        except BodyError as e:
            return body_refused(e)
        update = unwrap_update(payload) if isinstance(payload, dict) else None
        if update is None:
            return web.json_response({"error": "bad update"}, status=400)
        if not channel.running:  # starting or stopping: not handled, so not acknowledged
            return web.json_response({"error": "not ready"}, status=503)
        key = delivery_key(update)  # without a message id too: a replay is handled once
        return await _once(
            container, processed, "zalo", key, lambda: channel.process_webhook(update)
        )

    def install(app: web.Application) -> None:
        app.router.add_post(path, handle)

    return install


def _zalo_media(media: MediaLinks) -> RouteInstaller:
    """Photos the bot sends on Zalo: sendPhoto takes a URL, so Zalo fetches them from us."""

    async def serve(request: web.Request) -> web.StreamResponse:
        found = media.resolve(request.match_info["token"])
        if found is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.FileResponse(found)

    def install(app: web.Application) -> None:
        app.router.add_get(media.route_path, serve)

    return install
