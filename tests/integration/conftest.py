"""What the service-level tests start from: a bot (no chat channels) on the test's
database, with team PL bound to its group. A module that needs more defines its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from storage.engine import create_engine
from tests.conftest import make_settings
from tests.integration.helpers import seed_team


@pytest.fixture
async def container(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Container]:
    built = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(built)
        yield built
    finally:
        await built.close()


@pytest.fixture
async def sqlite_t(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The bot's kind of SQLite engine on a file with one table, `t (id, a UNIQUE)`: what
    the driver's own tests (test_sqlite_driver, test_sqlite_inline) run their SQL on."""
    eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with eng.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT UNIQUE)"))
    yield eng
    await eng.dispose()
