"""A commit that writes outbox rows wakes the relays of the other instances (PostgreSQL);
on SQLite there is nothing to listen to."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.domain.clock import FixedClock
from storage.engine import create_engine
from storage.outbox_wakeup import OutboxListener
from tests.conftest import make_settings
from tests.integration.helpers import intake_cmd, seed_team


async def test_another_instance_hears_outbox_commits(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    other = create_engine(database_url)  # the second instance's own engine
    woken = asyncio.Event()
    listener = OutboxListener(other, woken.set)
    try:
        listening = await listener.start()
        assert listening is database_url.startswith("postgresql")
        await seed_team(container)
        if not listening:
            return
        await container.service.intake(intake_cmd("W-1"), container.uow())  # posts a card
        await asyncio.wait_for(woken.wait(), 10)
    finally:
        await listener.stop()
        await other.dispose()
        await container.close()


async def test_an_instance_ignores_its_own_commits_but_not_an_unnamed_notice(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Its unit of work woke its relay already: hearing its own commit again would only
    cost a claim. A notice without a sender (an older version) still wakes it."""
    if not database_url.startswith("postgresql"):
        return
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    other = create_engine(database_url)
    woken: list[str] = []
    own_heard, other_heard = asyncio.Event(), asyncio.Event()

    def own() -> None:
        woken.append("own")
        own_heard.set()

    listeners = [OutboxListener(container.engine, own), OutboxListener(other, other_heard.set)]
    try:
        for listener in listeners:
            assert await listener.start()
        await seed_team(container)
        await container.service.intake(intake_cmd("W-1"), container.uow())  # posts a card
        await asyncio.wait_for(other_heard.wait(), 10)  # the other instance heard it
        async with other.connect() as conn:  # as an older version announces
            await conn.execute(sa.text("NOTIFY dispatch_outbox"))
            await conn.commit()
        await asyncio.wait_for(own_heard.wait(), 10)
        # Delivered in commit order: the card's notice came first, and was not heard.
        assert woken == ["own"]
    finally:
        for listener in listeners:
            await listener.stop()
        await other.dispose()
        await container.close()
