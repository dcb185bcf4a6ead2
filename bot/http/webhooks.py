"""Webhook routes on our own HTTP server: secret checked, replays dropped, processed before 200.

Telegram retries an update until it gets a 2xx, so answering only after the
update was handled (and its effects committed) means a crash loses nothing.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlparse

from aiohttp import web

from bot.bootstrap import Container
from bot.channels.telegram import TelegramChannel, TelegramMode
from bot.http.server import MAX_BODY, BodyTooLarge, RouteInstaller, read_body
from storage.updates import ProcessedUpdates

log = logging.getLogger(__name__)

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_installers(container: Container) -> list[RouteInstaller]:
    installers: list[RouteInstaller] = []
    channel = container.channels.get("telegram")
    url = container.settings.telegram_webhook_url
    if isinstance(channel, TelegramChannel) and channel.mode is TelegramMode.WEBHOOK and url:
        installers.append(_telegram(container, channel, urlparse(url).path or "/"))
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
        if await processed.seen("telegram", update_id):
            return web.json_response({"ok": True, "duplicate": True})
        await channel.process_webhook(payload)
        await processed.mark("telegram", update_id, container.clock.now())
        return web.json_response({"ok": True})

    def install(app: web.Application) -> None:
        app.router.add_post(path, handle)

    return install
