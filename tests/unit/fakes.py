"""An in-memory unit of work, so service rules are tested with no database and no chat.

The fakes keep the promises of the Protocols in bot/services/ports.py the way the SQL
repositories do (a stale version is refused, a taken dedupe key is skipped, queries
filter and order as SQL does), so a rule that passes here passes on the database.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Self

from bot.domain.events import Event
from bot.domain.evidence import Evidence, EvidenceKind, NewEvidence
from bot.domain.folding import search_key
from bot.domain.model import Action, Case, CaseStatus, HistoryEntry, Source
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.domain.steps import TIMELINE_ACTIONS
from bot.reports.timeline import CaseRecord, EventRecord
from bot.services.ports import (
    CaseQuery,
    CaseSearch,
    CaseTally,
    ConcurrentUpdate,
    DuplicateExternalRef,
    OutboxItem,
    StepEvent,
)


def _searched(case: Case, search: CaseSearch) -> bool:
    """The rule of `storage.repository._searched`, over one case."""
    key = search_key(case.ref, case.external_ref, case.customer.name)
    by_words = bool(search.words) and all(word in key for word in search.words)
    return by_words or (search.phone is not None and case.customer.phone == search.phone)


def _matches(case: Case, query: CaseQuery, filed: set[int] | None = None) -> bool:
    """The rule of `SqlCaseRepository._matching`, over one case (`filed`: the ids of
    the cases `query.filed_by` filed)."""
    if query.search is not None and not _searched(case, query.search):
        return False
    if filed is not None and case.id not in filed:
        return False
    if query.team_code and case.team_code != query.team_code:
        return False
    if query.team_codes is not None and case.team_code not in query.team_codes:
        return False
    if query.statuses and case.status not in query.statuses:
        return False
    if query.active_only and not case.is_active:
        return False
    if query.assignee and case.assignee != query.assignee:
        return False
    if query.late_at is not None and (
        not case.is_active
        or case.status is CaseStatus.ON_HOLD
        or not any(d is not None and d <= query.late_at for d in (case.step_due_at, case.due_at))
    ):
        return False
    return query.overdue_at is None or (
        case.next_check_at is not None and case.next_check_at <= query.overdue_at
    )


class FakeCases:
    def __init__(self) -> None:
        self.rows: dict[int, Case] = {}
        self.events: dict[int, list[HistoryEntry]] = {}
        self.seq: dict[str, int] = {}

    async def add(self, case: Case) -> Case:
        if case.external_ref is not None and any(
            (c.integration, c.external_ref) == (case.integration, case.external_ref)
            for c in self.rows.values()
        ):
            raise DuplicateExternalRef(case.external_ref)
        case.id = len(self.rows) + 1
        self.rows[case.id] = copy.deepcopy(case)
        return case

    async def get(self, case_id: int) -> Case | None:
        row = self.rows.get(case_id)
        return copy.deepcopy(row) if row else None

    async def get_by_ref(self, ref: str) -> Case | None:
        wanted = ref.strip().upper()
        return next((copy.deepcopy(c) for c in self.rows.values() if c.ref == wanted), None)

    async def get_by_external_ref(self, integration: str, external_ref: str) -> Case | None:
        found = (
            c
            for c in self.rows.values()
            if (c.integration, c.external_ref) == (integration, external_ref)
        )
        return next((copy.deepcopy(c) for c in found), None)

    async def save(self, case: Case) -> None:
        assert case.id is not None
        if self.rows[case.id].version != case.version:
            raise ConcurrentUpdate(case.ref)
        case.version += 1
        self.rows[case.id] = copy.deepcopy(case)

    async def claim(self, case_id: int, member_uid: str, at: datetime) -> bool:
        row = self.rows[case_id]
        if row.status is not CaseStatus.OPEN:
            return False
        self.rows[case_id] = replace(
            row,
            status=CaseStatus.CLAIMED,
            assignee=member_uid,
            claimed_at=at,
            last_progress_at=at,
            version=row.version + 1,
        )
        return True

    async def append_history(self, case_id: int, entry: HistoryEntry) -> None:
        self.events.setdefault(case_id, []).append(entry)

    async def history(self, case_id: int) -> list[HistoryEntry]:
        return list(self.events.get(case_id, []))

    async def next_ref(self, team_code: str) -> str:
        self.seq[team_code] = self.seq.get(team_code, 0) + 1
        return f"{team_code}-{self.seq[team_code]}"

    def _matching(self, query: CaseQuery) -> list[Case]:
        filed = None
        if query.filed_by is not None:
            filed = {
                case_id
                for case_id, entries in self.events.items()
                if any(e.action is Action.INTAKE and e.actor == query.filed_by for e in entries)
            }
        found = [c for c in self.rows.values() if _matches(c, query, filed)]
        found.sort(key=lambda c: (c.received_at, c.id or 0), reverse=query.newest_first)
        if query.search is not None and query.search.ref is not None:
            found.sort(key=lambda c: c.ref != query.search.ref if query.search else True)
        if query.overdue_at is not None:
            found.sort(key=lambda c: c.next_check_at or c.received_at)
        return found

    async def find(self, query: CaseQuery) -> list[Case]:
        found = self._matching(query)[query.offset : query.offset + query.limit]
        return [copy.deepcopy(c) for c in found]

    async def count(self, query: CaseQuery) -> int:
        return len(self._matching(query))

    async def case_for_message(self, channel: str, chat_id: str, message_id: str) -> Case | None:
        return None

    async def stale_claims(self, cutoff: datetime, limit: int) -> list[int]:
        stale = [
            c
            for c in self.rows.values()
            if c.status is CaseStatus.CLAIMED
            and c.last_progress_at is not None
            and c.last_progress_at <= cutoff
        ]
        stale.sort(key=lambda c: (c.last_progress_at, c.id))
        return [c.id for c in stale[:limit] if c.id is not None]

    async def step_events(
        self, start: datetime, end: datetime, actions: frozenset[Action]
    ) -> list[StepEvent]:
        return [
            StepEvent(case_id, self.rows[case_id].team_code, self.rows[case_id].kind, e.action)
            for case_id, entries in self.events.items()
            for e in entries
            if start <= e.at < end and e.action in actions
        ]

    async def tally(self) -> list[CaseTally]:
        counts: dict[tuple[str, CaseStatus], int] = {}
        for c in self.rows.values():
            counts[c.team_code, c.status] = counts.get((c.team_code, c.status), 0) + 1
        return [
            CaseTally(team, status, n)
            for (team, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        ]


class FakeTeams:
    def __init__(self) -> None:
        self.rows: dict[str, Team] = {}

    async def get(self, code: str) -> Team | None:
        return self.rows.get(code.upper())

    async def add(self, team: Team) -> None:
        self.rows[team.code] = team

    async def bind_chat(self, code: str, chat: ChatBinding) -> None:
        for other, team in self.rows.items():  # a chat shows one team: binding moves it
            self.rows[other] = replace(team, chats=tuple(c for c in team.chats if c != chat))
        team = self.rows[code]
        self.rows[code] = replace(team, chats=(*team.chats, chat))

    async def unbind_chat(self, code: str, chat: ChatBinding) -> bool:
        team = self.rows.get(code.upper())
        if team is None or chat not in team.chats:
            return False
        self.rows[team.code] = replace(team, chats=tuple(c for c in team.chats if c != chat))
        return True

    async def by_chat(self, channel: str, chat_id: str) -> Team | None:
        return next(
            (t for t in self.rows.values() if ChatBinding(channel, chat_id) in t.chats), None
        )

    async def all(self) -> list[Team]:
        return [self.rows[code] for code in sorted(self.rows)]


class FakeMembers:
    def __init__(self) -> None:
        self.rows: dict[str, Member] = {}

    async def get(self, uid: str) -> Member | None:
        return self.rows.get(uid)

    async def by_identity(self, channel: str, external_id: str) -> Member | None:
        for member in self.rows.values():
            if any((i.channel, i.external_id) == (channel, external_id) for i in member.identities):
                return member
        return self.rows.get(f"{channel}:{external_id}")

    async def by_username(self, username: str) -> Member | None:
        return None

    async def release_username(self, identity: Identity) -> int:
        if not identity.username:
            return 0
        released = 0
        for uid, member in list(self.rows.items()):
            kept: list[Identity] = []
            for ident in member.identities:
                stale = (
                    ident.channel == identity.channel
                    and ident.external_id != identity.external_id
                    and (ident.username or "").lower() == identity.username.lower()
                )
                released += stale
                kept.append(replace(ident, username=None) if stale else ident)
            self.rows[uid] = replace(member, identities=tuple(kept))
        return released

    async def add(self, member: Member) -> None:
        self.rows[member.uid] = member

    async def enrol(self, member: Member) -> bool:
        known = self.rows.get(member.uid)
        if known is not None and known.active:
            return False
        self.rows[member.uid] = member
        return True

    async def set_lang(self, uid: str, lang: str) -> None:
        self.rows[uid] = replace(self.rows[uid], lang=lang)

    async def update_identity(self, uid: str, identity: Identity) -> None:
        member = self.rows[uid]
        key = (identity.channel, identity.external_id)
        others = tuple(i for i in member.identities if (i.channel, i.external_id) != key)
        self.rows[uid] = replace(member, identities=(*others, identity))

    async def in_team(self, team_code: str) -> list[Member]:
        found = [m for m in self.rows.values() if m.team_code == team_code and m.active]
        return sorted(found, key=lambda m: m.name)


class FakeEvidence:
    def __init__(self) -> None:
        self.rows: list[Evidence] = []

    async def add(
        self, case_id: int, item: NewEvidence, actor: str, at: datetime, source: Source
    ) -> int:
        stored = Evidence(
            len(self.rows) + 1,
            case_id,
            item.kind,
            actor,
            at,
            source,
            item.path,
            item.mime,
            item.size,
            item.latitude,
            item.longitude,
        )
        self.rows.append(stored)
        return stored.id

    async def for_case(self, case_id: int) -> list[Evidence]:
        return [e for e in self.rows if e.case_id == case_id]

    async def get(self, case_id: int, evidence_id: int) -> Evidence | None:
        return next((e for e in self.rows if (e.case_id, e.id) == (case_id, evidence_id)), None)

    async def has_photo(self, case_id: int) -> bool:
        return any(e.kind is EvidenceKind.PHOTO for e in await self.for_case(case_id))

    async def last_locations(self, case_ids: Iterable[int]) -> dict[int, Evidence]:
        wanted = set(case_ids)
        found: dict[int, Evidence] = {}
        for e in sorted(self.rows, key=lambda e: (e.at, e.id)):
            if e.case_id in wanted and e.kind is EvidenceKind.LOCATION and e.latitude is not None:
                found[e.case_id] = e
        return found


class FakeOutbox:
    """Messages queued, in order; a dedupe key is taken for good, as in the table."""

    def __init__(self) -> None:
        self.items: list[OutboxItem] = []
        #: Messages that were waiting and will never be sent, with why.
        self.dropped: list[tuple[OutboxItem, str]] = []

    async def add(self, item: OutboxItem) -> bool:
        if item.dedupe_key is not None and item.dedupe_key in self._keys():
            return False
        self.items.append(item)
        return True

    async def queued(self, dedupe_keys: Iterable[str]) -> set[str]:
        return set(dedupe_keys) & self._keys()

    async def waiting(self, channel: str, chat_id: str) -> int:
        return sum(1 for i in self.items if (i.channel, i.chat_id) == (channel, chat_id))

    async def drop_waiting(self, channel: str, chat_id: str, reason: str) -> int:
        gone = [i for i in self.items if (i.channel, i.chat_id) == (channel, chat_id)]
        self.items = [i for i in self.items if i not in gone]
        self.dropped += [(i, reason) for i in gone]
        return len(gone)

    def _keys(self) -> set[str]:
        keys = [i.dedupe_key for i in self.items] + [i.dedupe_key for i, _ in self.dropped]
        return {key for key in keys if key is not None}

    def texts(self, chat_id: str | None = None) -> list[str]:
        """The text of each message queued (to `chat_id` only, when given)."""
        return [
            str(i.payload.get("text", ""))
            for i in self.items
            if chat_id is None or i.chat_id == chat_id
        ]


class FakeReports:
    """The report's reads, over the fake cases and people (the rule of SqlReportReads)."""

    def __init__(self, cases: FakeCases, teams: FakeTeams, members: FakeMembers) -> None:
        self.cases = cases
        self.teams = teams
        self.members = members

    async def case_records(
        self, since: datetime, until: datetime, team: str | None = None
    ) -> list[CaseRecord]:
        out: list[CaseRecord] = []
        for case_id in sorted(self.cases.rows):
            c = self.cases.rows[case_id]
            history = self.cases.events.get(case_id, [])
            touched = any(e.at >= since for e in history)
            counts = c.is_active or c.received_at >= since or touched
            if c.received_at >= until or not counts or (team is not None and c.team_code != team):
                continue
            events = tuple(
                EventRecord(e.at, e.action, e.actor)
                for e in history
                if e.action in TIMELINE_ACTIONS
            )
            out.append(
                CaseRecord(
                    id=case_id,
                    ref=c.ref,
                    external_ref=c.external_ref,
                    kind=c.kind,
                    team_code=c.team_code,
                    status=c.status,
                    area=c.area,
                    purpose=c.purpose,
                    needs_extra_works=c.needs_extra_works,
                    received_at=c.received_at,
                    assignee=c.assignee,
                    satisfaction=c.satisfaction,
                    events=events,
                )
            )
        return out

    async def team_names(self) -> dict[str, str]:
        return {code: t.name for code, t in sorted(self.teams.rows.items())}

    async def member_names(self) -> dict[str, tuple[str, str | None]]:
        return {uid: (m.name, m.team_code) for uid, m in self.members.rows.items()}


