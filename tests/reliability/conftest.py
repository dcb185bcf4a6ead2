"""Fixtures for the delivery and several-instance tests.

PostgreSQL tests here get a database of their own (created and dropped per test), not the
shared `test` database's schema: several instances and subprocesses hold connections for
seconds, and other suites reset that schema as they go.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import PG_URL, REQUIRE_POSTGRES


async def _admin(sql: str) -> None:
    engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


async def private_postgres() -> str:
    """A fresh, empty database on the test server; its URL."""
    name = f"rel_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    name = make_url(url).database
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_reachable: bool | None = None


async def _postgres_or_skip() -> None:
    """Only asks the server (SELECT 1): the shared schema is left alone."""
    global _reachable
    if _reachable is None:
        _reachable = False
        for attempt in range(3):  # a busy shared server may refuse one connection
            try:
                await asyncio.wait_for(_admin("SELECT 1"), 10)
                _reachable = True
                break
            except Exception:
                await asyncio.sleep(attempt + 1)
    if not _reachable:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (REQUIRE_POSTGRES=1); {PG_URL} is not reachable")
        pytest.skip("PostgreSQL not reachable")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """SQLite in a temporary folder, or a private PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'rel.db'}"
        return
    await _postgres_or_skip()
    url = await private_postgres()
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A private PostgreSQL database (tests of several instances need PostgreSQL)."""
    await _postgres_or_skip()
    url = await private_postgres()
    try:
        yield url
    finally:
        await drop_database(url)
