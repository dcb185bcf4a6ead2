"""Webhook routes on our own HTTP server: secret checked, replays dropped, processed before 200.

Telegram retries an update until it gets a 2xx, so answering only after the
update was handled (and its effects committed) means a crash loses nothing.
Zalo updates carry no update id, so a Zalo replay is recognised by its message id.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import urlparse

from aiohttp import web

from bot.bootstrap import Container
from bot.channels.telegram import TelegramChannel, TelegramMode
from bot.channels.zalo import SECRET_HEADER as ZALO_SECRET_HEADER
from bot.channels.zalo import MediaLinks, ZaloChannel, ZaloMode, message_id_of, unwrap_update
from bot.http.server import MAX_BODY, BodyTooLarge, RouteInstaller, read_body
from storage.updates import Begin, ProcessedUpdates

log = logging.getLogger(__name__)

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
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


def _telegram(container: Container, channel: TelegramChannel, path: str) -> RouteInstaller:
    processed = ProcessedUpdates(container.engine)

    async def handle(request: web.Request) -> web.StreamResponse:
        if not channel.secret_matches(request.headers.get(TELEGRAM_SECRET_HEADER)):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            payload = json.loads(await read_body(request, MAX_BODY))
        except (ValueError, BodyTooLarge):
            return web.json_response({"error": "bad update"}, status=400)
        if not isinstance(payload, dict) or "update_id" not in payload:
            return web.json_response({"error": "bad update"}, status=400)
        update_id = str(payload["update_id"])
        now = container.clock.now()
        begun = await processed.begin("telegram", update_id, now, UPDATE_STALE_AFTER)
        if begun is Begin.DUPLICATE:
            return web.json_response({"ok": True, "duplicate": True})
        if begun is Begin.BUSY:  # another instance is on it; Telegram retries later
            return web.json_response({"error": "in progress"}, status=503)
        try:
            await channel.process_webhook(payload)
        except BaseException:
            await processed.abandon("telegram", update_id)
            raise
        await processed.finish("telegram", update_id, container.clock.now())
        return web.json_response({"ok": True})

    def install(app: web.Application) -> None:
        app.router.add_post(path, handle)

    return install


def _zalo(container: Container, channel: ZaloChannel, path: str) -> RouteInstaller:
    processed = ProcessedUpdates(container.engine)

    async def handle(request: web.Request) -> web.StreamResponse:
        if not channel.secret_matches(request.headers.get(ZALO_SECRET_HEADER)):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            payload = json.loads(await read_body(request, MAX_BODY))
        except (ValueError, BodyTooLarge):
            return web.json_response({"error": "bad update"}, status=400)
        update = unwrap_update(payload) if isinstance(payload, dict) else None
        if update is None:
            return web.json_response({"error": "bad update"}, status=400)
        if not channel.running:  # starting or stopping: not handled, so not acknowledged
            return web.json_response({"error": "not ready"}, status=503)
        message_id = message_id_of(update)
        if message_id is not None and await processed.seen("zalo", message_id):
            return web.json_response({"ok": True, "duplicate": True})
        await channel.process_webhook(update)
        if message_id is not None:
            await processed.mark("zalo", message_id, container.clock.now())
        return web.json_response({"ok": True})

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
