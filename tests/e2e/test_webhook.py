"""Webhook mode: the secret is checked, a replayed update is processed once."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import aiohttp

from bot.bootstrap import bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.runner import serve
from sandbox.client import SandboxClient
from sandbox.telegram import TelegramSandbox
from tests.conftest import make_settings
from tests.e2e.conftest import GROUP, TOKEN, on_sandbox, webhook_mode

SECRET = "webhook-secret-123"


def update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 100 + update_id,
            "date": 1_764_200_000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "Đội PL"},
            "from": {"id": 3002, "is_bot": False, "first_name": "Minh", "language_code": "vi"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def test_webhook_checks_the_secret_and_processes_a_replay_once(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        minh = await client.add_user(3002, "Minh", username="minh_pl", language_code="vi")
        await client.add_chat(GROUP, title="Đội PL", members=[minh])
        settings = make_settings(
            database_url,
            tmp_path,
            **on_sandbox("telegram", sandbox.root_url),
            **webhook_mode("telegram", SECRET),
            http_port=0,
        )
        container = await bootstrap(settings, clock=clock)
        async with container.uow() as uow:
            await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", str(GROUP)),)))
            ident = Identity("telegram", "3002", "minh_pl")
            await uow.members.add(
                Member("telegram:3002", "Minh", Role.WORKER, "PL", None, (ident,))
            )
            await uow.commit()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(container, stop))
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while container.http_port is None:
                assert loop.time() < deadline and not task.done()
                await asyncio.sleep(0.01)
            url = f"http://127.0.0.1:{container.http_port}/telegram/webhook"
            async with aiohttp.ClientSession() as http:
                async with http.post(url, json=update(1, "/mine")) as resp:
                    assert resp.status == 403
                bad = {"X-Telegram-Bot-Api-Secret-Token": "wrong"}
                async with http.post(url, json=update(1, "/mine"), headers=bad) as resp:
                    assert resp.status == 403
                good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                for _ in range(2):
                    async with http.post(url, json=update(2, "/mine"), headers=good) as resp:
                        assert resp.status == 200
                async with http.post(url, json=update(3, "/help"), headers=good) as resp:
                    assert resp.status == 200
            await client.wait_for_message(GROUP, contains="/claim")  # the /help answer
            messages = await client.messages(GROUP)
            assert sum("không có việc" in m.body for m in messages) == 1
            calls = await client.calls("setWebhook")
            assert calls and calls[0].params.get("secret_token") == SECRET
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
            await container.close()
