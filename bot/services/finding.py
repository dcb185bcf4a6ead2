"""What people look up: `/find`, `/board`, a clerk's `/mine`, and a case with all it
carries. The chat and the lead's board (bot/webapp) read through these alike, so both
show exactly what the person may see: the teams of `visible_teams`, the phone whole
only to the one who has the case (`sees_full_phone`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from bot.domain import errors
from bot.domain.evidence import Evidence
from bot.domain.folding import fold
from bot.domain.model import Action, Case, CaseStatus, HistoryEntry, Role, Workflow
from bot.domain.people import Actor, Member
from bot.domain.phone import PhoneError, normalize_phone
from bot.domain.steps import ACTION_OF_STEP
from bot.services.permissions import authorize, can_view, visible_teams
from bot.services.ports import CaseQuery, CaseSearch, UnitOfWork
from bot.sla.overdue import late_since

#: Longest search text read, and most words: enough for a name and a number.
MAX_SEARCH: Final = 80
MAX_WORDS: Final = 6
#: Most active cases a board shows: a team works a few dozen at once.
BOARD_LIMIT: Final = 1000


def read_search(text: str) -> CaseSearch | None:
    """What a typed search asks for; None when there is nothing to look for.

    Words are folded (`tran van hung` finds "Trần Văn Hưng"). A phone number counts
    only whole, however it is typed: a piece of one would let a group guess the digits
    its cards mask. A whole number is looked up on its own, by its index.
    """
    text = " ".join(text.split())[:MAX_SEARCH]
    words = tuple(dict.fromkeys(fold(text).split()))[:MAX_WORDS]
    if not words:
        return None
    try:
        return CaseSearch(phone=normalize_phone(text))
    except PhoneError:
        pass
    ref = text.upper() if len(words) == 1 and "-" in text else None
    return CaseSearch(words=words, ref=ref)


def scope_of(actor: Actor, team: str | None) -> frozenset[str] | None:
    """The teams a look-up covers: the chat's team (which the actor must see), or all
    the actor sees (None: every team)."""
    if team is not None:
        if not can_view(actor, team):
            raise errors.NotMember(team)
        return frozenset({team})
    return visible_teams(actor)


@dataclass(frozen=True)
class Found:
    total: int
    cases: tuple[Case, ...]


async def find(
    uow: UnitOfWork,
    actor: Actor,
    search: CaseSearch,
    *,
    team: str | None,
    offset: int = 0,
    limit: int = 10,
    active_only: bool = False,
) -> Found:
    """A page of the cases `search` matches among those the actor may see, newest first
    (the case whose ref was typed first of all)."""
    query = CaseQuery(
        team_codes=scope_of(actor, team),
        search=search,
        newest_first=True,
        active_only=active_only,
        limit=limit,
        offset=offset,
    )
    async with uow:
        total = await uow.cases.count(query)
        cases = await uow.cases.find(query)
    return Found(total, tuple(cases))


def mine_query(actor: Actor) -> CaseQuery:
    """`/mine`: a clerk's are the cases she filed (newest first, finished ones too: she
    answers the customer about them); anyone else's, the active cases they have."""
    if actor.has_role(Role.CLERK):
        return CaseQuery(filed_by=actor.uid, newest_first=True)
    return CaseQuery(assignee=actor.uid, active_only=True)


# --------------------------------------------------------------------------- board


@dataclass(frozen=True)
class WorkerLoad:
    """One person of the team and the active cases they have."""

    member: Member
    cases: tuple[Case, ...]
    late: frozenset[str] = frozenset()  # refs of their overdue cases

    @property
    def count(self) -> int:
        return len(self.cases)


@dataclass(frozen=True)
class TeamBoard:
    """Who has what in one team, with the overdue cases marked by the one lateness rule."""

    team: str
    workers: tuple[WorkerLoad, ...]
    unclaimed: tuple[Case, ...]
    late: frozenset[str] = field(default_factory=frozenset)

    def load_of(self, uid: str) -> int:
        return next((w.count for w in self.workers if w.member.uid == uid), 0)


