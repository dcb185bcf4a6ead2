"""Webhook mode: the secret is checked (403, nothing processed), an update is processed
and committed before the 200, a replayed update_id is processed once, also when the two
deliveries arrive at the same time (two instances behind one URL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bot.domain.model import Role
from sandbox.client import SandboxClient
from sandbox.telegram import TelegramSandbox
from storage import tables as t
from tests.reliability.harness import (
    GROUP,
    SECRET,
    TOKEN,
    WEBHOOK_URL,
    Db,
    Person,
    running_bot,
    seed,
)

MINH = Person(3002, "Minh", Role.WORKER, "minh_pl")
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 100 + update_id,
            "date": 1_764_200_000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "Đội PL"},
            "from": {"id": MINH.user_id, "is_bot": False, "first_name": "Minh"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def replies(db: Db) -> int:
    return int(
        await db.scalar(
            sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.chat_id == str(GROUP))
        )
    )


async def processed(db: Db, update_id: int) -> bool:
    found = await db.scalar(
        sa.select(t.processed_updates.c.update_id).where(
            t.processed_updates.c.update_id == str(update_id)
        )
    )
    return found is not None


async def test_the_secret_is_checked_and_an_update_is_committed_before_the_200(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path, [MINH])
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        minh = await client.add_user(MINH.user_id, MINH.name, username=MINH.username)
        await client.add_chat(GROUP, type="supergroup", title="Đội PL", members=[minh])
        db = Db(db_url)
        async with (
            running_bot(
                db_url,
                tmp_path,
                sandbox.root_url,
                telegram_mode="webhook",
                telegram_webhook_url=WEBHOOK_URL,
                telegram_webhook_secret=SECRET,
            ) as bot,
            aiohttp.ClientSession() as http,
        ):
            url = f"http://127.0.0.1:{bot.http_port}/telegram/webhook"
            for headers in ({}, {HEADER: "wrong"}, {HEADER: SECRET[:-1]}):
                async with http.post(url, json=update(1, "/mine"), headers=headers) as resp:
                    assert resp.status == 403
            assert not await processed(db, 1) and await replies(db) == 0

            good = {HEADER: SECRET}
            async with http.post(url, json=update(2, "/mine"), headers=good) as resp:
                assert resp.status == 200
                # Already committed when the 200 is sent: a crash now loses nothing.
                assert await processed(db, 2) and await replies(db) == 1
            async with http.post(url, json=update(2, "/mine"), headers=good) as resp:
                assert resp.status == 200
            assert await replies(db) == 1

            # Two deliveries of one update at the same instant: processed once.
            async def deliver() -> int:
                async with http.post(url, json=update(3, "/mine"), headers=good) as resp:
                    return resp.status

            statuses = await asyncio.gather(*(deliver() for _ in range(4)))
            assert 200 in statuses
            assert await replies(db) == 2
            # A delivery that was turned away (still being processed) is retried by
            # Telegram; by then it is a known duplicate.
            assert await deliver() == 200
            assert await replies(db) == 2
        await db.close()
