"""The process's copy of members, teams and chat bindings (storage/directory.py), on SQLite
and PostgreSQL: read once, then served without a query, and dropped as soon as anyone,
another process included, changes the directory. A removed member is a stranger at his
very next update."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bootstrap import Container
from bot.domain.clock import SystemClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Member
from bot.services.people import recognise
from storage import tables
from storage.engine import create_engine
from storage.tables import MEMBERS, TEAM_CHATS
from storage.uow import SqlUnitOfWork
from tests.integration.helpers import GROUP, add_member

DIRECTORY = re.compile(r"\b(members|identities|teams|team_chats)\b", re.IGNORECASE)


def directory_reads(engine: AsyncEngine) -> list[str]:
    """The statements on `engine` that read or write the directory's tables, from now on."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if DIRECTORY.search(statement):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    return seen


@asynccontextmanager
async def another_process(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own, as `dispatchbot team …` or a second instance has."""
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def removed_by_sql(engine: AsyncEngine, member: Member) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(tables.members).where(MEMBERS.uid == member.uid).values(active=False)
        )


async def removed_as_remove_does(engine: AsyncEngine, member: Member) -> None:
    async with SqlUnitOfWork(engine, SystemClock()) as uow:
        await uow.members.add(replace(member, active=False, identities=()))
        await uow.commit()


async def test_the_speaker_and_the_chat_s_team_are_read_once(container: Container) -> None:
    member = await add_member(container, 11, "Minh", Role.WORKER)
    account = member.identities[0]
    assert await recognise(account, container.uow()) == member
    async with container.uow() as uow:
        team = await uow.teams.by_chat("telegram", GROUP)
        assert team is not None and team.code == "PL"
    reads = directory_reads(container.engine)
    for _ in range(3):
        assert await recognise(account, container.uow()) == member
        async with container.uow() as uow:
            assert await uow.teams.by_chat("telegram", GROUP) == team
            assert await uow.members.get(member.uid) == member
            assert await uow.teams.get("PL") == team
    assert reads == []


@pytest.mark.parametrize("remove", [removed_by_sql, removed_as_remove_does])
async def test_a_member_removed_by_another_process_is_a_stranger_at_his_next_update(
    container: Container,
    remove: Callable[[AsyncEngine, Member], Awaitable[None]],
) -> None:
    member = await add_member(container, 11, "Minh", Role.WORKER)
    account = member.identities[0]
    for _ in range(2):  # the second is served from the copy
        assert await recognise(account, container.uow()) == member
    async with another_process(container.settings.database_url) as other:
        await remove(other, member)
    assert await recognise(account, container.uow()) is None
    async with container.uow() as uow:
        found = await uow.members.get(member.uid)
        assert found is not None and not found.active


async def test_a_group_taken_off_its_team_elsewhere_shows_no_team_at_once(
    container: Container,
) -> None:
    async with container.uow() as uow:
        assert await uow.teams.by_chat("telegram", GROUP) is not None
    async with another_process(container.settings.database_url) as other, other.begin() as conn:
        await conn.execute(sa.delete(tables.team_chats).where(TEAM_CHATS.chat_id == GROUP))
    async with container.uow() as uow:
        assert await uow.teams.by_chat("telegram", GROUP) is None
        team = await uow.teams.get("PL")
        assert team is not None and team.chats == ()


async def test_the_case_counter_moving_keeps_the_copy(container: Container) -> None:
    """Every intake moves teams.next_seq: that is not a change of the directory."""
    async with container.uow() as uow:
        await uow.teams.get("PL")
    reads = directory_reads(container.engine)
    async with container.uow() as uow:
        assert await uow.cases.next_ref("PL") == "PL-1"
        await uow.commit()
    async with container.uow() as uow:
        assert await uow.teams.get("PL") is not None
    assert [s for s in reads if not s.lstrip().upper().startswith("UPDATE TEAMS")] == []


async def test_a_transaction_s_own_changes_are_never_kept_for_others(
    container: Container,
) -> None:
    member = await add_member(container, 11, "Minh", Role.WORKER)
    async with container.uow() as uow:
        await uow.members.add(replace(member, name="Minh (sai)"))
        changed = await uow.members.get(member.uid)
        assert changed is not None and changed.name == "Minh (sai)"
        await uow.teams.bind_chat("PL", ChatBinding("telegram", "-1009"))
        assert await uow.teams.by_chat("telegram", "-1009") is not None
        await uow.rollback()
    async with container.uow() as uow:
        assert await uow.members.get(member.uid) == member
        assert await uow.teams.by_chat("telegram", "-1009") is None
