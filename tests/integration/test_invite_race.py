"""One person, invites of two teams, both leads press «Đồng ý» at the same moment: the
person ends up in exactly one team, the other lead is told why not, on SQLite and on
PostgreSQL (where the two transactions really run side by side)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import Actor, Identity
from bot.services.invites import InviteService, Joiner, JoinerIsMember
from tests.conftest import make_settings
from tests.integration.helpers import actor_of, add_member, seed_team

TEAMS = ("PL", "DL")


def invites(container: Container) -> InviteService:
    onboarding = container.dispatcher.onboarding
    assert onboarding is not None and onboarding.service is not None
    return onboarding.service


async def agree(container: Container, lead: Actor, team: str, code: str) -> str:
    """The lead presses «Đồng ý»; "joined", or "told" that the person is elsewhere."""
    account = Identity("telegram", lead.uid.split(":")[1])
    try:
        await invites(container).answer(lead, account, code, True, None, container.uow())
    except JoinerIsMember as e:
        assert e.team_code in TEAMS and e.team_code != team
        return "told"
    return "joined"


async def test_two_leads_agreeing_at_once_put_the_person_in_one_team(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        service = invites(container)
        leads: dict[str, Actor] = {}
        for n, team in enumerate(TEAMS):
            await seed_team(container, team, chat=f"-100{n}")
            lead = await add_member(container, 10 + n, f"Lead {team}", Role.LEAD, team)
            leads[team] = actor_of(lead)
        for attempt in range(5):  # a few rounds: the interleaving differs from run to run
            joiner = Joiner("telegram", str(500 + attempt), f"Tâm {attempt}")
            codes: dict[str, str] = {}
            for team in TEAMS:
                made = await service.create(leads[team], team, Role.WORKER, container.uow())
                await service.open(made.token, joiner, None, container.uow())
                codes[team] = made.token
            results = await asyncio.gather(
                *(agree(container, leads[team], team, codes[team]) for team in TEAMS)
            )
            assert sorted(results) == ["joined", "told"], results
            async with container.uow() as uow:
                member = await uow.members.by_identity("telegram", joiner.external_id)
            assert member is not None and member.active
            assert member.team_code == TEAMS[results.index("joined")]
    finally:
        await container.close()
