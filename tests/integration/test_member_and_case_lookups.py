"""Storage look-ups behind `/open` paging and `/assign @name`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.bootstrap import Container, bootstrap
from bot.domain import errors
from bot.domain.clock import FixedClock
from bot.domain.model import CaseStatus, Role
from bot.domain.people import Identity
from bot.services.ports import CaseQuery
from tests.conftest import make_settings
from tests.integration.helpers import add_member, intake_cmd, seed_team


@pytest.fixture
async def container(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Container]:
    built = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(built)
        await seed_team(built, "DL", "-1002")
        yield built
    finally:
        await built.close()


async def test_count_gives_the_whole_list_and_find_one_page_of_it(container: Container) -> None:
    refs = []
    for n in range(23):
        case, _ = await container.service.intake(intake_cmd(f"P-{n}"), container.uow())
        refs.append(case.ref)
    query = CaseQuery(team_code="PL", statuses=(CaseStatus.OPEN,), limit=10)
    async with container.uow() as uow:
        assert await uow.cases.count(query) == 23
        assert await uow.cases.count(CaseQuery(team_code="DL")) == 0
        pages = [
            [x.ref for x in await uow.cases.find(replace(query, offset=start))]
            for start in (0, 10, 20)
        ]
    assert pages == [refs[:10], refs[10:20], refs[20:]]


async def test_a_username_held_twice_is_ambiguous_until_released(container: Container) -> None:
    first = await add_member(container, 11, "Nguyễn Văn Tâm", Role.WORKER)
    second = await add_member(container, 12, "Lê Thị Tâm", Role.WORKER, "DL")
    gone = await add_member(container, 13, "Trần Tâm", Role.WORKER)
    async with container.uow() as uow:
        for member in (first, second, gone):
            await uow.members.update_identity(
                member.uid, Identity("telegram", member.uid.split(":")[1], "Tam")
            )
        await uow.members.add(replace(gone, active=False, identities=()))  # as /remove does
        await uow.commit()
    async with container.uow() as uow:
        with pytest.raises(errors.AmbiguousMember) as caught:
            await uow.members.by_username("@tam")
        # A removed member is nobody's namesake.
        assert caught.value.candidates == ((first.uid, first.name), (second.uid, second.name))
        # The name's owner writes: the other holders on that channel let go of it.
        mine = Identity("telegram", "12", "tam")
        assert await uow.members.release_username(mine) == 2
        assert await uow.members.release_username(mine) == 0
        await uow.commit()
    async with container.uow() as uow:
        found = await uow.members.by_username("@TAM")
        assert found is not None and found.uid == second.uid
        other = await uow.members.get(first.uid)
        assert other is not None and other.identities[0].username is None
