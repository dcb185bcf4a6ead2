"""The sandbox as a stand-in for Telegram under stress: its rate limits answer 429 the way
Telegram does, and it pushes updates to a webhook until they are acknowledged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import RetryAfter

from sandbox.client import SandboxClient
from sandbox.telegram import Limit, RateLimits, TelegramSandbox
from tests.reliability.harness import control, wait_until

TOKEN = "7400000001:sandbox-faults-secret-0123456789"
GROUP = -1009876543210


class SandboxClock:
    """The sandbox's own time, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock()


@pytest.fixture
async def sandbox(clock: SandboxClock) -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox(token=TOKEN, monotonic=clock) as server:
        yield server


async def send(sandbox: TelegramSandbox, chat: int, text: str = "x") -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.base_url}{TOKEN}/sendMessage", json={"chat_id": chat, "text": text}
        ) as r,
    ):
        body: dict[str, Any] = await r.json()
        assert r.status == body.get("error_code", 200)
        return body


async def test_enforced_limits_answer_429_with_retry_after_like_telegram(
    sandbox: TelegramSandbox, clock: SandboxClock
) -> None:
    async with SandboxClient(sandbox.root_url) as client:
        await client.add_user(501, "An")
        await client.add_chat(GROUP, type="supergroup", title="G")
    view = await control(
        sandbox.root_url,
        "POST",
        "limits",
        {"per_chat": [2, 1], "per_group": "3/60", "global": None},
    )
    assert view["per_group"] == [3, 60.0] and view["global"] is None

    assert [(await send(sandbox, 501))["ok"] for _ in range(2)] == [True, True]
    refused = await send(sandbox, 501)
    assert refused["error_code"] == 429
    assert refused["description"] == "Too Many Requests: retry after 1"
    assert refused["parameters"] == {"retry_after": 1}

    # In the group the tighter limit is the group's: three a minute.
    assert (await send(sandbox, GROUP))["ok"] and (await send(sandbox, GROUP))["ok"]
    clock.t += 1.05  # the per-chat window (1 s) passes; the group's does not
    assert (await send(sandbox, GROUP))["ok"]
    refused = await send(sandbox, GROUP)
    assert refused["error_code"] == 429 and 57 <= refused["parameters"]["retry_after"] <= 60

    seen = await control(sandbox.root_url, "GET", "limits")
    assert seen["rejected"] == 2
    # python-telegram-bot sees Telegram's RetryAfter.
    async with Bot(TOKEN, base_url=sandbox.base_url) as bot:
        with pytest.raises(RetryAfter):
            await bot.send_message(GROUP, "y")
    await control(sandbox.root_url, "DELETE", "limits")
    assert (await send(sandbox, GROUP))["ok"]


async def test_default_limits_are_telegrams(sandbox: TelegramSandbox) -> None:
    limits = RateLimits()
    assert limits.per_chat == Limit(1, 1.0)
    assert limits.per_group == Limit(20, 60.0)
    assert limits.overall == Limit(30, 1.0)
    view = await control(sandbox.root_url, "POST", "limits", {})
    assert view == {
        "enforced": True,
        "rejected": 0,
        "per_chat": [1, 1.0],
        "per_group": [20, 60.0],
        "global": [30, 1.0],
    }


async def test_a_fault_window_fails_every_send_then_ends(
    sandbox: TelegramSandbox, clock: SandboxClock
) -> None:
    async with SandboxClient(sandbox.root_url) as client:
        await client.add_user(501, "An")
        await client.add_fault("500", seconds=30, methods=["sendMessage"])
        assert (await send(sandbox, 501))["error_code"] == 500
        clock.t += 29.9
        assert (await send(sandbox, 501))["error_code"] == 500
        clock.t += 0.2  # thirty seconds of the sandbox's time later
        assert (await send(sandbox, 501))["ok"]
        await client.add_fault("429", count=2, retry_after=7)
        first = await send(sandbox, 501)
        assert first["error_code"] == 429 and first["parameters"] == {"retry_after": 7}
        assert (await send(sandbox, 501))["error_code"] == 429
        assert (await send(sandbox, 501))["ok"]


async def test_updates_are_pushed_to_the_webhook_until_acknowledged(
    sandbox: TelegramSandbox,
) -> None:
    received: list[tuple[int, str | None]] = []
    refuse = 2

    async def hook(request: web.Request) -> web.Response:
        nonlocal refuse
        body = await request.json()
        received.append((body["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        if refuse:
            refuse -= 1
            return web.Response(status=500)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with (
            Bot(TOKEN, base_url=sandbox.base_url) as bot,
            SandboxClient(sandbox.root_url) as client,
        ):
            await bot.set_webhook("https://bot.example.vn/hook", secret_token="s3cret-token")
            await control(
                sandbox.root_url,
                "POST",
                "webhook",
                {"deliver_to": f"http://127.0.0.1:{port}/hook", "retry_seconds": 0.05},
            )
            user = await client.add_user(501, "An")
            sent = await client.send_text(user, None, "/start")

            async def acknowledged() -> bool:
                state = await control(sandbox.root_url, "GET", "webhook")
                return state["delivered"] == 1 and state["pending"] == 0

            await wait_until(acknowledged, timeout=10, what="the update to be acknowledged")
            assert received == [(sent.update_id, "s3cret-token")] * 3
            state = await control(sandbox.root_url, "GET", "webhook")
            assert [a["status"] for a in state["attempts"]] == [500, 500, 200]
            assert await client.pending_updates() == []
    finally:
        await runner.cleanup()
