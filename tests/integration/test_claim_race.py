"""Twenty workers press Claim at once: one wins, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.domain import errors
from bot.domain.clock import FixedClock
from bot.domain.model import CaseStatus, Role, Source
from bot.services import commands as c
from storage import tables as t
from tests.conftest import make_settings
from tests.integration.helpers import actor_of, add_member, intake_cmd, origin, seed_team


async def test_twenty_simultaneous_claims_have_exactly_one_winner(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(container)
        workers = [await add_member(container, 100 + i, f"Thợ {i}", Role.WORKER) for i in range(20)]
        case, created = await container.service.intake(intake_cmd("R-1"), container.uow())
        assert created

        async def press(i: int) -> str:
            cmd = c.ClaimCase(actor_of(workers[i]), Source.TELEGRAM, origin(), ref=case.ref)
            try:
                await container.service.claim(cmd, container.uow())
                return "won"
            except errors.AlreadyClaimed:
                return "lost"

        results = await asyncio.gather(*(press(i) for i in range(20)))
        assert results.count("won") == 1
        assert results.count("lost") == 19

        async with container.engine.connect() as conn:
            row = (await conn.execute(sa.select(t.cases))).one()
            claims = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.case_events)
                    .where(t.case_events.c.action == "claim")
                )
            ).scalar_one()
        winner = workers[results.index("won")]
        assert row.status == CaseStatus.CLAIMED.value
        assert row.assignee == winner.uid
        assert claims == 1
    finally:
        await container.close()
