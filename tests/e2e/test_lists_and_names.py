"""Smaller holes an outside probe found (issue 12, item 7), played through the running
bot and the Telegram sandbox on SQLite and PostgreSQL:

- `/open` with over 200 open cases said "(200)" and never reached the rest;
- after a rename two members could hold one @username, and `/assign @name` (and
  `/remove @name`) picked either;
- `/assign` to another team's worker answered "you are not a member", as if about the lead.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from bot.domain.model import Area, CaseKind, Customer, Purpose, Role, Source
from bot.domain.people import Actor, Identity, Member
from bot.services import commands as c
from sandbox.client import ChatMessage
from storage import tables as t
from tests.e2e.conftest import GROUP, System, new_connection
from tests.e2e.fieldkit import bot_message, press, tr

OPEN_CASES = 205
IMPORTER = Actor(uid="import:probe", name="import", is_system=True)


async def file_quietly(s: System, count: int) -> list[str]:
    """Open cases of PL as an import files them: no card each, so no wait on the group."""
    refs = []
    for n in range(count):
        case, _ = await s.container.service.intake(
            c.IntakeCase(
                actor=IMPORTER,
                source=Source.IMPORT,
                origin=None,
                kind=CaseKind.NEW_CONNECTION,
                team_code="PL",
                customer=Customer(f"Khách {n}", "0912345678", f"{n} Lê Lợi, Phủ Lý"),
                description="",
                external_ref=f"BULK-{n}",
                area=Area.URBAN,
                purpose=Purpose.DOMESTIC,
            ),
            s.container.uow(),
        )
        refs.append(str(case.ref))
    return refs


def refs_on(page: ChatMessage) -> list[str]:
    return [b.text.split(" · ")[0].removeprefix("📋 ") for b in page.buttons if "📋" in b.text]


async def test_open_counts_every_case_and_pages_reach_the_last(system: System) -> None:
    s = system
    refs = await file_quietly(s, OPEN_CASES)
    page = await s.say(s.lead, "/open")
    pages = -(-OPEN_CASES // 10)
    title = tr("vi", "list.open_title", count=OPEN_CASES)
    assert page.body.split("\n")[0] == tr("vi", "list.page", title=title, page=1, pages=pages)
    seen = refs_on(page)
    for n in range(2, pages + 1):
        await press(s, s.lead, page, tr("vi", "list.next"))
        page = await bot_message(s, GROUP, after=page.message_id, contains=f" {n}/{pages}")
        seen += refs_on(page)
    assert seen == refs  # every case once, oldest first, the last page included
    assert [b.text for b in page.buttons if "📋" not in b.text] == [tr("vi", "list.prev")]


async def add_member(s: System, tg_id: int, name: str, username: str, team: str) -> Member:
    member = Member(
        f"telegram:{tg_id}",
        name,
        Role.WORKER,
        team,
        None,
        (Identity("telegram", str(tg_id), username),),
    )
    async with s.container.uow() as uow:
        await uow.members.add(member)
        await uow.commit()
    return member


async def usernames(s: System) -> dict[str, str | None]:
    async with s.container.engine.connect() as conn:
        rows = await conn.execute(sa.select(t.identities.c.member_uid, t.identities.c.username))
        return {uid: name for uid, name in rows}


async def test_a_username_two_people_hold_is_refused_until_its_owner_writes(
    system: System,
) -> None:
    s = system
    # Nguyễn Văn Tâm was @tam_pl and renamed himself; Lê Thị Tâm took @tam_pl since.
    old = await s.client.add_user(3010, "Nguyễn Văn Tâm", username="tam_cu")
    new = await s.client.add_user(3011, "Lê Thị Tâm", username="tam_pl")
    for user in (old, new):
        await s.client.add_member(GROUP, user)
    stale = await add_member(s, 3010, "Nguyễn Văn Tâm", "tam_pl", "PL")
    owner = await add_member(s, 3011, "Lê Thị Tâm", "tam_pl", "PL")
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card(ref)

    refused = await s.say(s.lead, f"/assign {ref} @tam_pl")
    removed = await s.say(s.lead, "/remove @tam_pl")
    case = await s.case(ref)
    assert (case["status"], case["assignee"]) == ("open", None)
    async with s.container.uow() as uow:
        assert [m.uid for m in await uow.members.in_team("PL") if m.name.endswith("Tâm")] == [
            owner.uid,
            stale.uid,
        ]
    people = f"{stale.name} ({stale.uid}), {owner.name} ({owner.uid})"
    want = tr("vi", "err.ambiguous_member", who="@tam_pl", people=people)
    assert (refused.body, removed.body) == (want, want)

    # The name's owner writes (anything): the stale holder no longer answers to it.
    await s.client.send_text(new, GROUP, "Chào cả đội")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while (await usernames(s))[stale.uid] is not None:
        assert loop.time() < deadline, "the stale @username was not cleared"
        await asyncio.sleep(0.02)
    assert (await usernames(s))[owner.uid] == "tam_pl"
    assigned = await s.say(s.lead, f"/assign {ref} @tam_pl")
    assert assigned.body == tr("vi", "reply.assigned", ref=ref, name=owner.name)
    assert (await s.case(ref))["assignee"] == owner.uid


async def test_assigning_another_teams_worker_names_that_worker(system: System) -> None:
    s = system
    worker = await add_member(s, 3012, "Đỗ Minh", "do_minh_dl", "DL")
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card(ref)
    for who in ("@do_minh_dl", worker.uid):
        answer = await s.say(s.lead, f"/assign {ref} {who}")
        assert "Đỗ Minh" in answer.body, answer.body  # not "you are not a member"
        assert answer.body == tr("vi", "err.not_in_team", name="Đỗ Minh", team="PL")
    assert (await s.case(ref))["status"] == "open"
