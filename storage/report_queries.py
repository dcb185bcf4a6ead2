"""Reads of the KPI report: the cases a period needs, with their event history.

Two queries whatever the number of cases (cases, then all their events in one
ordered scan), so a report over a year of history stays a matter of seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.model import Action, Area, CaseKind, CaseStatus, Purpose
from bot.domain.steps import TIMELINE_ACTIONS
from bot.reports.timeline import CaseRecord, EventRecord
from storage import tables as t

_FINISHED = (CaseStatus.CLOSED.value, CaseStatus.CANCELLED.value)
#: Only what the figures need; reminders, evidence and the like are left in the table.
_MEASURED = tuple(a.value for a in TIMELINE_ACTIONS)


def _relevant(since: datetime, until: datetime, team: str | None) -> sa.ColumnElement[bool]:
    """Cases a period from `since` to `until` can count: received before its end, and
    received in it, still active, or touched by an event since its start.

    A case closed or cancelled with all its history before `since` counts nowhere.
    """
    c = t.cases.c
    touched = (
        sa.select(t.case_events.c.id)
        .where(t.case_events.c.case_id == c.id, t.case_events.c.at >= since)
        .exists()
    )
    where = sa.and_(
        c.received_at < until,
        sa.or_(c.status.not_in(_FINISHED), c.received_at >= since, touched),
    )
    return sa.and_(where, c.team_code == team) if team is not None else where


async def load_case_records(
    conn: AsyncConnection, since: datetime, until: datetime, team: str | None = None
) -> list[CaseRecord]:
    """Every case the period ``[since, until)`` can count, with its measured events."""
    c = t.cases.c
    rows = (
        await conn.execute(
            sa.select(
                c.id,
                c.ref,
                c.external_ref,
                c.kind,
                c.team_code,
                c.status,
                c.area,
                c.purpose,
                c.needs_extra_works,
                c.received_at,
                c.assignee,
                c.satisfaction,
            )
            .where(_relevant(since, until, team))
            .order_by(c.id)
        )
    ).all()
    events: dict[int, list[EventRecord]] = {}
    e = t.case_events.c
    ids = sa.select(c.id).where(_relevant(since, until, team)).scalar_subquery()
    result = await conn.execute(
        sa.select(e.case_id, e.at, e.action, e.actor)
        .where(e.case_id.in_(ids), e.action.in_(_MEASURED))
        .order_by(e.case_id, e.id)
    )
    for case_id, at, action, actor in result:
        events.setdefault(int(case_id), []).append(EventRecord(at, Action(action), actor))
    return [_record(r._mapping, events.get(int(r.id), [])) for r in rows]


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


async def team_names(conn: AsyncConnection) -> dict[str, str]:
    rows = await conn.execute(sa.select(t.teams.c.code, t.teams.c.name).order_by(t.teams.c.code))
    return {r.code: r.name for r in rows}


async def member_names(conn: AsyncConnection) -> dict[str, tuple[str, str | None]]:
    """uid → (name, team) of every member, active or not: past work keeps its author."""
    rows = await conn.execute(sa.select(t.members.c.uid, t.members.c.name, t.members.c.team_code))
    return {r.uid: (r.name, r.team_code) for r in rows}


async def existing_dedupe_keys(conn: AsyncConnection, keys: Iterable[str]) -> set[str]:
    """Which of `keys` the outbox already holds: a report already queued is not redrawn."""
    wanted = list(keys)
    if not wanted:
        return set()
    rows = await conn.execute(
        sa.select(t.outbox.c.dedupe_key).where(t.outbox.c.dedupe_key.in_(wanted))
    )
    return {str(r.dedupe_key) for r in rows}
