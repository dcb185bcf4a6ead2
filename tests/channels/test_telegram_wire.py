"""`AiohttpRequest`, PTB's requests over aiohttp, against a local server that misbehaves on
purpose: what goes on the wire, timeouts, refused connections, a proxy, status kept."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.base import Button, Key, Outbound, TransientFailure
from bot.channels.telegram.api import TelegramApi, form_of
from bot.channels.telegram.render import render, render_edit
from bot.channels.telegram.wire import AiohttpRequest, HttpAnswer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN = "123456:WIRE-TOKEN"
WAIT = 5.0  # a deadline for what should happen at once


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    path: str
    content_type: str
    user_agent: str
    form: dict[str, str]
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)


class Server:
    """A stand-in Bot API whose answer each test sets (`answer`); it records requests."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answer: Handler = self.ok
        self.release = asyncio.Event()  # what a hanging answer waits for
        self.arrived = asyncio.Event()

    @staticmethod
    async def ok(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True, "result": True})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form: dict[str, str] = {}
        files: dict[str, tuple[str, str, bytes]] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                assert not isinstance(part, type(reader)), "no nested multipart"
                data = await part.read()
                if part.filename is not None:
                    files[part.name or ""] = (part.filename, part.headers["Content-Type"], data)
                else:
                    form[part.name or ""] = data.decode()
        elif request.can_read_body:
            form = {key: str(value) for key, value in (await request.post()).items()}
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.content_type,
                request.headers.get("User-Agent", ""),
                form,
                files,
            )
        )
        self.arrived.set()
        return await self.answer(request)

    async def hang(self, _request: web.Request) -> web.StreamResponse:
        """Answer only when released (the test's end releases it)."""
        await self.release.wait()
        return web.json_response({"ok": True, "result": True})


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    stand_in = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stand_in.handle)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield stand_in, str(test_server.make_url("")).rstrip("/")
    finally:
        stand_in.release.set()
        await test_server.close()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    made = AiohttpRequest(4, read_timeout=2.0, write_timeout=2.0, connect_timeout=2.0)
    await made.initialize()
    yield made
    await made.shutdown()


def bot_on(url: str, request: BaseRequest) -> Bot:
    return Bot(TOKEN, base_url=f"{url}/bot", request=request, get_updates_request=request)


def free_port() -> int:
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_parameters_go_as_a_form_of_json_values_and_the_result_comes_back(
    server: tuple[Server, str], request_: AiohttpRequest
) -> None:
    stand_in, url = server
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Nhận", callback_data="claim:1")]])
    assert await bot_on(url, request_).answer_callback_query("q1", text="Đã nhận ✓")
    await bot_on(url, request_).send_chat_action(-1001, "typing")
    stand_in.answer = _message_answer
    await bot_on(url, request_).send_message(-1001, "PL-1", reply_markup=keyboard)
    first, second, third = stand_in.seen
    assert (first.method, first.path) == ("POST", f"/bot{TOKEN}/answerCallbackQuery")
    assert first.content_type == "application/x-www-form-urlencoded"
    assert first.form == {"callback_query_id": "q1", "text": "Đã nhận ✓"}
    assert first.user_agent == BaseRequest.USER_AGENT
    assert second.form == {"chat_id": "-1001", "action": "typing"}
    assert json.loads(third.form["reply_markup"]) == keyboard.to_dict()


async def test_files_go_as_multipart_with_their_names_types_and_the_other_fields(
    server: tuple[Server, str], request_: AiohttpRequest
) -> None:
    stand_in, url = server
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    stand_in.answer = _message_answer
    bot = bot_on(url, request_)
    await bot.send_photo(-1001, png, caption="Ảnh hiện trường", filename="ảnh.png")
    await bot.send_document(-1001, b"ref,status\n", filename="báo cáo.csv")
    photo, document = stand_in.seen
    assert photo.content_type == "multipart/form-data"
    assert photo.form == {"chat_id": "-1001", "caption": "Ảnh hiện trường"}
    assert photo.files == {"photo": ("ảnh.png", "image/png", png)}
    assert document.files["document"][0] == "báo cáo.csv"  # UTF-8 as it is, not %-quoted
    assert document.files["document"][2] == b"ref,status\n"


