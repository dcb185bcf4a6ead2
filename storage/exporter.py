"""`dispatchbot export cases`: cases as `import cases` reads them.

The step times come from the event history (the first time each step was
reached), so an export loaded into an empty database gives the same report.
Times are written in the calendar's zone, with their offset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.model import Action, CaseKind, CaseStatus
from bot.domain.steps import STEP_OF_ACTION, TIMELINE_ACTIONS
from bot.sla.policy import Policy
from storage import tables
from storage.import_check import COLUMNS, HOLDS, KNOWN_COLUMNS, STEP_COLUMN
from storage.tables import CASES, EVENTS

#: The step each history action reached; a lead's assignment counts as the claim.
_STEP_OF_ACTION: dict[str, CaseStatus] = {
    **{action.value: status for action, status in STEP_OF_ACTION.items()},
    Action.ASSIGN.value: CaseStatus.CLAIMED,
}
_HISTORY = tuple(a.value for a in TIMELINE_ACTIONS)


def _when(at: datetime | None, tz: tzinfo) -> str:
    return at.astimezone(tz).isoformat() if at is not None else ""


async def export_rows(
    conn: AsyncConnection,
    policy: Policy,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, str]]:
    """Cases received in ``[since, until)`` (either may be None), oldest first."""
    where: list[sa.ColumnElement[bool]] = []
    if since is not None:
        where.append(CASES.received_at >= since)
    if until is not None:
        where.append(CASES.received_at < until)
    cases = (
        await conn.execute(
            sa.select(tables.cases).where(*where).order_by(CASES.received_at, CASES.id)
        )
    ).all()
    ids = sa.select(CASES.id).where(*where).scalar_subquery()
    history: dict[int, list[tuple[datetime, str]]] = {}
    for case_id, at, action in await conn.execute(
        sa.select(EVENTS.case_id, EVENTS.at, EVENTS.action)
        .where(EVENTS.case_id.in_(ids), EVENTS.action.in_(_HISTORY))
        .order_by(EVENTS.case_id, EVENTS.id)
    ):
        history.setdefault(int(case_id), []).append((at, action))
    tz = policy.calendar.tz
    return [_row(r._mapping, history.get(int(r.id), []), policy, tz) for r in cases]


def _row(
    m: Any, events: Sequence[tuple[datetime, str]], policy: Policy, tz: tzinfo
) -> dict[str, str]:
    kind = CaseKind(m["kind"])
    path = policy.workflow.steps_of(kind)
    status = CaseStatus(m["status"])
    current = CaseStatus(m["held_from"]) if m["held_from"] else status
    steps: dict[CaseStatus, datetime] = {}
    holds: list[tuple[datetime, datetime | None]] = []
    held_since: datetime | None = None
    cancelled: datetime | None = None
    for at, action in events:
        step = _STEP_OF_ACTION.get(action)
        if step is not None:
            steps.setdefault(step, at)
        elif action == Action.HOLD.value and held_since is None:
            held_since = at
        elif action in (Action.RESUME.value, Action.CANCEL.value) and held_since is not None:
            holds.append((held_since, at))
            held_since = None
        if action == Action.CANCEL.value and cancelled is None:
            cancelled = at
    if held_since is not None:
        holds.append((held_since, None))
    # A released case is open again: its claim is no step it has reached any more.
    if current in path:
        reached = set(path[: path.index(current) + 1])
        steps = {s: at for s, at in steps.items() if s in reached}
    if m["assignee"] is None:
        steps = {}
    row = {name: "" for name in KNOWN_COLUMNS}
    row.update(
        external_ref=m["external_ref"] or m["ref"],
        kind=kind.value,
        team=m["team_code"],
        area=m["area"] or "",
        purpose=m["purpose"] or "",
        customer_name=m["customer_name"],
        customer_phone=m["customer_phone"],
        address=m["customer_address"],
        description=m["description"] or "",
        received_at=_when(m["received_at"], tz),
        cancelled_at=_when(cancelled, tz) if status is CaseStatus.CANCELLED else "",
        assignee=m["assignee"] or "",
        customer_cost="" if m["customer_cost"] is None else str(m["customer_cost"]),
        utility_cost="" if m["utility_cost"] is None else str(m["utility_cost"]),
        meter_serial=m["meter_serial"] or "",
        satisfaction="" if m["satisfaction"] is None else str(m["satisfaction"]),
    )
    row[HOLDS] = ";".join(f"{_when(s, tz)}/{_when(e, tz)}" for s, e in holds)
    for step, at in steps.items():
        row[STEP_COLUMN[step]] = _when(at, tz)
    return row


def rows_to_csv(rows: Sequence[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(KNOWN_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def rows_to_xlsx(rows: Sequence[dict[str, str]], path: Path) -> Path:
    """The same cells as the CSV, as text: saved back as CSV, the sheet imports again."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "cases"
    ws.append(list(KNOWN_COLUMNS))
    for row in rows:
        ws.append([row[name] for name in KNOWN_COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


__all__ = ["COLUMNS", "export_rows", "rows_to_csv", "rows_to_xlsx"]