class FakeBoardLinks:
    """One-time board links: spent once, and only before they end."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, datetime, datetime | None]] = {}

    async def add(self, digest: str, account: str, expires_at: datetime) -> None:
        self.rows[digest] = (account, expires_at, None)

    async def spend(self, digest: str, at: datetime) -> str | None:
        row = self.rows.get(digest)
        if row is None or row[2] is not None or row[1] <= at:
            return None
        self.rows[digest] = (row[0], row[1], at)
        return row[0]


class FakeUnitOfWork:
    """Commits are counted; published events are kept for assertions.

    One object serves every `async with`: what a transaction writes is there at once
    (a refused use case writes before it refuses nothing, as the services are built).
    """

    def __init__(self) -> None:
        self.cases = FakeCases()
        self.teams = FakeTeams()
        self.members = FakeMembers()
        self.outbox = FakeOutbox()
        self.evidence = FakeEvidence()
        self.reports = FakeReports(self.cases, self.teams, self.members)
        self.board_links = FakeBoardLinks()
        self.published: list[Event] = []
        self.pending: list[Event] = []
        self.commits = 0
        #: Set to make the store stop answering (`ping` raises).
        self.down = False

    async def __aenter__(self) -> Self:
        self.pending = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pending = []

    def publish(self, event: Event) -> None:
        self.pending.append(event)

    async def ping(self) -> None:
        if self.down:
            raise ConnectionError("the fake store is down")

    async def commit(self) -> None:
        self.published += self.pending
        self.pending = []
        self.commits += 1

    async def rollback(self) -> None:
        self.pending = []
