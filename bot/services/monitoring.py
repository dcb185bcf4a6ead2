"""What /healthz and /metrics ask of the store: does it answer, and how do the cases stand.

Figures that hold for the whole system are read here, so every instance behind a
load balancer shows the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.model import Workflow
from bot.services.ports import CaseQuery, CaseTally, UnitOfWork
from bot.sla.overdue import late_since

#: Most late cases looked at (they are few; this only bounds a pathological day).
LATE_LIMIT = 100_000


@dataclass(frozen=True)
class CaseFigures:
    #: Cases by team and status, ordered by team, then status.
    by_status: list[CaseTally]
    #: Team code → active cases past a due time (as /overdue counts them).
    overdue: dict[str, int]


async def store_answers(uow: UnitOfWork) -> None:
    """One round trip; raises when the store does not answer."""
    async with uow:
        await uow.ping()


async def case_figures(uow: UnitOfWork, workflow: Workflow, now: datetime) -> CaseFigures:
    async with uow:
        by_status = await uow.cases.tally()
        late = await uow.cases.find(CaseQuery(late_at=now, limit=LATE_LIMIT))
    overdue: dict[str, int] = {}
    for case in late:
        if late_since(case, now, workflow) is not None:
            overdue[case.team_code] = overdue.get(case.team_code, 0) + 1
    return CaseFigures(by_status, overdue)
