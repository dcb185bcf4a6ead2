"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the local server (127.0.0.1:5432, reached through database `test`;
TEST_POSTGRES_URL overrides it). Each test run creates a database of its own and
drops it at the end, so two runs side by side never reset each other's tables.
When the server is not reachable the PostgreSQL half is skipped, unless
REQUIRE_POSTGRES=1, as in CI, where that is a failure instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.domain.clock import FixedClock

#: The server, through a database the user may connect to; test databases are made from here.
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
#: This test run's own database, so that runs side by side never reset each other's tables.
PG_DB = f"dispatch_test_{os.getpid()}"
PG_TEST_URL = PG_URL.rsplit("/", 1)[0] + "/" + PG_DB


async def _admin(sql: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


async def _reset_postgres(url: str) -> None:
    """An empty public schema per test: tests never see each other's rows."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        await engine.dispose()


_pg_ok: bool | None = None


async def _postgres_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        try:
            await asyncio.wait_for(_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"), 10)
            await _admin(f"CREATE DATABASE {PG_DB}")
            _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's database; a run killed before this leaves one behind, harmlessly."""
    if _pg_ok:
        with contextlib.suppress(Exception):
            asyncio.run(_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    if not await _postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"PostgreSQL is required (REQUIRE_POSTGRES=1) but {PG_URL} is not reachable"
            )
        pytest.skip("PostgreSQL not reachable")
    await _reset_postgres(PG_TEST_URL)
    yield PG_TEST_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def clock() -> FixedClock:
    # Friday 27 Nov 2026, 09:00 in Hà Nội: inside working hours.
    return FixedClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))


def make_settings(database_url: str, tmp_path: Path, **extra: object) -> Settings:
    base: dict[str, object] = {
        "database_url": database_url,
        "media_dir": tmp_path / "media",
        "intake_token": "test-intake-token",
        "admin_ids": "telegram:1",
        "telegram_bot_token": None,
        "zalo_bot_token": None,
        "policy_file": None,
        # The sandbox does not enforce Telegram's limits unless a test asks it to.
        "telegram_rate_per_chat": "off",
        "telegram_rate_per_group": "off",
        "telegram_rate_global": "off",
        # The test clock stands still, so a per-person command window would never pass;
        # tests of that limit turn it on (tests/e2e/test_abuse_limits.py).
        "user_rate_limit": "off",
    }
    base.update(extra)
    return load_settings(**base)


async def dispatchbot(*argv: str) -> int:
    """The real command line, in a thread: it runs its own event loop."""
    from bot.cli import main

    return await asyncio.to_thread(main, list(argv))
