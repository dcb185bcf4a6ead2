"""An intake over HTTP is one unit of work, and answers as if it had read the case back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import Container
from bot.domain.clock import FixedClock
from bot.http import CONTAINER, build_http_app
from storage import tables as t
from tests.http.test_intake_api import (
    AUTH,
    TOKENS,
    Client,
    _container,
    assert_nothing_stored,
    count,
    intake,
)


@pytest.fixture
async def desk(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Client]:
    container = await _container(database_url, tmp_path, clock, intake_tokens=TOKENS)
    try:
        async with TestClient(TestServer(build_http_app(container))) as client:
            yield client
    finally:
        await container.close()


def container_of(client: Client) -> Container:
    assert client.app is not None
    return client.app[CONTAINER]


def transactions(container: Container) -> list[str]:
    """Every transaction begun on the container's engine from now on."""
    begun: list[str] = []
    sa.event.listen(container.engine.sync_engine, "begin", lambda _conn: begun.append("BEGIN"))
    return begun


async def test_a_new_case_is_filed_and_answered_in_one_transaction(desk: Client) -> None:
    begun = transactions(container_of(desk))
    resp = await desk.post("/api/v1/cases", json=intake(), headers=AUTH)
    assert resp.status == 201
    assert begun == ["BEGIN"]


async def test_the_answer_to_an_intake_is_what_reading_the_case_gives(desk: Client) -> None:
    body = intake(received_at="2026-11-25T01:15:00.123456Z", needs_extra_works=True)
    filed = await desk.post("/api/v1/cases", json=body, headers=AUTH)
    assert filed.status == 201
    read = await desk.get("/api/v1/cases/PL-1", headers=AUTH)
    assert await filed.read() == await read.read()  # byte for byte


async def test_an_unknown_team_alone_is_named_by_the_intake_itself(desk: Client) -> None:
    resp = await desk.post("/api/v1/cases", json=intake(team="XX"), headers=AUTH)
    assert resp.status == 422
    assert await resp.json() == {
        "error": "invalid case",
        "fields": {"team": "No team with this code."},
    }
    await assert_nothing_stored(container_of(desk))


async def test_a_retry_naming_an_unknown_team_is_a_bad_team_not_a_reused_ref(
    desk: Client,
) -> None:
    assert (await desk.post("/api/v1/cases", json=intake(), headers=AUTH)).status == 201
    resp = await desk.post("/api/v1/cases", json=intake(team="XX"), headers=AUTH)
    assert resp.status == 422
    assert set((await resp.json())["fields"]) == {"team"}
    assert await count(container_of(desk), t.cases) == 1