async def test_the_bots_own_calls_send_what_ptbs_methods_send_and_read_the_message_id(
    server: tuple[Server, str],
) -> None:
    """sendMessage, editMessageText and answerCallbackQuery skip PTB's objects for the
    answer (TelegramApi.post); what goes out must be what PTB's own methods sent."""
    stand_in, url = server
    stand_in.answer = _message_answer
    api = TelegramApi(TOKEN, url, 2.0)
    bot = api.new_bot()
    card = Outbound("PL-1 · Nhận?", buttons=((Button("Nhận", "c:claim:PL-1"),),), reply_to="7")
    keys = Outbound("Gửi vị trí", keys=((Key("📍", request_location=True),),))
    bare = Outbound("Xong", remove_keys=True)
    try:
        for message in (card, keys, bare):
            (part,) = render(message)
            assert await api.send(bot, "-1001", part) == 1
            reply = part.reply_to and ReplyParameters(
                part.reply_to, allow_sending_without_reply=True
            )
            await bot.send_message(
                -1001, part.text or "", reply_markup=part.keyboard, reply_parameters=reply or None
            )
        for message in (card, bare):  # with a keyboard, and one taken away
            edit = render_edit(message)
            await api.edit(bot, "-1001", 5, edit)
            await bot.edit_message_text(
                edit.text, chat_id=-1001, message_id=5, reply_markup=edit.keyboard
            )
        for text, alert in (("Đã nhận ✓", False), ("Minh đã nhận trước", True), (None, False)):
            await api.answer(bot, "q1", text, alert)
            await bot.answer_callback_query("q1", text=text, show_alert=alert or None)
        ours, ptbs = stand_in.seen[::2], stand_in.seen[1::2]
        assert len(ours) == len(ptbs) == 8
        for mine, theirs in zip(ours, ptbs, strict=True):
            assert (mine.path, mine.content_type, mine.form) == (
                theirs.path,
                theirs.content_type,
                theirs.form,
            )
        assert "reply_markup" not in ours[4].form  # an edit without buttons drops them
        assert json.loads(ours[0].form["reply_parameters"])["message_id"] == 7

        async def no_message(_request: web.Request) -> web.StreamResponse:
            return web.json_response({"ok": True, "result": True})

        stand_in.answer = no_message  # an answer without a message id is no success
        with pytest.raises(TransientFailure, match="no message id"):
            await api.send(bot, "-1001", render(bare)[0])
    finally:
        await bot.request.shutdown()


