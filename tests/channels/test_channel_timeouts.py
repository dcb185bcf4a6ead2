"""Every call to a chat platform is bounded in time: a stalled one ends as a TransientFailure
(the relay retries it later) well before the stall would, and polling carries on.

The sandboxes hang a call on request (a "stall" fault); the adapters run with a request
timeout of a fraction of a second, so each test takes about a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from bot.channels.base import Button, HandleResult, Inbound, Outbound, TransientFailure
from bot.channels.telegram import CALL_DEADLINE_FACTOR, TelegramChannel
from bot.channels.zalo import ZaloChannel
from sandbox import (
    DEFAULT_TOKEN,
    ChatType,
    FaultKind,
    SandboxClient,
    TelegramSandbox,
    ZaloSandbox,
    ZaloSandboxClient,
    make_png,
)

#: The adapters' request timeout in these tests.
TIMEOUT = 0.3
#: How long a stalled call would hang: far longer than any bound below.
STALL = 60.0
#: The outer deadline: the adapters' own bound plus room for a busy machine.
BOUND = TIMEOUT * CALL_DEADLINE_FACTOR + 5
ZALO_TOKEN = "2709999:zalo-timeout-tests"


class Inbox:
    """A sink that records what the adapter hands the handlers."""

    def __init__(self, answer: HandleResult | None = None) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()
        self.answer = answer or HandleResult()

    async def __call__(self, inbound: Inbound) -> HandleResult:
        await self.queue.put(inbound)
        return self.answer

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), BOUND)


# --------------------------------------------------------------------------- Telegram


@pytest.fixture
async def tg() -> AsyncIterator[tuple[TelegramSandbox, SandboxClient]]:
    async with TelegramSandbox() as server, SandboxClient(server.root_url) as humans:
        yield server, humans
        await humans.clear_faults()


@pytest.fixture
async def impatient(
    tg: tuple[TelegramSandbox, SandboxClient],
) -> AsyncIterator[TelegramChannel]:
    sandbox, _ = tg
    channel = TelegramChannel(DEFAULT_TOKEN, sandbox.root_url, request_timeout=TIMEOUT)
    yield channel
    await channel.stop()


async def test_a_stalled_telegram_send_edit_and_photo_each_end_as_transient(
    tg: tuple[TelegramSandbox, SandboxClient], impatient: TelegramChannel, tmp_path: Path
) -> None:
    _, humans = tg
    lan = await humans.add_user(1001, "Lan")
    group = await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội PL", members=[lan])
    chat = str(group.id)
    sent = await impatient.send(chat, Outbound("PL-1"))  # answered: the channel works
    photo = tmp_path / "meter.png"
    photo.write_bytes(make_png(8, 8))
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "sendMessage": lambda: impatient.send(chat, Outbound("PL-2")),
        "editMessageText": lambda: impatient.edit(chat, sent.message_ids[0], Outbound("PL-1 ✓")),
        "sendPhoto": lambda: impatient.send(chat, Outbound("ảnh", photo_path=str(photo))),
    }
    for method, call in calls.items():
        await humans.add_fault(FaultKind.STALL, delay=STALL, methods=[method])
        async with asyncio.timeout(BOUND):
            with pytest.raises(TransientFailure):
                await call()
        await humans.clear_faults()


async def test_a_stalled_telegram_download_ends_as_transient(
    tg: tuple[TelegramSandbox, SandboxClient], impatient: TelegramChannel
) -> None:
    _, humans = tg
    lan = await humans.add_user(1001, "Lan")
    sent = await humans.send_photo(lan, lan, make_png(16, 16))
    assert sent.photo is not None
    file_id = sent.photo.file_id
    await humans.add_fault(FaultKind.STALL, delay=STALL, methods=["getFile"])
    async with asyncio.timeout(BOUND):
        with pytest.raises(TransientFailure):
            await impatient.download(file_id, 1_000_000)


async def test_a_stalled_button_answer_is_given_up_and_polling_goes_on(
    tg: tuple[TelegramSandbox, SandboxClient],
    impatient: TelegramChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, humans = tg
    lan = await humans.add_user(1001, "Lan")
    inbox = Inbox(HandleResult(toast="ok"))
    await impatient.start(inbox)
    card = await impatient.send(
        str(lan.id), Outbound("PL-1", buttons=((Button("Nhận việc", "c:claim:PL-1"),),))
    )
    await humans.add_fault(FaultKind.STALL, delay=STALL, methods=["answerCallbackQuery"])
    with caplog.at_level(logging.WARNING, logger="bot.channels.telegram"):
        await humans.press(lan, lan, int(card.message_ids[0]), "c:claim:PL-1")
        assert (await inbox.next()).callback is not None
        await humans.send_text(lan, lan, "/mine")
        assert (await inbox.next()).text == "/mine"  # the next update was not held up
        # It did not wait for the press's answer either: that is given up after it.
        assert not any("answering a button press" in r.getMessage() for r in caplog.records)
        async with asyncio.timeout(BOUND):
            while not any(  # noqa: ASYNC110 - a log record has no event to wait on
                "answering a button press" in r.getMessage() for r in caplog.records
            ):
                await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- Zalo


@pytest.fixture
async def zalo() -> AsyncIterator[tuple[ZaloSandbox, ZaloSandboxClient]]:
    async with (
        ZaloSandbox(token=ZALO_TOKEN) as server,
        ZaloSandboxClient(server.root_url) as people,
    ):
        yield server, people
        await people.clear_faults()


async def test_a_stalled_zalo_send_ends_as_transient(
    zalo: tuple[ZaloSandbox, ZaloSandboxClient],
) -> None:
    sandbox, people = zalo
    minh = await people.add_user("e4ea2cd5189df1c3a88c", "Đỗ Minh")
    channel = ZaloChannel(ZALO_TOKEN, sandbox.root_url, request_timeout=TIMEOUT)
    try:
        await channel.send(minh.id, Outbound("PL-1"))
        await people.add_stall(STALL, methods=["sendMessage"])
        async with asyncio.timeout(BOUND):
            with pytest.raises(TransientFailure):
                await channel.send(minh.id, Outbound("PL-2"))
    finally:
        await channel.stop()
    assert [m.text for m in await people.messages(minh.id)] == ["PL-1"]


async def test_a_stalled_zalo_start_fails_instead_of_hanging(
    zalo: tuple[ZaloSandbox, ZaloSandboxClient],
) -> None:
    sandbox, people = zalo
    channel = ZaloChannel(ZALO_TOKEN, sandbox.root_url, request_timeout=TIMEOUT)
    await people.add_stall(STALL, methods=["getMe"])
    async with asyncio.timeout(BOUND):
        with pytest.raises(TransientFailure):
            await channel.start(Inbox())
    assert not channel.running


async def test_zalo_polling_outlives_a_stalled_long_poll(
    zalo: tuple[ZaloSandbox, ZaloSandboxClient],
) -> None:
    sandbox, people = zalo
    minh = await people.add_user("e4ea2cd5189df1c3a88c", "Đỗ Minh")
    await people.add_stall(STALL, methods=["getUpdates"])
    channel = ZaloChannel(ZALO_TOKEN, sandbox.root_url, poll_timeout=1, request_timeout=TIMEOUT)
    inbox = Inbox()
    await channel.start(inbox)
    try:
        await people.send_text(minh, None, "/mine")
        # The stalled poll gives up after poll_timeout + TIMEOUT; a pause, then the next.
        got = await asyncio.wait_for(inbox.queue.get(), 1 + TIMEOUT + 5 + BOUND)
        assert got.text == "/mine"
    finally:
        await channel.stop()


async def test_a_stalled_zalo_file_download_ends_as_transient() -> None:
    """Zalo hands out plain file URLs; here one on a local server that never answers."""
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=b"late")

    app = web.Application()
    app.router.add_get("/photo.jpg", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    channel = ZaloChannel(ZALO_TOKEN, "http://127.0.0.1:9", request_timeout=TIMEOUT)
    try:
        async with asyncio.timeout(BOUND):
            with pytest.raises(TransientFailure):
                await channel.download(f"http://127.0.0.1:{port}/photo.jpg", 1_000_000)
    finally:
        release.set()
        await runner.cleanup()
