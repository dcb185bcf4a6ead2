"""Reads of the KPI report: the cases a period needs, with their event history.

Two queries whatever the number of cases (cases, then all their events in one
ordered scan), so a report over a year of history stays a matter of seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.model import Action, Area, CaseKind, CaseStatus, Purpose
from bot.domain.steps import TIMELINE_ACTIONS
from bot.reports.timeline import CaseRecord, EventRecord
from storage.tables import CASES, EVENTS, MEMBERS, TEAMS

_FINISHED = (CaseStatus.CLOSED.value, CaseStatus.CANCELLED.value)
#: Only what the figures need; reminders, evidence and the like are left in the table.
#: Listed in a fixed order, so the statement's text is the same each time.
_MEASURED = sorted(a.value for a in TIMELINE_ACTIONS)


def _relevant(since: datetime, until: datetime, team: str | None) -> sa.ColumnElement[bool]:
    """Cases a period from `since` to `until` can count: received before its end, and
    received in it, still active, or touched by an event since its start.

    A case closed or cancelled with all its history before `since` counts nowhere.
    """
    touched = sa.select(EVENTS.id).where(EVENTS.case_id == CASES.id, EVENTS.at >= since).exists()
    where = sa.and_(
        CASES.received_at < until,
        sa.or_(CASES.status.not_in(_FINISHED), CASES.received_at >= since, touched),
    )
    return sa.and_(where, CASES.team_code == team) if team is not None else where


class SqlReportReads:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def case_records(
        self, since: datetime, until: datetime, team: str | None = None
    ) -> list[CaseRecord]:
        rows = (
            await self.conn.execute(
                sa.select(
                    CASES.id,
                    CASES.ref,
                    CASES.external_ref,
                    CASES.kind,
                    CASES.team_code,
                    CASES.status,
                    CASES.area,
                    CASES.purpose,
                    CASES.needs_extra_works,
                    CASES.received_at,
                    CASES.assignee,
                    CASES.satisfaction,
                )
                .where(_relevant(since, until, team))
                .order_by(CASES.id)
            )
        ).all()
        events: dict[int, list[EventRecord]] = {}
        ids = sa.select(CASES.id).where(_relevant(since, until, team)).scalar_subquery()
        result = await self.conn.execute(
            sa.select(EVENTS.case_id, EVENTS.at, EVENTS.action, EVENTS.actor)
            .where(EVENTS.case_id.in_(ids), EVENTS.action.in_(_MEASURED))
            .order_by(EVENTS.case_id, EVENTS.id)
        )
        for case_id, at, action, actor in result:
            events.setdefault(int(case_id), []).append(EventRecord(at, Action(action), actor))
        return [_record(r._mapping, events.get(int(r.id), [])) for r in rows]

    async def team_names(self) -> dict[str, str]:
        rows = await self.conn.execute(sa.select(TEAMS.code, TEAMS.name).order_by(TEAMS.code))
        return {r.code: r.name for r in rows}

    async def member_names(self) -> dict[str, tuple[str, str | None]]:
        rows = await self.conn.execute(sa.select(MEMBERS.uid, MEMBERS.name, MEMBERS.team_code))
        return {r.uid: (r.name, r.team_code) for r in rows}


def _record(m: Any, events: list[EventRecord]) -> CaseRecord:
    return CaseRecord(
        id=int(m["id"]),
        ref=m["ref"],
        external_ref=m["external_ref"],
        kind=CaseKind(m["kind"]),
        team_code=m["team_code"],
        status=CaseStatus(m["status"]),
        area=Area(m["area"]) if m["area"] else None,
        purpose=Purpose(m["purpose"]) if m["purpose"] else None,
        needs_extra_works=bool(m["needs_extra_works"]),
        received_at=m["received_at"],
        assignee=m["assignee"],
        satisfaction=m["satisfaction"],
        events=tuple(events),
    )
