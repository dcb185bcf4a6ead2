"""A commit that writes outbox rows wakes the relays of the other instances (PostgreSQL);
on SQLite there is nothing to listen to."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
