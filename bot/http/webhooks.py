"""Webhook routes on our own HTTP server: secret checked, replays dropped, processed before 200.

Each channel says which routes it needs (`Channel.routes`): a webhook route names its
secret header, how its updates are known again and how they are handled; a file route
names the files the platform may fetch from us. This module serves them the same way for
every channel.

The platforms retry an update until they get a 2xx, so answering only after the update
was handled (and its effects committed) means a crash loses nothing. Whoever holds the
secret may still send anything, so the body is strict JSON (nesting too deep is a 400,
not a crash) and the channel refuses what is no update of its platform with 400 before
anything is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from bot.bootstrap import Container
from bot.channels.routes import FileRoute, Refused, Route, WebhookRoute
from bot.http.server import BodyError, RouteInstaller, body_refused, read_json
from bot.services.update_mark import UpdateTaken, marking
from storage.updates import ProcessedUpdates, Seen

log = logging.getLogger(__name__)

#: An older version's claim on an update older than this was left by a crashed instance.
UPDATE_STALE_AFTER = timedelta(seconds=30)
#: The answer to each refusal: 400 tells the platform to stop, 503 to send it again.
REFUSAL_STATUS: dict[Refused, int] = {Refused.BAD_UPDATE: 400, Refused.NOT_READY: 503}


def webhook_installers(container: Container) -> list[RouteInstaller]:
    """The routes every configured channel asks for."""
    return [
        _installer(container, name, route)
        for name, channel in container.channels.items()
        for route in channel.routes()
    ]


def _installer(container: Container, channel: str, route: Route) -> RouteInstaller:
    if isinstance(route, FileRoute):
        return _files(route)
    return _webhook(container, channel, route)


async def _once(
    container: Container,
    processed: ProcessedUpdates,
    channel: str,
    update_id: str,
    process: Callable[[], Awaitable[object]],
) -> web.StreamResponse:
    """Handle a delivered update exactly once, across retries and instances.

    The update is recorded as handled by the first commit of its handling, in that same
    transaction (bot/services/update_mark.py), or after it when it committed nothing. A
    delivery that finds it recorded was second: its own handling stopped at its first
    unit of work, wrote nothing, and is answered as a duplicate. A failure that reaches
    here (the handlers answer their own) records nothing unless a commit of the update
    came before it, and the server answers it non-2xx, so the platform tries again.
    """
    if processed.known(channel, update_id):
        return _duplicate()
    with marking(channel, update_id) as mark:
        try:
            await process()
        except UpdateTaken:
            return await _second(container, processed, channel, update_id)
    if mark.written:
        processed.remember(channel, update_id)
    elif not await processed.record(channel, update_id, container.clock.now()):
        return await _second(container, processed, channel, update_id)
    return web.json_response({"ok": True})


def _duplicate() -> web.StreamResponse:
    return web.json_response({"ok": True, "duplicate": True})


async def _second(
    container: Container, processed: ProcessedUpdates, channel: str, update_id: str
) -> web.StreamResponse:
    """The answer to a delivery that found its update recorded by another."""
    seen = await processed.seen(channel, update_id, container.clock.now(), UPDATE_STALE_AFTER)
    if seen is Seen.DUPLICATE:
        return _duplicate()
    return web.json_response({"error": "in progress"}, status=503)


def _webhook(container: Container, channel: str, route: WebhookRoute) -> RouteInstaller:
    processed = ProcessedUpdates(container.engine)

    async def handle(request: web.Request) -> web.StreamResponse:
        if not route.secret_matches(request.headers.get(route.secret_header)):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            payload = await read_json(request)
        except BodyError as refusal:
            return body_refused(refusal)
        verdict = route.accept(payload)
        if isinstance(verdict, Refused):
            return web.json_response({"error": verdict.value}, status=REFUSAL_STATUS[verdict])
        return await _once(container, processed, channel, verdict.key, verdict.handle)

    def install(app: web.Application) -> None:
        app.router.add_post(route.path, handle)

    return install


def _files(route: FileRoute) -> RouteInstaller:
    """Files a platform fetches from us (Zalo's sendPhoto takes a URL, not the bytes)."""

    async def serve(request: web.Request) -> web.StreamResponse:
        found = route.resolve(request.match_info["token"])
        if found is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.FileResponse(found)

    def install(app: web.Application) -> None:
        app.router.add_get(route.path, serve)

    return install
