"""A member the process's copy of the directory knows is recognised without a transaction
(handlers/request.py); the update's first unit of work checks the copy's version before
anything else, and the dispatcher handles the update again from the database when it moved
(bot/services/assumed.py). On SQLite and PostgreSQL, through the real dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bootstrap import Container
from bot.channels.base import (
    CallbackPress,
    ChannelAddress,
    ChatKind,
    HandleResult,
    Inbound,
    InboundUser,
)
from bot.domain.clock import SystemClock
from bot.domain.model import Role
from bot.domain.people import Member
from handlers.callbacks import ButtonAction, CallbackData, HeldPress
from handlers.request import Identified
from handlers.unheard import Held
from storage import tables
from storage.engine import create_engine
from storage.tables import MEMBERS
from storage.uow import SqlUnitOfWork
from tests.integration.helpers import GROUP, add_member, intake_cmd

WORKER = 11


def transactions(engine: AsyncEngine) -> list[str]:
    """A note per transaction begun on `engine` from now on (BEGIN on either database)."""
    begun: list[str] = []
    event.listen(engine.sync_engine, "begin", lambda _conn: begun.append("BEGIN"))
    return begun


_ids = iter(range(1000, 10**6))


def said(member: Member, text: str, *, private: bool = False) -> Inbound:
    """`text` from `member`'s Telegram account, in the team's group or his private chat."""
    ident = member.identities[0]
    chat = ident.external_id if private else GROUP
    return Inbound(
        address=ChannelAddress("telegram", chat),
        chat_kind=ChatKind.PRIVATE if private else ChatKind.GROUP,
        user=InboundUser(ident.external_id, member.name, ident.username, "vi"),
        text=text,
        message_id=str(next(_ids)),
    )


def pressed(member: Member, data: str) -> Inbound:
    return replace(said(member, ""), callback=CallbackPress(str(next(_ids)), data))


async def new_case(container: Container) -> str:
    case, _ = await container.service.intake(intake_cmd(), container.uow())
    return case.ref


async def case_row(container: Container, ref: str) -> Any:
    async with container.engine.connect() as conn:
        return (await conn.execute(sa.select(tables.cases).where(tables.cases.c.ref == ref))).one()


async def outbox_texts(container: Container, chat: str) -> list[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(tables.outbox.c.payload)
            .where(tables.outbox.c.chat_id == chat)
            .order_by(tables.outbox.c.id)
        )
        return [str(payload.get("text", "")) for (payload,) in rows]


async def removed_elsewhere(database_url: str, member: Member) -> None:
    """`dispatchbot member remove`, or a second instance, or SQL by hand: another engine."""
    other = create_engine(database_url)
    try:
        async with other.begin() as conn:
            await conn.execute(
                sa.update(tables.members).where(MEMBERS.uid == member.uid).values(active=False)
            )
    finally:
        await other.dispose()


async def someone_added_elsewhere(database_url: str, member: Member) -> None:
    """A change of the directory that is nothing to the speaker: the version moves all the same."""
    other = create_engine(database_url)
    try:
        async with SqlUnitOfWork(other, SystemClock()) as uow:
            await uow.members.add(replace(member, uid="telegram:77", name="Lan", identities=()))
            await uow.commit()
    finally:
        await other.dispose()


def between_identify_and_command(
    container: Container, change: Callable[[], Awaitable[None]]
) -> list[Identified]:
    """Run `change` right after the next speaker recognised from the copy, before the
    command's first unit of work; every answer the identify step gives is noted."""
    identify = container.dispatcher.identify
    original = identify.speaker
    answers: list[Identified] = []

    async def speaker(inbound: Inbound, *, from_copy: bool) -> Identified:
        found = await original(inbound, from_copy=from_copy)
        answers.append(found)
        if found.assumed_version is not None and len(answers) == 1:
            await change()
        return found

    identify.speaker = speaker  # type: ignore[method-assign]
    return answers


async def handle(container: Container, inbound: Inbound) -> HandleResult:
    return await container.dispatcher.handle(inbound)


async def test_a_known_member_s_update_costs_one_transaction_fewer(
    container: Container,
) -> None:
    minh = await add_member(container, WORKER, "Minh", Role.WORKER)
    begun = transactions(container.engine)
    await handle(container, said(minh, "/start", private=True))  # first sight: the database
    first, begun[:] = len(begun), []
    await handle(container, said(minh, "/start", private=True))  # the copy knows him now
    assert len(begun) == first - 1

    ref = await new_case(container)
    begun.clear()
    result = await handle(container, pressed(minh, CallbackData(ButtonAction.CLAIM, ref).encode()))
    assert result.alert is False
    assert len(begun) == 1  # the claim's own: identify joined it
    row = await case_row(container, ref)
    assert row.status == "claimed" and row.assignee == minh.uid


