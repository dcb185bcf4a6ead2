"""Where to say that a chat refuses a case's messages: the team's group when a person
cannot be reached, each lead in private when the group itself is what refuses."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables
from storage.outbox_model import ChatKey, NoticePlan, NoticeTarget
from storage.tables import CASES, IDENTITIES, MEMBERS, TEAM_CHATS, TEAMS


async def notice_plan(conn: AsyncConnection, case_id: int, key: ChatKey) -> NoticePlan | None:
    """Where to say that `key` refuses the case's messages: the team's group, or,
    when the group itself is what refuses, each lead in private."""
    case = (
        await conn.execute(
            sa.select(CASES.ref, CASES.team_code, TEAMS.name, TEAMS.lang)
            .select_from(tables.cases.join(tables.teams, TEAMS.code == CASES.team_code))
            .where(CASES.id == case_id)
        )
    ).first()
    if case is None:
        return None
    chats = (
        await conn.execute(
            sa.select(TEAM_CHATS.channel, TEAM_CHATS.chat_id).where(
                TEAM_CHATS.team_code == case.team_code
            )
        )
    ).all()
    person = (
        await conn.execute(
            sa.select(MEMBERS.name)
            .select_from(
                tables.identities.join(tables.members, MEMBERS.uid == IDENTITIES.member_uid)
            )
            .where(
                IDENTITIES.channel == key.channel,
                IDENTITIES.external_id == key.chat_id,
            )
        )
    ).scalar()
    is_team_chat = any((c.channel, c.chat_id) == (key.channel, key.chat_id) for c in chats)
    if not is_team_chat:
        targets = tuple(
            NoticeTarget(c.channel, c.chat_id, case.lang)
            for c in chats
            if (c.channel, c.chat_id) != (key.channel, key.chat_id)
        )
    else:
        leads = (
            await conn.execute(
                sa.select(IDENTITIES.channel, IDENTITIES.external_id, MEMBERS.lang)
                .select_from(
                    tables.members.join(tables.identities, IDENTITIES.member_uid == MEMBERS.uid)
                )
                .where(
                    MEMBERS.team_code == case.team_code,
                    MEMBERS.role == "lead",
                    MEMBERS.active.is_(True),
                )
                .order_by(MEMBERS.uid, IDENTITIES.channel)
            )
        ).all()
        targets = tuple(
            NoticeTarget(x.channel, x.external_id, x.lang or case.lang)
            for x in leads
            if (x.channel, x.external_id) != (key.channel, key.chat_id)
        )
    recipient = person or (case.name if is_team_chat else key.chat_id)
    return NoticePlan(case.ref, case.team_code, str(recipient), targets, is_team_chat)