async def team_board(
    uow: UnitOfWork, actor: Actor, team: str, now: datetime, workflow: Workflow
) -> TeamBoard:
    if not can_view(actor, team):
        raise errors.NotMember(team)
    query = CaseQuery(team_code=team, active_only=True, limit=BOARD_LIMIT)
    async with uow:
        cases = await uow.cases.find(query)
        people = {m.uid: m for m in await uow.members.in_team(team)}
        for uid in {c.assignee for c in cases if c.assignee and c.assignee not in people}:
            moved = await uow.members.get(uid)  # moved or removed since: still has it
            if moved is not None:
                people[uid] = moved
    late = frozenset(c.ref for c in cases if late_since(c, now, workflow) is not None)
    workers = tuple(
        WorkerLoad(member, own, frozenset(c.ref for c in own) & late)
        for member in sorted(people.values(), key=lambda m: (m.name, m.uid))
        if (own := tuple(c for c in cases if c.assignee == member.uid))
        or (member.active and member.team_code == team and member.role is not Role.CLERK)
    )
    unclaimed = tuple(c for c in cases if c.assignee is None)
    return TeamBoard(team, workers, unclaimed, late)


# --------------------------------------------------------------------------- one case


@dataclass(frozen=True)
class CaseSheet:
    """A case with all that is recorded about it, and the names behind the uids."""

    case: Case
    history: tuple[HistoryEntry, ...]
    evidence: tuple[Evidence, ...]
    names: dict[str, str]
    assignee: Member | None


async def visible_case(uow: UnitOfWork, actor: Actor, ref: str) -> Case:
    """The case `ref`, if `actor` may see it; inside the caller's `async with uow`."""
    case = await uow.cases.get_by_ref(ref)
    if case is None or case.id is None:
        raise errors.CaseNotFound(ref)
    if not can_view(actor, case.team_code):
        raise errors.NotMember(case.team_code)
    return case


async def case_sheet(uow: UnitOfWork, actor: Actor, ref: str) -> CaseSheet:
    async with uow:
        case = await visible_case(uow, actor, ref)
        assert case.id is not None
        history = tuple(await uow.cases.history(case.id))
        evidence = tuple(await uow.evidence.for_case(case.id))
        assignee = await uow.members.get(case.assignee) if case.assignee else None
        names = await _names(uow, {h.actor for h in history} | {e.actor for e in evidence})
    return CaseSheet(case, history, evidence, names, assignee)


async def _names(uow: UnitOfWork, uids: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for uid in uids:
        who = await uow.members.get(uid)
        names[uid] = who.name if who is not None else uid
    return names


#: What a lead (or the assignee) may do to a case besides its next step.
CASE_ACTIONS: Final = (Action.ASSIGN, Action.HOLD, Action.RESUME, Action.CANCEL, Action.CLOSE)


def allowed_actions(actor: Actor, case: Case, workflow: Workflow) -> tuple[Action, ...]:
    """The actions `actor` may take on `case` now: the permission table and the state."""
    allowed: list[Action] = []
    step = workflow.next_step(case.kind, case.status)
    next_action = ACTION_OF_STEP.get(step) if step else None
    candidates = [*CASE_ACTIONS]
    if next_action is not None and next_action not in candidates:
        candidates.insert(0, next_action)
    for action in candidates:
        if not _state_allows(case, action, workflow):
            continue
        try:
            authorize(actor, action, case)
        except errors.DomainError:
            continue
        allowed.append(action)
    return tuple(allowed)


def _state_allows(case: Case, action: Action, workflow: Workflow) -> bool:
    if not case.is_active:
        return False
    on_hold = case.status is CaseStatus.ON_HOLD
    if action is Action.RESUME:
        return on_hold
    if action is Action.HOLD:
        return not on_hold
    if action in (Action.ASSIGN, Action.CANCEL):
        return True
    step = workflow.next_step(case.kind, case.status)
    return not on_hold and step is not None and ACTION_OF_STEP.get(step) is action


async def mine(uow: UnitOfWork, actor: Actor, limit: int = 50) -> tuple[Case, ...]:
    """The cases of `/mine` (see `mine_query`), first page."""
    query = replace(mine_query(actor), limit=limit)
    async with uow:
        return tuple(await uow.cases.find(query))


@dataclass(frozen=True)
class Places:
    """The open cases of a map: those with a place reported from the site, and the rest."""

    located: tuple[tuple[Case, Evidence], ...]
    unlocated: tuple[Case, ...]


async def open_places(uow: UnitOfWork, actor: Actor, team: str | None) -> Places:
    """Open cases at their latest location sent as evidence (the survey's, usually)."""
    query = CaseQuery(team_codes=scope_of(actor, team), active_only=True, limit=BOARD_LIMIT)
    async with uow:
        cases = await uow.cases.find(query)
        spots = await uow.evidence.last_locations([c.id for c in cases if c.id is not None])
    located = tuple((c, spots[c.id]) for c in cases if c.id in spots)
    return Places(located, tuple(c for c in cases if c.id not in spots))
