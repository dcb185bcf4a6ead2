"""The Telegram sandbox fails as the real Bot API does in the field (issue 14): every answer
is checked as raw HTTP, so the exact JSON a bot receives is what is asserted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, ChatFullInfo, ChatMemberAdministrator
from telegram.error import ChatMigrated, InvalidToken

from sandbox import (
    BotStatus,
    ChatType,
    FaultKind,
    SandboxClient,
    SandboxError,
    SandboxUser,
    TelegramSandbox,
    make_png,
)
from tests.reliability.harness import wait_until

from .conftest import TOKEN

Call = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]
BOT_ID = int(TOKEN.partition(":")[0])


def refusal(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


@pytest.fixture
def call(sandbox: TelegramSandbox, http: aiohttp.ClientSession) -> Call:
    async def post(method: str, token: str = TOKEN, **params: Any) -> tuple[int, dict[str, Any]]:
        async with http.post(f"{sandbox.base_url}{token}/{method}", json=params) as response:
            return response.status, await response.json()

    return post


# --------------------------------------------------------------------------- injected answers


async def test_an_injected_error_is_answered_as_given_for_its_chat_and_methods_only(
    call: Call, humans: SandboxClient, lan: SandboxUser
) -> None:
    other = await humans.add_user(1002, "Minh")
    await humans.inject_answer(
        400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": -1001234567890},
        count=2,
        methods=["sendMessage"],
        chat=lan,
    )
    assert (await call("sendMessage", chat_id=other.id, text="x"))[0] == 200
    assert (await call("sendChatAction", chat_id=lan.id, action="typing"))[0] == 200
    for _ in range(2):
        assert await call("sendMessage", chat_id=lan.id, text="x") == (
            400,
            refusal(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=-1001234567890,
            ),
        )
    assert await humans.injected_answers() == []
    assert (await call("sendMessage", chat_id=lan.id, text="x"))[0] == 200
    logged = await humans.calls("sendMessage", since=0)
    assert [c.error_code for c in logged] == [None, 400, 400, None]
    assert [m.text for m in await humans.messages(lan)] == ["x"]  # the refused ones never ran


async def test_an_injected_proxy_page_is_answered_as_it_is(
    sandbox: TelegramSandbox,
    http: aiohttp.ClientSession,
    humans: SandboxClient,
    lan: SandboxUser,
) -> None:
    page = "<html><head><title>413 Request Entity Too Large</title></head></html>"
    view = await humans.inject_answer(413, body=page, methods=["sendPhoto"])
    assert view["content_type"] == "text/html" and view["remaining"] == 1
    url = f"{sandbox.base_url}{TOKEN}/sendPhoto"
    form = aiohttp.FormData({"chat_id": str(lan.id)})
    form.add_field("photo", make_png(4, 4), filename="a.png", content_type="image/png")
    async with http.post(url, data=form) as response:
        assert response.status == 413
        assert response.content_type == "text/html"
        assert await response.text() == page
    # A JSON-looking body with its own content type, e.g. a gateway's.
    await humans.inject_answer(
        502, body='{"message": "bad gateway"}', content_type="application/json"
    )
    async with http.post(f"{sandbox.base_url}{TOKEN}/getMe") as response:
        assert (response.status, await response.json()) == (502, {"message": "bad gateway"})
    # Without a description, the platform's JSON error carries the HTTP reason phrase.
    await humans.inject_answer(503)
    async with http.post(f"{sandbox.base_url}{TOKEN}/getMe") as response:
        assert await response.json() == refusal(503, "Service Unavailable")


@pytest.mark.parametrize(
    ("request_body", "complaint"),
    [
        ({"status": 200}, "needs an error status"),
        ({"status": 700}, "HTTP status"),
        ({"status": 400, "body": "x", "description": "y"}, "either body"),
        ({"status": 400, "count": 0}, "at least 1"),
        ({"status": 400, "parameters": [1]}, "JSON object"),
        ({"status": 502, "body": "x", "content_type": "html"}, "MIME type"),
    ],
)
async def test_an_injected_answer_that_makes_no_sense_is_refused(
    humans: SandboxClient, request_body: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(SandboxError, match=complaint):
        await humans._request("POST", "/answers", request_body)


# --------------------------------------------------------------------------- people


async def test_a_person_who_never_pressed_start_is_refused_until_they_write(
    call: Call, humans: SandboxClient
) -> None:
    tam = await humans.add_user(1003, "Tâm", started=False)
    cannot = refusal(403, "Forbidden: bot can't initiate conversation with a user")
    assert await call("sendMessage", chat_id=tam.id, text="Ca PL-1") == (403, cannot)
    assert await call("sendChatAction", chat_id=tam.id, action="typing") == (403, cannot)
    assert await call("sendLocation", chat_id=tam.id, latitude=10, longitude=106) == (403, cannot)
    await humans.add_user(1003, "Tâm")  # added again: still never wrote
    assert (await call("sendMessage", chat_id=tam.id, text="Ca PL-1"))[0] == 403
    await humans.send_text(tam, None, "/start")
    assert (await call("sendMessage", chat_id=tam.id, text="Ca PL-1"))[0] == 200
    users = await humans._request("GET", "/users")
    assert [u["started"] for u in users if u["id"] == tam.id] == [True]


async def test_blocked_and_deleted_accounts_are_refused_with_their_own_words(
    call: Call, humans: SandboxClient, lan: SandboxUser
) -> None:
    _, sent = await call("sendMessage", chat_id=lan.id, text="Ca PL-1")
    message_id = sent["result"]["message_id"]
    await humans.block(lan)
    blocked = refusal(403, "Forbidden: bot was blocked by the user")
    assert await call("sendMessage", chat_id=lan.id, text="x") == (403, blocked)
    await humans.unblock(lan)
    await humans.deactivate(lan)
    gone = refusal(403, "Forbidden: user is deactivated")
    assert await call("sendMessage", chat_id=lan.id, text="x") == (403, gone)
    edit = {"chat_id": lan.id, "message_id": message_id, "text": "y"}
    assert await call("editMessageText", **edit) == (403, gone)
    with pytest.raises(SandboxError, match="deleted their account"):
        await humans.send_text(lan, None, "still here?")


# --------------------------------------------------------------------------- groups


async def test_a_group_upgraded_to_a_supergroup_moves_and_its_old_id_is_dead(
    bot: Bot, call: Call, humans: SandboxClient, lan: SandboxUser
) -> None:
    group = await humans.add_chat(-4100, title="Đội PL", members=[lan])
    _, card = await call("sendMessage", chat_id=group.id, text="📋 PL-1")
    await call("getUpdates", offset=-1)  # nothing pending before the upgrade
    supergroup = await humans.migrate(group, new_id=-1001000004100)
    assert (supergroup.id, supergroup.type, supergroup.title) == (
        -1001000004100,
        ChatType.SUPERGROUP,
        "Đội PL",
    )
    assert supergroup.members == (lan.id,)
    assert (await humans.chat(group)).migrated_to == -1001000004100

    updates = [u["message"] for u in await humans.pending_updates()]
    assert [(m["chat"]["id"], m["chat"]["type"]) for m in updates] == [
        (-4100, "group"),
        (-1001000004100, "supergroup"),
    ]
    assert updates[0]["migrate_to_chat_id"] == -1001000004100 and "text" not in updates[0]
    assert updates[1]["migrate_from_chat_id"] == -4100
    assert updates[0]["from"]["id"] == lan.id

    upgraded = refusal(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-1001000004100,
    )
    old_card = {"chat_id": group.id, "message_id": card["result"]["message_id"]}
    assert await call("sendMessage", chat_id=group.id, text="📋 PL-2") == (400, upgraded)
    assert await call("editMessageText", **old_card, text="📋 PL-1 ✓") == (400, upgraded)
    assert await call("deleteMessage", **old_card) == (400, upgraded)
    assert await call("sendChatAction", chat_id=group.id, action="typing") == (400, upgraded)
    assert await call("getChatMember", chat_id=group.id, user_id=lan.id) == (400, upgraded)
    status, info = await call("getChat", chat_id=group.id)
    assert status == 200 and info["result"]["type"] == "group"  # reading it still works
    with pytest.raises(ChatMigrated) as moved:
        await bot.send_message(group.id, "📋 PL-2")
    assert moved.value.new_chat_id == -1001000004100

    assert (await call("sendMessage", chat_id=supergroup.id, text="📋 PL-2"))[0] == 200
    with pytest.raises(SandboxError, match="was upgraded to supergroup -1001000004100"):
        await humans.send_text(lan, group, "ai nhận?")
    transcript = await humans.transcript(supergroup)
    assert "[upgraded from group -4100]" in transcript
    assert "[upgraded to supergroup -1001000004100]" in await humans.transcript(group)
    with pytest.raises(SandboxError, match="already upgraded"):
        await humans.migrate(group)
    with pytest.raises(SandboxError, match="only a group is upgraded"):
        await humans.migrate(supergroup)


async def test_a_generated_supergroup_id_looks_like_telegrams(humans: SandboxClient) -> None:
    nobody = await humans.add_chat(title="Trống")
    with pytest.raises(SandboxError, match="no member"):
        await humans.migrate(nobody)
    lan = await humans.add_user(1001, "Lan")
    group = await humans.add_chat(title="Đội", members=[lan])
    supergroup = await humans.migrate(group, by=lan)
    assert str(supergroup.id).startswith("-100") and len(str(supergroup.id)) >= 14


async def test_get_chat_and_get_chat_member_say_where_the_bot_stands(
    bot: Bot, call: Call, humans: SandboxClient, lan: SandboxUser
) -> None:
    group = await humans.add_chat(-4200, title="Đội PL", members=[lan])
    status, info = await call("getChat", chat_id=group.id)
    assert status == 200
    assert {k: info["result"][k] for k in ("id", "type", "title")} == {
        "id": -4200,
        "type": "group",
        "title": "Đội PL",
    }
    assert isinstance(await bot.get_chat(group.id), ChatFullInfo)  # what PTB can read
    me = await call("getChatMember", chat_id=group.id, user_id=BOT_ID)
    assert me[1]["result"]["status"] == "member"
    assert me[1]["result"]["user"]["id"] == BOT_ID

    await humans.set_bot_status(
        group, BotStatus.ADMINISTRATOR, rights={"can_delete_messages": False}
    )
    admin = await bot.get_chat_member(group.id, BOT_ID)
    assert isinstance(admin, ChatMemberAdministrator)
    assert admin.can_pin_messages and not admin.can_delete_messages and not admin.is_anonymous

    member = await call("getChatMember", chat_id=group.id, user_id=lan.id)
    assert member[1]["result"]["status"] == "member"
    minh = await humans.add_user(1002, "Minh")
    outside = await call("getChatMember", chat_id=group.id, user_id=minh.id)
    assert outside[1]["result"]["status"] == "left"
    assert await call("getChatMember", chat_id=group.id, user_id=424242) == (
        400,
        refusal(400, "Bad Request: user not found"),
    )
    assert await call("getChatMember", chat_id=group.id) == (
        400,
        refusal(400, "Bad Request: invalid user_id specified"),
    )
    assert await call("getChat", chat_id=-999) == (400, refusal(400, "Bad Request: chat not found"))


@pytest.mark.parametrize(
    ("chat_type", "chat_id", "status", "text"),
    [
        (ChatType.GROUP, -4300, BotStatus.LEFT, "bot is not a member of the group chat"),
        (ChatType.GROUP, -4300, BotStatus.KICKED, "bot was kicked from the group chat"),
        (
            ChatType.SUPERGROUP,
            -1001000004300,
            BotStatus.LEFT,
            "bot is not a member of the supergroup chat",
        ),
        (
            ChatType.SUPERGROUP,
            -1001000004300,
            BotStatus.KICKED,
            "bot was kicked from the supergroup chat",
        ),
    ],
)
async def test_a_bot_out_of_its_group_is_refused_and_hears_nothing(
    call: Call,
    humans: SandboxClient,
    lan: SandboxUser,
    chat_type: ChatType,
    chat_id: int,
    status: BotStatus,
    text: str,
) -> None:
    group = await humans.add_chat(chat_id, type=chat_type, title="Đội PL", members=[lan])
    await call("getUpdates", offset=-1)
    changed = await humans.set_bot_status(group, status)
    assert changed.bot_status is status
    (update,) = await humans.pending_updates()
    told = update["my_chat_member"]
    assert told["chat"]["id"] == chat_id and told["from"]["id"] == lan.id
    assert (told["old_chat_member"]["status"], told["new_chat_member"]["status"]) == (
        "member",
        status.value,
    )
    out = refusal(403, f"Forbidden: {text}")
    assert await call("sendMessage", chat_id=chat_id, text="📋 PL-1") == (403, out)
    said = await humans.send_text(lan, group, "/open")
    assert said.update_id is None  # the bot is not there to hear it
    me = await call("getChatMember", chat_id=chat_id, user_id=BOT_ID)
    if chat_type is ChatType.SUPERGROUP:
        # Out of a private supergroup the bot may not even look at it.
        assert me == (403, out)
        assert await call("getChat", chat_id=chat_id) == (403, out)
    else:
        assert me[1]["result"]["status"] == status.value
    await humans.set_bot_status(group, BotStatus.MEMBER)
    assert (await call("sendMessage", chat_id=chat_id, text="📋 PL-1"))[0] == 200


async def test_the_bots_status_route_refuses_what_telegram_has_no_word_for(
    humans: SandboxClient, lan: SandboxUser
) -> None:
    group = await humans.add_chat(-4400, title="Đội", members=[lan])
    with pytest.raises(SandboxError, match="status must be one of"):
        await humans._request("POST", f"/chats/{group.id}/bot", {"status": "creator"})
    with pytest.raises(SandboxError, match="unknown rights"):
        await humans.set_bot_status(group, "administrator", rights={"can_fly": True})
    with pytest.raises(SandboxError, match="only an administrator"):
        await humans.set_bot_status(group, "member", rights={"can_pin_messages": True})
    with pytest.raises(SandboxError, match="not a live group"):
        await humans.set_bot_status(lan, "left")


# --------------------------------------------------------------------------- the bot's settings


async def test_get_me_says_what_the_bots_settings_are(
    call: Call, humans: SandboxClient, lan: SandboxUser
) -> None:
    _, me = await call("getMe")
    assert (me["result"]["can_join_groups"], me["result"]["can_read_all_group_messages"]) == (
        True,
        True,
    )
    await humans.set_bot(privacy_mode=True, can_join_groups=False)
    _, me = await call("getMe")
    assert (me["result"]["can_join_groups"], me["result"]["can_read_all_group_messages"]) == (
        False,
        False,
    )
    with pytest.raises(SandboxError, match="cannot join groups"):
        await humans.add_chat(title="Đội mới", members=[lan])
    with pytest.raises(SandboxError, match="must be true or false"):
        await humans._request("POST", "/bot", {"privacy_mode": "yes"})
    with pytest.raises(SandboxError, match="unknown settings"):
        await humans._request("POST", "/bot", {"privacy": True})


# --------------------------------------------------------------------------- the token


async def test_a_revoked_token_answers_401_until_it_works_again(
    sandbox: TelegramSandbox, call: Call, http: aiohttp.ClientSession, humans: SandboxClient
) -> None:
    lan = await humans.add_user(1001, "Lan")
    photo = await humans.send_photo(lan, None, make_png(8, 8))
    assert photo.photo is not None
    _, found = await call("getFile", file_id=photo.photo.file_id)
    file_url = f"{sandbox.base_file_url}{TOKEN}/{found['result']['file_path']}"

    await humans.revoke_token()
    unauthorized = refusal(401, "Unauthorized")
    assert await call("getMe") == (401, unauthorized)
    assert await call("sendMessage", chat_id=lan.id, text="x") == (401, unauthorized)
    async with http.get(file_url) as response:
        assert response.status == 401
    revoked_bot = Bot(TOKEN, base_url=sandbox.base_url)
    with pytest.raises(InvalidToken):
        await revoked_bot.get_me()

    await humans.restore_token()
    assert (await call("getMe"))[0] == 200

    new_token = f"{BOT_ID}:a-new-secret_from_BotFather"
    await humans.replace_token(new_token)
    assert await call("getMe") == (401, unauthorized)
    assert (await call("getMe", token=new_token))[0] == 200
    with pytest.raises(SandboxError, match="keeps the bot's id"):
        await humans.replace_token("123:another-bot")
    with pytest.raises(SandboxError, match="must look like"):
        await humans.replace_token("no colon")


@pytest.mark.parametrize("token", ["not-a-token", "123", "abc:def", "123:sec ret", ":secret"])
async def test_a_malformed_token_is_not_found(call: Call, token: str) -> None:
    assert await call("getMe", token=token) == (404, refusal(404, "Not Found"))


# --------------------------------------------------------------------------- late sends


@pytest.mark.parametrize("method", ["sendMessage", "sendPhoto", "editMessageText"])
async def test_a_stalled_send_is_carried_out_after_the_caller_gave_up(
    sandbox: TelegramSandbox,
    http: aiohttp.ClientSession,
    call: Call,
    humans: SandboxClient,
    lan: SandboxUser,
    method: str,
) -> None:
    _, first = await call("sendMessage", chat_id=lan.id, text="📋 PL-1")
    form = aiohttp.FormData({"chat_id": str(lan.id)})
    if method == "sendMessage":
        form.add_field("text", "📋 PL-2")
    elif method == "sendPhoto":
        form.add_field("photo", make_png(8, 8), filename="a.png", content_type="image/png")
    else:
        form.add_fields(("message_id", str(first["result"]["message_id"])), ("text", "📋 PL-1 ✓"))
    (before,) = await humans.calls()
    await humans.add_fault(FaultKind.STALL, delay=0.5, methods=[method])
    with pytest.raises(TimeoutError):
        async with http.post(
            f"{sandbox.base_url}{TOKEN}/{method}", data=form, timeout=aiohttp.ClientTimeout(0.1)
        ) as response:
            await response.read()

    async def carried_out() -> list[Any]:
        return [c for c in await humans.calls(method, since=before.seq) if c.ok]

    (done,) = await wait_until(carried_out, timeout=5, what=f"{method} carried out late")
    assert done.duration is not None and done.duration >= 0.5
    shown = await humans.messages(lan)
    if method == "editMessageText":
        assert [(m.text, m.edited) for m in shown] == [("📋 PL-1 ✓", True)]
    else:
        assert len(shown) == 2 and shown[1].from_bot


# --------------------------------------------------------------------------- the webhook


@pytest.mark.parametrize(
    "secret",
    ["has space", "ký_tự", "a+b/c=", 'quote"d', "x" * 257],
)
async def test_set_webhook_checks_the_secret_tokens_characters(call: Call, secret: str) -> None:
    text = (
        "Bad Request: secret token is too long"
        if len(secret) > 256
        else "Bad Request: secret token contains unallowed characters"
    )
    assert await call("setWebhook", url="https://bot.example.vn/telegram", secret_token=secret) == (
        400,
        refusal(400, text),
    )
    _, info = await call("getWebhookInfo")
    assert info["result"]["url"] == ""


@pytest.mark.parametrize("secret", ["A-z_0-9", "x" * 256, ""])
async def test_set_webhook_takes_a_secret_of_allowed_characters(call: Call, secret: str) -> None:
    url = "https://bot.example.vn/telegram"
    assert await call("setWebhook", url=url, secret_token=secret) == (
        200,
        {"ok": True, "result": True},
    )


async def test_get_webhook_info_tells_the_last_failed_push(
    call: Call, humans: SandboxClient, lan: SandboxUser
) -> None:
    answers = [500, 200]

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        await call("setWebhook", url="https://bot.example.vn/telegram", secret_token="s3cret")
        _, info = await call("getWebhookInfo")
        assert "last_error_date" not in info["result"]
        await humans._request(
            "POST", "/webhook", {"deliver_to": f"http://127.0.0.1:{port}/hook", "retry_seconds": 0}
        )
        await humans.send_text(lan, None, "/mine")

        async def delivered() -> bool:
            return (await humans._request("GET", "/webhook"))["delivered"] == 1

        await wait_until(delivered, timeout=5, what="the update delivered on the second try")
        _, info = await call("getWebhookInfo")
        result = info["result"]
        assert (
            result["last_error_message"]
            == "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert isinstance(result["last_error_date"], int) and result["last_error_date"] > 0
        assert result["pending_update_count"] == 0

        await runner.cleanup()  # the bot's server is gone
        await humans.send_text(lan, None, "/open")

        async def refused_connection() -> bool:
            _, now = await call("getWebhookInfo")
            return now["result"]["last_error_message"] == "Connection refused"

        await wait_until(refused_connection, timeout=5, what="a push to a closed port")
        _, info = await call("getWebhookInfo")
        assert info["result"]["pending_update_count"] == 1
        await call("deleteWebhook")
        _, info = await call("getWebhookInfo")
        assert (
            "last_error_date" not in info["result"] and "last_error_message" not in info["result"]
        )
    finally:
        await humans._request("DELETE", "/webhook")
        await runner.cleanup()


async def test_a_reset_forgets_injected_answers_and_the_revocation(
    call: Call, humans: SandboxClient
) -> None:
    await humans.inject_answer(500, count=5)
    await humans.revoke_token()
    await humans.reset()
    assert await humans.injected_answers() == []
    assert (await call("getMe"))[0] == 200
