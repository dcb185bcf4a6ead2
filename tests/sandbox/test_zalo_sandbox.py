"""The Zalo dialect of the sandbox: the wire format the Zalo adapter is written against."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox import ZaloPerson, ZaloSandbox, ZaloSandboxClient
from sandbox.client import SandboxError

TOKEN = "2709999:zalo-sandbox-tests"
GROUP = "7a1c0de5f00d0000beef"


@pytest.fixture
async def zalo() -> AsyncIterator[ZaloSandbox]:
    async with ZaloSandbox(token=TOKEN, bot_display_name="Bot Điện Lực") as server:
        yield server


@pytest.fixture
async def people(zalo: ZaloSandbox) -> AsyncIterator[ZaloSandboxClient]:
    async with ZaloSandboxClient(zalo.root_url) as client:
        yield client


@pytest.fixture
async def minh(people: ZaloSandboxClient) -> ZaloPerson:
    return await people.add_user("e4ea2cd5189df1c3a88c", "Đỗ Minh")


async def call(
    http: aiohttp.ClientSession, zalo: ZaloSandbox, method: str, token: str = TOKEN, **body: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{zalo.root_url}/bot{token}/{method}", json=body) as resp:
        return resp.status, await resp.json()


async def test_get_me_answers_with_the_bots_account(
    zalo: ZaloSandbox, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, zalo, "getMe")
    assert status == 200 and body["ok"] is True
    assert body["result"]["id"] == "2709999" and body["result"]["account_type"] == "BASIC"


async def test_a_wrong_token_is_refused_with_401(
    zalo: ZaloSandbox, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, zalo, "getMe", token="2709999:wrong")
    assert status == 401 and body == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_an_idle_long_poll_ends_in_408(
    zalo: ZaloSandbox, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, zalo, "getUpdates", timeout="0")
    assert status == 408 and body["error_code"] == 408 and body["ok"] is False


async def test_get_updates_hands_out_one_update_per_call_without_offsets(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    first = await people.send_text(minh, None, "/mine")
    await people.send_text(minh, None, "/open")
    status, body = await call(http, zalo, "getUpdates", timeout="1")
    assert status == 200
    update = body["result"]
    assert isinstance(update, dict) and update["event_name"] == "message.text.received"
    message = update["message"]
    assert message["text"] == "/mine" and message["message_id"] == first.message_id
    assert message["chat"] == {"id": minh.id, "chat_type": "PRIVATE"}
    assert message["from"]["id"] == minh.id and message["from"]["display_name"] == "Đỗ Minh"
    _, body = await call(http, zalo, "getUpdates", timeout="1")
    assert body["result"]["message"]["text"] == "/open"
    status, _ = await call(http, zalo, "getUpdates", timeout="0")
    assert status == 408  # both were handed out; nothing is given twice on its own


async def test_a_long_poll_is_answered_as_soon_as_a_message_arrives(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    poll = asyncio.create_task(call(http, zalo, "getUpdates", timeout="10"))
    await people.send_text(minh, None, "xin chào")
    status, body = await asyncio.wait_for(poll, 5)
    assert status == 200 and body["result"]["message"]["text"] == "xin chào"


async def test_in_a_group_only_mentions_and_replies_to_the_bot_reach_it(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_chat(GROUP, title="Đội PL", members=[minh])
    chatter = await people.send_text(minh, GROUP, "/claim PL-1")
    assert chatter.delivered is False
    mention = await people.send_text(minh, GROUP, "@Bot Điện Lực /claim PL-1")
    assert mention.delivered is True
    status, sent = await call(http, zalo, "sendMessage", chat_id=GROUP, text="PL-1 đã nhận")
    assert status == 200
    reply = await people.send_text(
        minh, GROUP, "/survey PL-1 xong", reply_to=sent["result"]["message_id"]
    )
    assert reply.delivered is True
    updates = await people.pending_updates()
    assert [u["message"]["message_id"] for u in updates] == [mention.message_id, reply.message_id]
    assert updates[0]["message"]["chat"]["chat_type"] == "GROUP"


async def test_send_message_takes_one_to_two_thousand_characters(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    status, body = await call(http, zalo, "sendMessage", chat_id=minh.id, text="x" * 2000)
    assert status == 200 and set(body["result"]) == {"message_id", "date"}
    status, body = await call(http, zalo, "sendMessage", chat_id=minh.id, text="x" * 2001)
    assert status == 400 and body["ok"] is False
    status, _ = await call(http, zalo, "sendMessage", chat_id=minh.id, text="")
    assert status == 400
    status, _ = await call(http, zalo, "sendMessage", chat_id="no-such-chat", text="hi")
    assert status == 400
    shown = await people.messages(minh)
    assert [len(m.body) for m in shown] == [2000]


async def test_send_photo_takes_a_url_not_bytes(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    status, _ = await call(http, zalo, "sendPhoto", chat_id=minh.id, photo="AgACAgIAAxk")
    assert status == 400
    url = "https://example.vn/a.png"
    status, _ = await call(http, zalo, "sendPhoto", chat_id=minh.id, photo=url, caption="Ảnh")
    assert status == 200
    (shown,) = await people.messages(minh)
    assert shown.photo_url == url and shown.caption == "Ảnh" and shown.from_bot


async def test_a_photo_a_person_sends_arrives_as_an_image_event_with_a_fetchable_url(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.send_photo(minh, None, b"\x89PNG\r\n\x1a\nfake", caption="công tơ")
    _, body = await call(http, zalo, "getUpdates", timeout="1")
    assert body["result"]["event_name"] == "message.image.received"
    message = body["result"]["message"]
    assert message["caption"] == "công tơ" and "text" not in message
    async with http.get(message["photo_url"]) as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG\r\n\x1a\nfake"


async def test_a_redelivered_message_comes_again_with_the_same_id(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    sent = await people.send_text(minh, None, "/mine")
    await people.redeliver(sent)
    ids = []
    for _ in range(2):
        _, body = await call(http, zalo, "getUpdates", timeout="1")
        ids.append(body["result"]["message"]["message_id"])
    assert ids == [sent.message_id, sent.message_id]


async def test_set_webhook_checks_url_and_secret_and_then_pushes_updates_with_the_secret(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Bot-Api-Secret-Token"), await request.json()))
        arrived.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/zalo/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/zalo/webhook"
    try:
        status, _ = await call(
            http, zalo, "setWebhook", url="http://example.vn/x", secret_token="s" * 8
        )
        assert status == 400  # plain http only on loopback
        status, _ = await call(http, zalo, "setWebhook", url=url, secret_token="short")
        assert status == 400
        status, body = await call(http, zalo, "setWebhook", url=url, secret_token="hook-secret-1")
        assert status == 200 and body["result"]["url"] == url
        status, _ = await call(http, zalo, "getUpdates", timeout="0")
        assert status == 400  # polling is refused while a webhook is set
        sent = await people.send_text(minh, None, "/help")
        await asyncio.wait_for(arrived.wait(), 5)
        secret, update = received[0]
        assert secret == "hook-secret-1"
        assert update["event_name"] == "message.text.received"
        assert update["message"]["message_id"] == sent.message_id
        _, info = await call(http, zalo, "getWebhookInfo")
        assert info["result"]["url"] == url
        await call(http, zalo, "deleteWebhook")
        _, info = await call(http, zalo, "getWebhookInfo")
        assert info["result"]["url"] == ""
    finally:
        await runner.cleanup()


async def test_injected_faults_fail_the_next_calls_with_their_status(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_fault(429, count=1, methods=["sendMessage"], retry_after=7)
    status, body = await call(http, zalo, "sendMessage", chat_id=minh.id, text="a")
    assert status == 429 and body["parameters"] == {"retry_after": 7}
    status, _ = await call(http, zalo, "sendMessage", chat_id=minh.id, text="a")
    assert status == 200


async def test_the_control_api_refuses_what_a_person_could_not_do(
    people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_chat(GROUP, title="Đội PL")
    with pytest.raises(SandboxError) as err:
        await people.send_text(minh, GROUP, "@Bot Điện Lực /open")
    assert err.value.status == 403  # not a member of that group
    with pytest.raises(SandboxError):
        await people.send_text(minh, None, "x" * 2001)


async def test_the_transcript_shows_the_chat_as_people_see_it(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_chat(GROUP, title="Đội PL", members=[minh])
    await people.send_text(minh, GROUP, "@Bot Điện Lực /open")
    await call(http, zalo, "sendMessage", chat_id=GROUP, text="Không có hồ sơ chờ nhận.\nHết.")
    transcript = await people.transcript(GROUP)
    assert transcript.splitlines() == [
        f"=== Đội PL (Zalo group {GROUP}) ===",
        "#1 Đỗ Minh: @Bot Điện Lực /open",
        "#2 Bot Điện Lực: Không có hồ sơ chờ nhận.",
        "    Hết.",
    ]


async def test_a_message_counts_as_handled_once_the_bot_polls_again_after_taking_it(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    sent = await people.send_text(minh, None, "/mine")
    assert not sent.handled
    await call(http, zalo, "getUpdates", timeout="1")
    (taken,) = await people.messages(minh)
    assert not taken.handled  # taken, maybe still being worked on
    await call(http, zalo, "getUpdates", timeout="0")
    (done,) = await people.messages(minh)
    assert done.handled


async def test_any_update_can_be_handed_out_as_it_is(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient
) -> None:
    """Zalo documents few update shapes; a new or broken one arrives like any other."""
    for odd in ("garbage", {"event_name": "message.text.received"}):
        await people.queue_update(odd)
    assert [(await call(http, zalo, "getUpdates", timeout="1"))[1]["result"] for _ in "12"] == [
        "garbage",
        {"event_name": "message.text.received"},
    ]
    with pytest.raises(SandboxError):
        await people._request("POST", "/updates", {"not": "an update"})


# --------------------------------------------------------------------------- field failures


def refusal(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


async def test_an_injected_answer_is_given_as_it_is_for_its_chat(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    await people.inject_answer(502, body=page, methods=["sendMessage"], chat=minh)
    await people.add_chat(GROUP, title="Đội PL", members=[minh])
    assert (await call(http, zalo, "sendMessage", chat_id=GROUP, text="a"))[0] == 200
    async with http.post(
        f"{zalo.root_url}/bot{TOKEN}/sendMessage", json={"chat_id": minh.id, "text": "a"}
    ) as resp:
        assert (resp.status, resp.content_type, await resp.text()) == (502, "text/html", page)
    await people.inject_answer(429, description="Too Many Requests", parameters={"retry_after": 3})
    assert await call(http, zalo, "getMe") == (
        429,
        {**refusal(429, "Too Many Requests"), "parameters": {"retry_after": 3}},
    )
    assert (await call(http, zalo, "sendMessage", chat_id=minh.id, text="a"))[0] == 200
    assert await people.injected_answers() == []


async def test_a_person_who_never_wrote_to_the_bot_cannot_be_written_to_first(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient
) -> None:
    lan = await people.add_user("c0ffee0000000000beef", "Lan", started=False)
    cannot = refusal(403, "Forbidden: user has not started a conversation with the bot")
    assert await call(http, zalo, "sendMessage", chat_id=lan.id, text="Ca PL-1") == (403, cannot)
    photo = "https://example.vn/a.png"
    assert await call(http, zalo, "sendPhoto", chat_id=lan.id, photo=photo) == (403, cannot)
    assert await call(http, zalo, "sendChatAction", chat_id=lan.id, action="typing") == (
        403,
        cannot,
    )
    await people.send_text(lan, None, "/start")
    assert (await call(http, zalo, "sendMessage", chat_id=lan.id, text="Ca PL-1"))[0] == 200


async def test_a_revoked_token_answers_401_and_a_malformed_one_404(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient
) -> None:
    await people.revoke_token()
    assert await call(http, zalo, "getMe") == (401, refusal(401, "Unauthorized"))
    await people.restore_token()
    assert (await call(http, zalo, "getMe"))[0] == 200
    await people.replace_token("2709999:rotated")
    assert (await call(http, zalo, "getMe"))[0] == 401
    assert (await call(http, zalo, "getMe", token="2709999:rotated"))[0] == 200
    assert await call(http, zalo, "getMe", token="zalo-token") == (404, refusal(404, "Not Found"))


async def test_a_basic_bot_that_cannot_join_groups_says_so(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_chat(GROUP, title="Đội PL", members=[minh])
    settings = await people.set_bot(can_join_groups=False)
    assert settings["can_join_groups"] is False and settings["mention_only"] is True
    _, me = await call(http, zalo, "getMe")
    assert me["result"]["can_join_groups"] is False
    with pytest.raises(SandboxError, match="cannot join groups"):
        await people.add_chat("another-group", title="Đội khác")
    await people.add_chat(GROUP, title="Đội PL")  # the group it is already in stays


async def test_without_mention_only_every_group_message_reaches_the_bot(
    people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_chat(GROUP, title="Đội PL", members=[minh])
    assert (await people.send_text(minh, GROUP, "/open")).delivered is False
    await people.set_bot(mention_only=False)
    assert (await people.send_text(minh, GROUP, "/open")).delivered is True
    async with (
        ZaloSandbox(token=TOKEN, mention_only=False, can_join_groups=False) as other,
        ZaloSandboxClient(other.root_url) as them,
    ):
        bot = await them.bot()
    assert (bot["mention_only"], bot["can_join_groups"]) == (False, False)


async def test_a_stalled_send_is_made_after_the_caller_gave_up(
    zalo: ZaloSandbox, http: aiohttp.ClientSession, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_stall(0.5, methods=["sendMessage"])
    with pytest.raises(TimeoutError):
        async with http.post(
            f"{zalo.root_url}/bot{TOKEN}/sendMessage",
            json={"chat_id": minh.id, "text": "PL-1"},
            timeout=aiohttp.ClientTimeout(0.1),
        ) as resp:
            await resp.read()
    shown = await people.wait_for_message(minh, text="PL-1")
    assert shown.from_bot
    (made,) = await people.calls("sendMessage")
    assert made.ok and made.duration is not None and made.duration >= 0.5
