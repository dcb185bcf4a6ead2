"""Held private messages on SQLite and PostgreSQL: kept out of the chat's queue, back in
it in their old order when the person writes, expired per person, listed for the doctor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.bootstrap import bootstrap
from bot.channels.reach import Unreach
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from storage.held_store import HeldStore, held_error, held_reason
from storage.outbox_model import ChatKey, DeliveryState
from tests.conftest import make_settings
from tests.integration.helpers import GROUP, add_member, seed_team

MINH = ChatKey("telegram", "3002")
REFUSED = "Forbidden: bot can't initiate conversation with a user"


async def test_held_rows_wait_return_in_order_and_expire(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock)
    try:
        await seed_team(container)
        await add_member(container, 3002, "Nguyễn Văn Minh", Role.WORKER)
        store, held = container.store, HeldStore(container.engine)
        for n in range(3):
            assert await store.add_once(
                MINH.channel, MINH.chat_id, {"text": f"tin {n}"}, f"t{n}", clock.now()
            )
        rows = await store.queue(MINH)
        assert [r.payload["text"] for r in rows] == ["tin 0", "tin 1", "tin 2"]
        error = held_error(Unreach.NOT_STARTED, REFUSED)
        assert held_reason(error) == "not_started"

        # Each refused row is held; the spell is named by the oldest one, so told once.
        spells = {await held.hold(row, error, clock.now()) for row in rows[:2]}
        assert spells == {rows[0].id}
        assert [r.payload["text"] for r in await store.queue(MINH)] == ["tin 2"]
        assert await store.pending_count() == 1
        people = await held.people()
        assert [(p.key, p.name, p.team_code, p.reason, p.count) for p in people] == [
            (MINH, "Nguyễn Văn Minh", "PL", "not_started", 2)
        ]
        assert people[0].oldest == clock.now() and people[0].oldest.tzinfo is not None
        plan = await held.plan(MINH, None)
        assert plan is not None and plan.name == "Nguyễn Văn Minh"
        assert [(t.channel, t.chat_id) for t in plan.targets] == [("telegram", GROUP)]
        assert await held.plan(ChatKey("telegram", "999"), None) is None  # nobody to tell

        # He writes: both are pending again, ahead of the third, in their old order.
        assert await held.release(MINH, clock.now()) == 2
        assert [r.payload["text"] for r in await store.queue(MINH)] == ["tin 0", "tin 1", "tin 2"]
        assert await held.release(MINH, clock.now()) == 0
        assert await held.people() == []

        # Held again later, then too old: failed, per person, with its last row named.
        rows = await store.queue(MINH)
        again = await held.hold(rows[1], error, clock.now())
        assert again == rows[1].id  # a new spell: the team is told again
        assert await held.expire(clock.now() - timedelta(seconds=1)) == []
        clock.advance(timedelta(hours=73))
        expired = await held.expire(clock.now() - timedelta(hours=72))
        assert [(e.key, e.count, e.reason, e.last_id) for e in expired] == [
            (MINH, 1, "not_started", rows[1].id)
        ]
        assert await held.expire(clock.now()) == []
        assert await held.release(MINH, clock.now()) == 0  # an expired row stays failed
        stats = await store.stats()
        assert stats.failed == 1 and stats.pending == 2
        assert DeliveryState.HELD.value == "held"
    finally:
        await container.close()
