"""The Bot API wire format, checked with plain HTTP (no PTB in between to smooth it over)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from sandbox import SandboxClient, SandboxUser, TelegramSandbox, make_png, parse_html
from sandbox.telegram import NOT_MODIFIED

from .conftest import TOKEN


async def call(
    http: aiohttp.ClientSession, sandbox: TelegramSandbox, method: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{sandbox.base_url}{TOKEN}/{method}", **kwargs) as response:
        return response.status, await response.json()


async def test_wrong_token_and_unknown_method_answer_like_telegram(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{sandbox.base_url}123:nope/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    status, body = await call(http, sandbox, "sendTelepathy")
    assert (status, body) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


async def test_parameters_arrive_as_query_form_json_or_multipart(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession, lan: SandboxUser
) -> None:
    markup = {"inline_keyboard": [[{"text": "Claim", "callback_data": "claim:1"}]]}
    async with http.get(
        f"{sandbox.base_url}{TOKEN}/SENDMESSAGE", params={"chat_id": lan.id, "text": "query"}
    ) as response:
        assert (await response.json())["result"]["text"] == "query"
    _, as_form = await call(
        http,
        sandbox,
        "sendMessage",
        data={"chat_id": str(lan.id), "text": "form", "reply_markup": json.dumps(markup)},
    )
    _, as_json = await call(
        http,
        sandbox,
        "sendMessage",
        json={"chat_id": lan.id, "text": "json", "reply_markup": markup},
    )
    form = aiohttp.FormData()
    form.add_field("chat_id", str(lan.id))
    form.add_field("caption", "multipart")
    form.add_field("photo", make_png(10, 10), filename="a.png", content_type="image/png")
    _, as_multipart = await call(http, sandbox, "sendPhoto", data=form)

    assert as_form["result"]["reply_markup"] == markup
    assert as_json["result"]["reply_markup"] == markup
    assert as_multipart["result"]["caption"] == "multipart"
    assert as_multipart["result"]["message_id"] == 4


async def test_error_descriptions_are_telegrams(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession, lan: SandboxUser
) -> None:
    async def error(method: str, **params: Any) -> tuple[int, str]:
        status, body = await call(http, sandbox, method, json=params)
        assert body["ok"] is False and body["error_code"] == status
        return status, body["description"]

    _, sent = await call(http, sandbox, "sendMessage", json={"chat_id": lan.id, "text": "hi"})
    message_id = sent["result"]["message_id"]
    assert await error("sendMessage", chat_id=lan.id, text="") == (
        400,
        "Bad Request: message text is empty",
    )
    assert await error("sendMessage", chat_id=lan.id, text="x" * 4097) == (
        400,
        "Bad Request: message is too long",
    )
    assert await error("sendMessage", chat_id=42, text="x") == (400, "Bad Request: chat not found")
    assert await error("editMessageText", chat_id=lan.id, message_id=message_id, text="hi") == (
        400,
        NOT_MODIFIED,
    )
    assert NOT_MODIFIED == (
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same as a current content and reply markup of the message"
    )
    assert await error("editMessageText", chat_id=lan.id, message_id=77, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    assert await error("deleteMessage", chat_id=lan.id, message_id=77) == (
        400,
        "Bad Request: message to delete not found",
    )
    long_data = {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]}
    assert await error("sendMessage", chat_id=lan.id, text="x", reply_markup=long_data) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )
    assert await error("answerCallbackQuery", callback_query_id="123") == (
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    assert await error("sendPhoto", chat_id=lan.id, photo="AgACmissing") == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )
    assert await error("sendMessage", chat_id=lan.id, text="x", reply_to_message_id=99) == (
        400,
        "Bad Request: message to be replied not found",
    )
    assert await error("sendChatAction", chat_id=lan.id, action="dancing") == (
        400,
        "Bad Request: wrong parameter action in request",
    )


async def test_caption_limit_is_1024(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession, lan: SandboxUser
) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", str(lan.id))
    form.add_field("caption", "c" * 1025)
    form.add_field("photo", make_png(10, 10), filename="a.png")
    status, body = await call(http, sandbox, "sendPhoto", data=form)
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")


async def test_html_parse_mode_keeps_raw_text_and_counts_plain_text(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession, humans: SandboxClient, lan: SandboxUser
) -> None:
    html = '<b>Ca #42</b> – <a href="https://x.org">chi tiết</a> 😀 <i>gấp</i>'
    _, body = await call(
        http, sandbox, "sendMessage", json={"chat_id": lan.id, "text": html, "parse_mode": "HTML"}
    )
    result = body["result"]
    assert result["text"] == "Ca #42 – chi tiết 😀 gấp"
    assert result["entities"] == [
        {"type": "bold", "offset": 0, "length": 6},
        {"type": "text_link", "url": "https://x.org", "offset": 9, "length": 8},
        {"type": "italic", "offset": 21, "length": 3},  # 😀 counts 2 UTF-16 units
    ]
    [shown] = await humans.messages(lan)
    assert shown.text == "Ca #42 – chi tiết 😀 gấp" and shown.raw_text == html

    # The limit applies to the text after entity parsing, not to the markup.
    padded = "<b>" + "x" * 4096 + "</b>"
    status, _ = await call(
        http, sandbox, "sendMessage", json={"chat_id": lan.id, "text": padded, "parse_mode": "HTML"}
    )
    assert status == 200
    status, bad = await call(
        http,
        sandbox,
        "sendMessage",
        json={"chat_id": lan.id, "text": "a<br>b", "parse_mode": "HTML"},
    )
    assert (status, bad["description"]) == (
        400,
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 1',
    )


def test_html_parser_handles_nesting_pre_and_unclosed_tags() -> None:
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre> &lt;ok&gt;')
    assert text == "x = 1 <ok>"
    assert entities == [{"type": "pre", "language": "python", "offset": 0, "length": 5}]
    text, entities = parse_html("<b>bold <i>both</i></b>")
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
        ("bold", 0, 9),
        ("italic", 5, 4),
    ]
    with pytest.raises(Exception, match='Can\'t find end tag corresponding to start tag "b"'):
        parse_html("<b>never closed")


async def test_file_urls_need_the_token_and_an_existing_path(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{sandbox.base_file_url}{TOKEN}/photos/file_999.jpg") as response:
        assert response.status == 404
    async with http.get(f"{sandbox.base_file_url}1:bad/photos/file_1.jpg") as response:
        assert response.status == 401


async def test_webhook_is_stored_and_blocks_get_updates(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession
) -> None:
    status, _ = await call(http, sandbox, "setWebhook", json={"url": "http://insecure"})
    assert status == 400
    await call(http, sandbox, "setWebhook", json={"url": "https://bot.example.org/hook"})
    _, info = await call(http, sandbox, "getWebhookInfo")
    assert info["result"]["url"] == "https://bot.example.org/hook"
    status, conflict = await call(http, sandbox, "getUpdates")
    assert status == 409 and conflict["description"].startswith("Conflict: can't use getUpdates")
    await call(http, sandbox, "deleteWebhook")
    assert (await call(http, sandbox, "getUpdates"))[1] == {"ok": True, "result": []}


async def test_close_and_log_out_succeed(
    sandbox: TelegramSandbox, http: aiohttp.ClientSession
) -> None:
    assert (await call(http, sandbox, "close"))[1] == {"ok": True, "result": True}
    assert (await call(http, sandbox, "logOut"))[1] == {"ok": True, "result": True}
