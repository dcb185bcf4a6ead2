"""People and chats on the in-memory unit of work: binding and unbinding a group, a
language, and keeping a member's @username theirs alone."""

from __future__ import annotations

import pytest

from bot.domain import errors
from bot.domain.model import Role
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.services.people import (
    BindChat,
    SetLanguage,
    UnbindChat,
    bind_chat,
    recognise,
    set_language,
    team_rosters,
    unbind_chat,
)
from bot.services.ports import OutboxItem
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


ZALO_GROUP = ChatBinding("zalo", "5a1f")


def card(chat: ChatBinding, text: str) -> OutboxItem:
    return OutboxItem(chat.channel, chat.chat_id, {"text": text}, card_key="case:1", case_id=1)


async def test_unbinding_a_group_drops_what_waits_for_it_where_the_team_keeps_another(
    uow: FakeUnitOfWork,
) -> None:
    await bind_chat(BindChat(ADMIN, "PL", GROUP), uow)
    await bind_chat(BindChat(ADMIN, "PL", ZALO_GROUP), uow)
    await uow.outbox.add(card(GROUP, "PL-1 on Telegram"))
    await uow.outbox.add(card(ZALO_GROUP, "PL-1 on Zalo"))

    done = await unbind_chat(UnbindChat(ADMIN, "pl", GROUP), uow)

    assert done.team.chats == (ZALO_GROUP,) and done.dropped == 1
    assert await uow.teams.by_chat("telegram", "-100") is None
    assert uow.outbox.texts() == ["PL-1 on Zalo"]  # the twin in the other group stays
    assert [(i.chat_id, why) for i, why in uow.outbox.dropped] == [
        ("-100", "chat unbound from team PL")
    ]


async def test_the_only_group_is_kept_while_messages_wait_for_it(uow: FakeUnitOfWork) -> None:
    await bind_chat(BindChat(ADMIN, "PL", GROUP), uow)
    await uow.outbox.add(card(GROUP, "PL-1"))
    commits = uow.commits

    with pytest.raises(errors.LastChatBusy) as busy:
        await unbind_chat(UnbindChat(ADMIN, "PL", GROUP), uow)

    assert (busy.value.team_code, busy.value.waiting) == ("PL", 1)
    assert (await uow.teams.get("PL")) == Team("PL", "Phủ Lý", (GROUP,))
    assert uow.outbox.texts() == ["PL-1"] and uow.commits == commits


async def test_the_only_group_goes_when_nothing_waits_for_it(uow: FakeUnitOfWork) -> None:
    await bind_chat(BindChat(ADMIN, "PL", GROUP), uow)
    done = await unbind_chat(UnbindChat(ADMIN, "PL", GROUP), uow)
    assert done.team.chats == () and done.dropped == 0


async def test_unbinding_refuses_another_team_s_group_or_none_and_anyone_but_its_lead(
    uow: FakeUnitOfWork,
) -> None:
    await uow.teams.add(Team("LN", "Lý Nhân"))
    await bind_chat(BindChat(ADMIN, "LN", GROUP), uow)
    with pytest.raises(errors.ChatNotOfTeam) as other:
        await unbind_chat(UnbindChat(ADMIN, "PL", GROUP), uow)
    assert other.value.bound_to == "LN"
    with pytest.raises(errors.ChatNotOfTeam) as nowhere:
        await unbind_chat(UnbindChat(ADMIN, "PL", ZALO_GROUP), uow)
    assert nowhere.value.bound_to is None and nowhere.value.channel == "zalo"
    with pytest.raises(errors.UnknownTeam):
        await unbind_chat(UnbindChat(ADMIN, "XX", GROUP), uow)
    other_lead = Member("telegram:3", "Lan", Role.LEAD, "PL")
    with pytest.raises(errors.NotMember):
        await unbind_chat(
            UnbindChat(Actor(other_lead.uid, "Lan", member=other_lead), "LN", GROUP), uow
        )
    worker = Member("telegram:4", "Tâm", Role.WORKER, "LN")
    with pytest.raises(errors.Forbidden):
        await unbind_chat(UnbindChat(Actor(worker.uid, "Tâm", member=worker), "LN", GROUP), uow)
    assert (await uow.teams.get("LN")) == Team("LN", "Lý Nhân", (GROUP,))
    # The team's own lead may (`/unbindteam` in the group bound by mistake).
    lead = Member("telegram:5", "Hoa", Role.LEAD, "LN")
    done = await unbind_chat(UnbindChat(Actor(lead.uid, "Hoa", member=lead), "LN", GROUP), uow)
    assert done.team.chats == ()


async def test_rosters_list_every_team_with_its_chats_and_active_people(
    uow: FakeUnitOfWork,
) -> None:
    await uow.teams.add(Team("LN", "Lý Nhân"))
    await bind_chat(BindChat(ADMIN, "PL", GROUP), uow)
    await uow.members.add(Member("telegram:5", "Tâm", Role.WORKER, "PL", active=False))
    rosters = await team_rosters(uow)
    assert [(r.team.code, r.team.chats, r.people) for r in rosters] == [
        ("LN", (), ()),
        ("PL", (GROUP,), (MINH,)),
    ]