async def test_a_known_member_s_step_in_the_group_costs_one_transaction(
    container: Container,
) -> None:
    """`/survey REF note` in the group: the group's team (for reading REF) comes from the
    copy too, checked with the speaker by the step's own unit of work."""
    minh = await add_member(container, WORKER, "Minh", Role.WORKER)
    await handle(container, said(minh, "/start", private=True))
    refs = [await new_case(container) for _ in range(2)]
    for ref in refs:
        await handle(container, pressed(minh, CallbackData(ButtonAction.CLAIM, ref).encode()))
    await handle(container, said(minh, f"/survey {refs[0]} đã khảo sát"))  # the group, read
    begun = transactions(container.engine)

    await handle(container, said(minh, f"/survey {refs[1]} đã khảo sát"))

    assert len(begun) == 1
    row = await case_row(container, refs[1])
    assert row.status == "surveyed"


async def test_a_removal_between_identify_and_the_command_is_caught(
    container: Container,
) -> None:
    minh = await add_member(container, WORKER, "Minh", Role.WORKER)
    await handle(container, said(minh, "/start", private=True))
    ref = await new_case(container)
    url = container.settings.database_url
    answers = between_identify_and_command(container, lambda: removed_elsewhere(url, minh))

    await handle(container, pressed(minh, CallbackData(ButtonAction.CLAIM, ref).encode()))

    assert [a.assumed_version is not None for a in answers] == [True, False]
    assert answers[1].request.is_stranger  # handled again, as the stranger he now is
    row = await case_row(container, ref)
    assert row.status == "open" and row.assignee is None


async def test_a_removed_member_s_private_command_is_answered_as_a_stranger_s(
    container: Container,
) -> None:
    minh = await add_member(container, WORKER, "Minh", Role.WORKER)
    await handle(container, said(minh, "/start", private=True))
    chat = minh.identities[0].external_id
    before = len(await outbox_texts(container, chat))
    url = container.settings.database_url
    answers = between_identify_and_command(container, lambda: removed_elsewhere(url, minh))

    await handle(container, said(minh, "/start", private=True))

    assert len(answers) == 2
    texts = (await outbox_texts(container, chat))[before:]
    assert len(texts) == 1  # one answer: the first run wrote nothing
    assert minh.uid in texts[0] and "chưa là thành viên" in texts[0]


async def test_an_unrelated_change_costs_a_repeat_and_nothing_else(
    container: Container,
) -> None:
    minh = await add_member(container, WORKER, "Minh", Role.WORKER)
    await handle(container, said(minh, "/start", private=True))
    ref = await new_case(container)
    url = container.settings.database_url
    answers = between_identify_and_command(container, lambda: someone_added_elsewhere(url, minh))

    await handle(container, pressed(minh, CallbackData(ButtonAction.CLAIM, ref).encode()))

    assert [a.assumed_version is not None for a in answers] == [True, False]
    row = await case_row(container, ref)
    assert row.status == "claimed" and row.assignee == minh.uid
    async with container.engine.connect() as conn:
        claims = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(tables.case_events)
                .where(tables.case_events.c.action == "claim")
            )
        ).scalar_one()
    assert claims == 1


async def test_a_note_kept_in_memory_survives_the_repeat(container: Container) -> None:
    """What a handler keeps in memory (a reply to a card, waiting for «keep as note») is
    given away only after the speaker was checked: the repeat finds it still there."""
    minh = await add_member(container, WORKER, "Minh", Role.WORKER)
    await handle(container, said(minh, "/start", private=True))
    ref = await new_case(container)
    unheard = container.dispatcher.unheard
    held_id = unheard._keep(Held(minh.uid, container.clock.now(), note="khách hẹn 2h", ref=ref))
    url = container.settings.database_url
    answers = between_identify_and_command(container, lambda: someone_added_elsewhere(url, minh))

    result = await handle(container, pressed(minh, HeldPress(ref, held_id).encode()))

    assert result.toast is None  # not "gone": the item was there for the repeat
    assert [a.assumed_version is not None for a in answers] == [True, False]
    async with container.engine.connect() as conn:
        notes = (
            await conn.execute(
                sa.select(tables.case_events.c.note).where(tables.case_events.c.action == "note")
            )
        ).scalars()
        assert list(notes) == ["khách hẹn 2h"]
