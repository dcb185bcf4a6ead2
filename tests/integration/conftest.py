"""What the service-level tests start from: a bot (no chat channels) on the test's
database, with team PL bound to its group. A module that needs more defines its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
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
