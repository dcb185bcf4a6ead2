"""The running bot's own scheduler reminds about a late case: once, then at the policy's pace.

No pass is called by hand here: `dispatchbot run`'s scheduler ticks every 0.2 s of
wall time, and the application's clock (fixed, moved by the test) decides what is due.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.domain.clock import FixedClock
from bot.runner import Pass
from storage import tables as t
from storage.outbox_store import DeliveryState
from tests.e2e.conftest import CAST, CHANNELS, Stage, new_connection, running_stage

TICK = 0.2


async def passes_after(stage: Stage, count: float) -> None:
    """Wait (with a deadline) until the scheduler has run `count` more reminder passes."""
    metrics = stage.container.relay.metrics
    start = metrics.passes.value(Pass.REMINDERS.value, "ok")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while metrics.passes.value(Pass.REMINDERS.value, "ok") < start + count:
        assert loop.time() < deadline, "the scheduler stopped ticking"
        await asyncio.sleep(TICK / 4)


async def chat_drained(stage: Stage, chat: str) -> None:
    """Nothing waits in the outbox for `chat` (other teams' chats may be on channels
    this stage does not run, so the whole outbox never drains)."""
    o = t.outbox.c
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        async with stage.container.engine.connect() as conn:
            pending = await conn.scalar(
                sa.select(sa.func.count()).where(
                    o.chat_id == chat, o.status == DeliveryState.PENDING.value
                )
            )
        if not pending:
            return
        assert loop.time() < deadline, f"{pending} message(s) for {chat} still waiting"
        await asyncio.sleep(TICK / 4)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_long_late_case_is_reminded_by_the_running_bot_once_then_at_the_pace(
    database_url: str, tmp_path: Path, clock: FixedClock, channel: str
) -> None:
    where = dict.fromkeys(CAST, channel)
    async with running_stage(
        database_url, tmp_path, clock, where, reminder_interval_seconds=TICK
    ) as stage:
        status, body = await stage.intake(new_connection(received_at="2026-11-20T08:00:00+07:00"))
        assert status == 201
        ref = body["ref"]
        phone, group = stage.phones[channel], stage.groups[channel]

        first = await phone.wait_for(group, f"⏰ {ref} ")  # within a tick or two
        assert "chưa ai nhận" in first.body
        await passes_after(stage, 5)  # five more passes at the same instant: nothing new
        await chat_drained(stage, group)
        reminders = [m for m in await phone.messages(group) if m.body.startswith(f"⏰ {ref} ")]
        assert len(reminders) == 1

        clock.advance(timedelta(hours=2))  # the policy's interval, all in working hours
        await passes_after(stage, 2)
        await chat_drained(stage, group)
        reminders = [m for m in await phone.messages(group) if m.body.startswith(f"⏰ {ref} ")]
        assert len(reminders) == 2
