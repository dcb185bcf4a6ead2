"""Outage: the platform fails every send for 30 seconds, then recovers. Every message
arrives, in order per chat, none twice.

The 30 seconds are the sandbox's own: its clock runs SPEED times faster than the wall
clock, so the outage takes 30 / SPEED real seconds while the bot, with its default
settings, sees a platform that refuses everything for that long. RELIABILITY_SANDBOX_SPEED=1
runs it in real time.
"""

from __future__ import annotations

import os
import time
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
    TOKEN,
    Db,
    bot_messages,
    intake_body,
    post_intake,
    running_bot,
    seed,
    wait_until,
)
from tests.reliability.harness import Person as P

OUTAGE = float(os.environ.get("RELIABILITY_OUTAGE_SECONDS", "30"))  # sandbox seconds
SPEED = float(os.environ.get("RELIABILITY_SANDBOX_SPEED", "6"))


class FastClock:
    """The sandbox's clock: SPEED sandbox seconds per real second."""

    def __init__(self) -> None:
        self.origin = time.monotonic()

    def __call__(self) -> float:
        return self.origin + (time.monotonic() - self.origin) * SPEED


CASES = 12


async def test_an_outage_delays_messages_but_loses_none_and_repeats_none(
    db_url: str, tmp_path: Path
) -> None:
    minh = P(3002, "Minh", Role.WORKER, "minh_pl")
    hung = P(3003, "Hùng", Role.WORKER, "hung_pl")
    await seed(db_url, tmp_path, [minh, hung])
    sandbox_clock = FastClock()
    async with (
        TelegramSandbox(token=TOKEN, monotonic=sandbox_clock) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        users = {
            p: await client.add_user(p.user_id, p.name, username=p.username) for p in (minh, hung)
        }
        await client.add_chat(
            GROUP, type="supergroup", title="Đội PL", members=list(users.values())
        )
        db = Db(db_url)
        async with (
            running_bot(db_url, tmp_path, sandbox.root_url) as bot,
            aiohttp.ClientSession() as http,
        ):
            api = f"http://127.0.0.1:{bot.http_port}"
            await client.add_fault(
                "500", seconds=OUTAGE, methods=["sendMessage", "editMessageText"]
            )
            started = sandbox_clock()
            for i in range(CASES):
                status, _ = await post_intake(http, api, intake_body(f"OUT-{i:03d}"))
                assert status == 201
            # People act while nothing reaches them: claims, one lost race, each answered later.
            await client.send_text(users[minh], GROUP, "/claim PL-1")
            await client.send_text(users[hung], GROUP, "/claim PL-2")
            await client.send_text(users[hung], GROUP, "/claim PL-1")
            await client.send_text(users[minh], GROUP, "/claim PL-3")

            async def claimed() -> bool:
                rows = await db.rows(
                    sa.select(t.cases.c.assignee).where(t.cases.c.assignee.is_not(None))
                )
                return len(rows) == 3 and not await client.pending_updates()

            await wait_until(claimed, timeout=30, what="the claims to be processed")
            assert sandbox_clock() - started < OUTAGE, "the outage ended too soon to test"
            assert await bot_messages(client, GROUP) == []  # nothing got through yet

            await wait_until(
                lambda: drained(db), timeout=OUTAGE / SPEED + 60, what="every message after"
            )
            assert sandbox_clock() - started >= OUTAGE
            failed_calls = [c for c in await client.calls() if c.error_code == 500]
            assert failed_calls, "the outage should have refused sends"
            assert bot.relay.metrics.retries.value("telegram", "error") >= 1

            for chat in (GROUP, minh.user_id, hung.user_id):
                await assert_in_order_once(db, client, chat)
            statuses = {r.status for r in await db.rows(sa.select(t.outbox.c.status))}
            assert statuses <= {"sent", "superseded"}
            cards = [m for m in await bot_messages(client, GROUP) if CARD_TITLE.match(m.body)]
            assert len(cards) == CASES
        await db.close()


async def drained(db: Db) -> bool:
    return await db.pending() == 0


async def assert_in_order_once(db: Db, client: SandboxClient, chat: int) -> None:
    """The chat shows exactly the messages the outbox posted there, in the outbox's order;
    each card shows its latest version."""
    rows = await db.rows(
        sa.select(t.outbox)
        .where(t.outbox.c.chat_id == str(chat), t.outbox.c.status == "sent")
        .order_by(t.outbox.c.id)
    )
    posted = [r for r in rows if r.message_id is not None]
    shown = await bot_messages(client, chat)
    assert [m.message_id for m in shown] == [int(r.message_id) for r in posted], chat
    latest = {}
    for r in rows:
        if r.card_key:
            latest[r.card_key] = r.payload["text"]
    for message, row in zip(shown, posted, strict=True):
        expected = latest[row.card_key] if row.card_key else row.payload["text"]
        assert message.body.startswith(expected.split("\n")[0]), (message.body, expected)
        assert message.text == expected
