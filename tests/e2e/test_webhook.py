"""Webhook mode: the secret is checked, a replayed update is processed once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from bot.domain.clock import FixedClock
from tests.e2e.conftest import GROUP, minh_on_webhooks

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
    async with minh_on_webhooks(database_url, tmp_path, clock, {"telegram": SECRET}) as system:
        client = system.telegram
        assert client is not None
        url = f"http://127.0.0.1:{system.container.http_port}/telegram/webhook"
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
