"""The HTTP server serves the routes each channel offers, whatever the channel: it knows
no platform, only `WebhookRoute` and `FileRoute` (`Channel.routes`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.bootstrap import Container, bootstrap
from bot.channels.base import Capabilities
from bot.channels.routes import Accepted, FileRoute, Refused, Route, WebhookRoute
from bot.domain.clock import FixedClock
from bot.http import start_http, stop_http
from bot.http.webhooks import webhook_installers
from tests.conftest import make_settings
from tests.pushed import PushOnly

SECRET = "s3cret-for-pushes"
CAPABILITIES = Capabilities(buttons=False, edits=False, max_text=100)


@dataclass
class PushingChannel(PushOnly):
    """A platform of our own making: pushes `{"id": n, "text": ...}` with a secret header,
    and fetches files from us by token."""

    files: dict[str, Path]
    name: str = "pusher"
    capabilities: Capabilities = CAPABILITIES
    ready: bool = True
    handled: list[str] = field(default_factory=list)

    def routes(self) -> Sequence[Route]:
        return (
            WebhookRoute("/pusher/hook", "X-Pusher-Secret", lambda s: s == SECRET, self.accept),
            FileRoute("/pusher/files/{token}", self.files.get),
        )

    def accept(self, payload: object) -> Accepted | Refused:
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
            return Refused.BAD_UPDATE
        if not self.ready:
            return Refused.NOT_READY

        async def handle() -> None:
            self.handled.append(str(payload["text"]))

        return Accepted(str(payload["id"]), handle)


@pytest.fixture
async def served(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[tuple[PushingChannel, str]]:
    photo = tmp_path / "p.png"
    photo.write_bytes(b"\x89PNG not really")
    channel = PushingChannel({"good": photo})
    container: Container = await bootstrap(
        make_settings(database_url, tmp_path), clock=clock, channels={"pusher": channel}
    )
    runner = await start_http(container, "127.0.0.1", 0, installers=webhook_installers(container))
    try:
        host, port = runner.addresses[0][:2]
        yield channel, f"http://{host}:{port}"
    finally:
        await stop_http(runner)
        await container.close()


async def test_a_channels_webhook_is_checked_judged_and_handled_once(
    served: tuple[PushingChannel, str],
) -> None:
    channel, root = served
    url = f"{root}/pusher/hook"
    good = {"X-Pusher-Secret": SECRET}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"id": 1, "text": "a"}) as resp:
            assert resp.status == 403
        async with http.post(url, json={"id": "1"}, headers=good) as resp:
            assert (resp.status, await resp.json()) == (400, {"error": "bad update"})
        channel.ready = False
        async with http.post(url, json={"id": 1, "text": "a"}, headers=good) as resp:
            assert (resp.status, await resp.json()) == (503, {"error": "not ready"})
        channel.ready = True
        answers = []
        for _ in range(2):
            async with http.post(url, json={"id": 1, "text": "a"}, headers=good) as resp:
                answers.append((resp.status, await resp.json()))
    assert answers == [(200, {"ok": True}), (200, {"ok": True, "duplicate": True})]
    assert channel.handled == ["a"]


async def test_a_channels_files_are_served_by_token_and_nothing_else(
    served: tuple[PushingChannel, str],
) -> None:
    _, root = served
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{root}/pusher/files/good") as resp:
            assert resp.status == 200 and await resp.read() == b"\x89PNG not really"
        async with http.get(f"{root}/pusher/files/forged") as resp:
            assert resp.status == 404
