"""People and chats on the in-memory unit of work: binding a group, a language, and
keeping a member's @username theirs alone."""

from __future__ import annotations

import pytest

from bot.domain import errors
from bot.domain.model import Role
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.services.people import BindChat, SetLanguage, bind_chat, recognise, set_language
from tests.unit.fakes import FakeUnitOfWork

ADMIN = Actor(uid="telegram:1", name="Quản trị", is_admin=True)
MINH = Member(
    "telegram:2", "Đỗ Minh", Role.WORKER, "PL", identities=(Identity("telegram", "2", "minh"),)
)
GROUP = ChatBinding("telegram", "-100")


@pytest.fixture
async def uow() -> FakeUnitOfWork:
    fake = FakeUnitOfWork()
    await fake.teams.add(Team("PL", "Phủ Lý"))
    await fake.members.add(MINH)
    return fake


async def test_an_admin_binds_a_group_to_a_team_named_in_any_case(uow: FakeUnitOfWork) -> None:
    team = await bind_chat(BindChat(ADMIN, "pl", GROUP), uow)
    assert (team.code, team.name) == ("PL", "Phủ Lý")
    assert await uow.teams.by_chat("telegram", "-100") is not None
    assert uow.commits == 1


async def test_only_an_admin_binds_and_a_refusal_changes_nothing(uow: FakeUnitOfWork) -> None:
    lead = Member("telegram:3", "Lan", Role.LEAD, "PL")
    with pytest.raises(errors.AdminOnly):
        await bind_chat(BindChat(Actor(lead.uid, lead.name, member=lead), "PL", GROUP), uow)
    with pytest.raises(errors.UnknownTeam) as refused:
        await bind_chat(BindChat(ADMIN, "xx", GROUP), uow)
    assert refused.value.code == "XX"
    assert await uow.teams.by_chat("telegram", "-100") is None
    assert uow.commits == 0


async def test_a_member_s_language_is_kept(uow: FakeUnitOfWork) -> None:
    await set_language(SetLanguage(MINH.uid, "en"), uow)
    member = await uow.members.get(MINH.uid)
    assert member is not None and member.lang == "en"
    assert uow.commits == 1


async def test_a_stranger_or_a_removed_member_is_nobody(uow: FakeUnitOfWork) -> None:
    assert await recognise(Identity("telegram", "99", "la"), uow) is None
    gone = Member("telegram:4", "Tâm", Role.WORKER, None, active=False)
    await uow.members.add(gone)
    assert await recognise(Identity("telegram", "4", "tam"), uow) is None
    assert uow.commits == 0


async def test_a_member_writing_as_before_changes_nothing(uow: FakeUnitOfWork) -> None:
    member = await recognise(Identity("telegram", "2", "minh"), uow)
    assert member is not None and member.uid == MINH.uid
    assert uow.commits == 0


async def test_a_renamed_member_is_found_by_the_new_name_and_only_they_hold_it(
    uow: FakeUnitOfWork,
) -> None:
    # Hùng renamed away from @hung_pl long ago; Minh has taken it since.
    renamed = (Identity("telegram", "5", "Hung_PL"),)
    hung = Member("telegram:5", "Vũ Hùng", Role.WORKER, "PL", identities=renamed)
    await uow.members.add(hung)
    member = await recognise(Identity("telegram", "2", "hung_pl"), uow)
    assert member is not None and member.uid == MINH.uid
    minh, old = await uow.members.get(MINH.uid), await uow.members.get(hung.uid)
    assert minh is not None and minh.identity_on("telegram") == Identity("telegram", "2", "hung_pl")
    assert old is not None and old.identity_on("telegram") == Identity("telegram", "5", None)
    assert uow.commits == 1
