"""What the intake API reads: a case with its history, a photo, a list of cases.

Reads check reach like writes do: a token scoped to some teams sees only their cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.evidence import Evidence, EvidenceKind
from bot.domain.model import Case, HistoryEntry, Workflow
from bot.domain.people import Actor
from bot.services.permissions import require_reach
from bot.services.ports import CaseQuery, UnitOfWork
from bot.sla.overdue import late_since


@dataclass(frozen=True)
class CaseFile:
    """A case with all that is recorded about it."""

    case: Case
    history: list[HistoryEntry]
    evidence: list[Evidence]


async def team_exists(uow: UnitOfWork, code: str) -> bool:
    async with uow:
        return await uow.teams.get(code) is not None


async def case_file(uow: UnitOfWork, ref: str, actor: Actor) -> CaseFile | None:
    """None when there is no such case; TeamNotAllowed outside the actor's teams."""
    async with uow:
        case = await uow.cases.get_by_ref(ref)
        if case is None or case.id is None:
            return None
        require_reach(actor, case.team_code)
        history = await uow.cases.history(case.id)
        evidence = await uow.evidence.for_case(case.id)
    return CaseFile(case, history, evidence)


@dataclass(frozen=True)
class KeptPhoto:
    ref: str
    evidence_id: int
    #: Relative to MEDIA_DIR.
    path: str
    mime: str | None


async def evidence_photo(
    uow: UnitOfWork, ref: str, evidence_id: int, actor: Actor
) -> KeptPhoto | None:
    """A photo kept as evidence of the case; None for anything else (or nothing)."""
    async with uow:
        case = await uow.cases.get_by_ref(ref)
        if case is None or case.id is None:
            return None
        require_reach(actor, case.team_code)
        item = await uow.evidence.get(case.id, evidence_id)
    if item is None or item.kind is not EvidenceKind.PHOTO or item.path is None:
        return None
    return KeptPhoto(case.ref, item.id, item.path, item.mime)


async def find_cases(
    uow: UnitOfWork, query: CaseQuery, workflow: Workflow, *, late_only: bool, now: datetime
) -> list[Case]:
    """The cases `query` asks for; with `late_only`, those late by the one lateness rule."""
    async with uow:
        cases = await uow.cases.find(query)
    if late_only:
        cases = [x for x in cases if late_since(x, now, workflow) is not None]
    return cases
