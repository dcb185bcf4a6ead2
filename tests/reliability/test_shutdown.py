"""Graceful shutdown: on SIGTERM the bot takes no more updates, finishes the one in
hand, sends what can be sent within SHUTDOWN_FLUSH_SECONDS, and exits 0."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from bot.domain.model import Role
from sandbox.client import SandboxClient
from sandbox.telegram import TelegramSandbox
from storage import tables as t
from tests.reliability.harness import (
    CARD_TITLE,
    GROUP,
    SECRET,
    TOKEN,
    WEBHOOK_URL,
    BotProcess,
    Db,
    Person,
    bot_env,
    bot_messages,
    control,
    free_port,
    intake_body,
    post_intake,
    running_bot,
    seed,
    wait_until,
)

MINH = Person(3002, "Minh", Role.WORKER, "minh_pl")
FLUSH = 5.0


async def test_sigterm_finishes_the_update_in_hand_flushes_what_it_can_and_exits_0(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path, [MINH])
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        minh = await client.add_user(MINH.user_id, MINH.name, username=MINH.username)
        await client.add_chat(GROUP, type="supergroup", title="Đội PL", members=[minh])
        bot = BotProcess(
            "stop",
            bot_env(
                db_url=db_url,
                sandbox=sandbox.root_url,
                port=free_port(),
                name="stop",
                telegram_mode="webhook",
                telegram_webhook_url=WEBHOOK_URL,
                telegram_webhook_secret=SECRET,
                shutdown_flush_seconds=FLUSH,
                # Three posts a minute in the group: the rest must wait past the flush.
                telegram_rate_per_group="3/60",
            ),
            tmp_path / "bot",
        )
        db = Db(db_url)
        try:
            await bot.start()
            push = {"deliver_to": f"{bot.url}/telegram/webhook", "retry_seconds": 0.2}
            await control(sandbox.root_url, "POST", "webhook", push)
            async with aiohttp.ClientSession() as http:
                for i in range(5):
                    status, _ = await post_intake(http, bot.url, intake_body(f"STOP-{i}"))
                    assert status == 201
            cards = await wait_until(
                lambda: posted(client, 3), timeout=20, what="three cards (the group's limit)"
            )

            # Minh presses Claim. The bot commits the claim, then its answer to the press
            # hangs for 3 s (a slow network), and so does its private message to Minh.
            await client.add_fault("stall", count=1, delay=3, methods=["answerCallbackQuery"])
            await client.add_fault("stall", count=1, delay=3, methods=["sendMessage"])
            first = cards[0]
            press = await client.press(
                minh, GROUP, first.message_id, first.buttons[0].callback_data or ""
            )
            await wait_until(lambda: claimed(db), timeout=20, what="the claim to be committed")

            loop = asyncio.get_running_loop()
            signalled = loop.time()
            assert await bot.terminate(timeout=30) == 0
            took = loop.time() - signalled
            assert took < 3 + FLUSH + 5, f"stopping took {took:.1f}s"
            # What cannot go within the flush (the group's limit) does not hold it up.
            assert took < 3 + FLUSH - 1, f"stopping took {took:.1f}s"

            # The update in hand was finished and acknowledged, not dropped.
            state = await control(sandbox.root_url, "GET", "webhook")
            answers = [a for a in state["attempts"] if a["update_id"] == press.update_id]
            assert [a["status"] for a in answers] == [200]
            assert (await client.callback(press)).answered
            # The private message was under way: it was let finish, and went out once.
            contact = [m for m in await bot_messages(client, minh.id) if "0912345678" in m.body]
            assert len(contact) == 1
            # Group posts held back by the rate limit stay queued for the next start.
            rows = await db.rows(sa.select(t.outbox.c.chat_id, t.outbox.c.status))
            assert {r.status for r in rows} <= {"sent", "pending", "superseded"}
            assert [r.chat_id for r in rows if r.status == "pending"]
            assert all(r.chat_id == str(GROUP) for r in rows if r.status == "pending")
            events = [e["message"] for e in bot.events()]
            assert "event loop: uvloop" in events  # the signal above reached uvloop's loop
            assert any(m.startswith("relay: flushing") for m in events)
            assert events[-1] == "stopped"
        finally:
            await bot.stop_quietly()
            await db.close()


async def posted(client: SandboxClient, n: int) -> list[object] | None:
    cards = [m for m in await bot_messages(client, GROUP) if CARD_TITLE.match(m.body)]
    return cards if len(cards) >= n else None


async def claimed(db: Db) -> bool:
    found = await db.scalar(sa.select(t.cases.c.assignee).where(t.cases.c.ref == "PL-1"))
    return found is not None


async def test_what_waits_when_the_stop_comes_is_sent_before_the_exit(
    db_url: str, tmp_path: Path
) -> None:
    """Messages queued behind a slow call: the call finishes, updates stop, the rest go."""
    await seed(db_url, tmp_path)
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        await client.add_chat(GROUP, type="supergroup", title="Đội PL")
        db = Db(db_url)
        try:
            async with (
                running_bot(
                    db_url, tmp_path, sandbox.root_url, shutdown_flush_seconds=FLUSH
                ) as bot,
                aiohttp.ClientSession() as http,
            ):
                api = f"http://127.0.0.1:{bot.http_port}"
                await client.add_fault("stall", count=1, delay=2, methods=["sendMessage"])
                for i in range(3):
                    status, _ = await post_intake(http, api, intake_body(f"FLUSH-{i}"))
                    assert status == 201
                await wait_until(
                    lambda: pending_at_least(db, 3), timeout=10, what="three posts queued"
                )
            # The context manager stopped the bot (as SIGTERM does) while the first post hung.
            cards = [m for m in await bot_messages(client, GROUP) if CARD_TITLE.match(m.body)]
            assert len(cards) == 3
            assert await db.pending() == 0
        finally:
            await db.close()


async def pending_at_least(db: Db, n: int) -> bool:
    return await db.pending() >= n