async def test_a_page_that_is_not_json_is_an_http_answer_with_its_status(
    server: tuple[Server, str], request_: AiohttpRequest
) -> None:
    stand_in, url = server
    page = "<html><head><title>413 Request Entity Too Large</title></head><body>nginx</body>"

    async def too_large(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=413, text=page, content_type="text/html")

    stand_in.answer = too_large
    with pytest.raises(HttpAnswer) as caught:
        await bot_on(url, request_).send_photo(-1001, b"\x89PNG", filename="a.png")
    assert (caught.value.status, caught.value.is_json) == (413, False)
    assert "413 Request Entity Too Large" in caught.value.message


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_json_errors_keep_ptbs_classes_and_unknown_4xx_keep_their_status(
    server: tuple[Server, str], request_: AiohttpRequest
) -> None:
    stand_in, url = server
    answers: list[tuple[int, dict[str, Any]]] = [
        (413, {"ok": False, "error_code": 413, "description": "Request Entity Too Large"}),
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
        (429, {"ok": False, "description": "Too Many", "parameters": {"retry_after": 7}}),
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    ]

    async def next_answer(_request: web.Request) -> web.StreamResponse:
        status, body = answers.pop(0)
        return web.json_response(body, status=status)

    stand_in.answer = next_answer
    bot = bot_on(url, request_)
    with pytest.raises(HttpAnswer) as too_large:
        await bot.send_message(-1001, "x")
    assert (too_large.value.status, too_large.value.is_json) == (413, True)
    assert too_large.value.message == "Request Entity Too Large"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(-1001, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(-1001, "x")
    with pytest.raises(NetworkError, match="Bad Gateway") as gateway:
        await bot.send_message(-1001, "x")
    assert not isinstance(gateway.value, HttpAnswer)  # a 5xx stays "try again"


async def test_a_silent_server_times_out_after_the_read_timeout(
    server: tuple[Server, str],
) -> None:
    stand_in, url = server
    stand_in.answer = stand_in.hang
    impatient = AiohttpRequest(4, read_timeout=0.2)
    await impatient.initialize()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with asyncio.timeout(WAIT):
            with pytest.raises(TimedOut):
                await bot_on(url, impatient).answer_callback_query("q1")
        assert loop.time() - start < 2.0
    finally:
        await impatient.shutdown()


async def test_a_long_poll_waits_for_the_read_timeout_it_is_given(
    server: tuple[Server, str],
) -> None:
    stand_in, url = server

    async def after_a_while(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.5)  # the server's long poll, longer than the default read
        return web.json_response({"ok": True, "result": []})

    stand_in.answer = after_a_while
    polling = AiohttpRequest(1, read_timeout=0.1)
    await polling.initialize()
    try:
        async with asyncio.timeout(WAIT):
            assert await bot_on(url, polling).get_updates(timeout=0, read_timeout=3.0) == ()
            with pytest.raises(TimedOut):  # and without it, the default read timeout holds
                await bot_on(url, polling).get_updates(timeout=0)
    finally:
        await polling.shutdown()


async def test_a_full_pool_times_out_without_sending(server: tuple[Server, str]) -> None:
    stand_in, url = server
    stand_in.answer = stand_in.hang
    one = AiohttpRequest(1, read_timeout=10.0, connect_timeout=0.1, pool_timeout=0.1)
    await one.initialize()
    try:
        bot = bot_on(url, one)
        hanging = asyncio.create_task(bot.answer_callback_query("first"))
        async with asyncio.timeout(WAIT):
            await stand_in.arrived.wait()
            with pytest.raises(TimedOut) as caught:
                await bot.answer_callback_query("second")
        assert TOKEN not in str(caught.value)  # aiohttp names the URL, the token is in it
        assert len(stand_in.seen) == 1  # the second never reached the server
        stand_in.release.set()
        async with asyncio.timeout(WAIT):
            assert await hanging
    finally:
        await one.shutdown()


async def test_a_refused_connection_is_a_network_error_not_a_timeout(
    request_: AiohttpRequest,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with asyncio.timeout(WAIT):
        with pytest.raises(NetworkError) as caught:
            await bot_on(url, request_).get_me()
    assert not isinstance(caught.value, TimedOut)


async def test_the_session_lives_from_initialize_to_shutdown(server: tuple[Server, str]) -> None:
    _, url = server
    never_initialised = AiohttpRequest(2)  # `dispatchbot doctor` reads without initialize
    assert await bot_on(url, never_initialised).answer_callback_query("q")
    await never_initialised.shutdown()
    with pytest.raises(NetworkError, match="shut down"):
        await bot_on(url, never_initialised).answer_callback_query("q")
    await never_initialised.initialize()  # PTB's restart initialises again
    assert await bot_on(url, never_initialised).answer_callback_query("q")
    await never_initialised.shutdown()
    await never_initialised.shutdown()  # twice is harmless


async def test_the_environments_proxy_is_used_and_no_proxy_respected(
    server: tuple[Server, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in, proxy_url = server
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("http_proxy", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("no_proxy", "bypassed.invalid")
    through_proxy = AiohttpRequest(2, connect_timeout=1.0)
    try:
        async with asyncio.timeout(WAIT):
            # telegram.invalid resolves nowhere: only the proxy can answer for it
            assert await bot_on("http://telegram.invalid", through_proxy).answer_callback_query("q")
            with pytest.raises(NetworkError):  # NO_PROXY: straight to a name that is not
                await bot_on("http://bypassed.invalid", through_proxy).answer_callback_query("q")
    finally:
        await through_proxy.shutdown()
    [seen] = stand_in.seen
    assert seen.path == f"/bot{TOKEN}/answerCallbackQuery"


def test_ptbs_timeouts_map_to_aiohttps() -> None:
    made = AiohttpRequest(
        8,
        read_timeout=5,
        write_timeout=6,
        connect_timeout=7,
        pool_timeout=1,
        media_write_timeout=20,
    )
    assert made.read_timeout == 5
    default = BaseRequest.DEFAULT_NONE
    plain = made._timeout(default, default, default, default, upload=False)
    assert (plain.sock_read, plain.sock_connect, plain.connect, plain.total) == (5, 7, 8, 19)
    upload = made._timeout(default, default, default, default, upload=True)
    assert upload.total == 5 + 20 + 7 + 1
    long_poll = made._timeout(65.0, default, default, default, upload=False)
    assert (long_poll.sock_read, long_poll.total) == (65.0, 79.0)
    unbounded = made._timeout(None, default, default, None, upload=False)
    assert (unbounded.sock_read, unbounded.total, unbounded.connect) == (None, None, None)


async def _message_answer(request: web.Request) -> web.StreamResponse:
    """A message as sendPhoto/sendDocument answer it (enough for PTB to read)."""
    message = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": -1001, "type": "supergroup", "title": "PL"},
    }
    return web.json_response({"ok": True, "result": message})


def test_the_bots_own_fields_are_ptbs_and_other_values_go_ptbs_way() -> None:
    """`form_of` (TelegramApi.post) gives the fields PTB's `RequestData` would, for every
    kind of value the bot's own calls pass; None for a kind it does not know."""
    (card,) = render(Outbound("PL-1 · Nhận?", buttons=((Button("Nhận", "c:claim:PL-1"),),)))
    (keys,) = render(Outbound("Gửi vị trí", keys=((Key("📍", request_location=True),),)))
    (bare,) = render(Outbound("Xong", remove_keys=True))
    params: dict[str, object] = {
        "chat_id": -1001,
        "channel": "@kenh",
        "message_id": 5,
        "text": "Đã nhận ✓ & 100%",
        "show_alert": True,
        "cache_time": 1.5,
        "reply_parameters": ReplyParameters(7, allow_sending_without_reply=True),
        "none": None,
    }
    for markup in (card.keyboard, keys.keyboard, bare.keyboard):
        given = {**params, "reply_markup": markup}
        ptbs = RequestData([RequestParameter.from_input(k, v) for k, v in given.items()])
        assert form_of(given) == ptbs.json_parameters
    assert form_of({"chat_id": 1, "photo": InputFile(b"\x89PNG")}) is None
    assert form_of({"chat_id": 1, "allowed_updates": ["message"]}) is None
