"""An in-memory unit of work, so service rules are tested with no database and no chat."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Self

from bot.domain.events import Event
from bot.domain.model import Case, CaseStatus, HistoryEntry
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.services.ports import CaseQuery, OutboxItem


class FakeCases:
    def __init__(self) -> None:
        self.rows: dict[int, Case] = {}
        self.events: dict[int, list[HistoryEntry]] = {}
        self.seq: dict[str, int] = {}

    async def add(self, case: Case) -> Case:
        case.id = len(self.rows) + 1
        self.rows[case.id] = copy.deepcopy(case)
        return case

    async def get(self, case_id: int) -> Case | None:
        row = self.rows.get(case_id)
        return copy.deepcopy(row) if row else None

    async def get_by_ref(self, ref: str) -> Case | None:
        return next((copy.deepcopy(c) for c in self.rows.values() if c.ref == ref.upper()), None)

    async def get_by_external_ref(self, integration: str, external_ref: str) -> Case | None:
        found = (
            c
            for c in self.rows.values()
            if (c.integration, c.external_ref) == (integration, external_ref)
        )
        return next((copy.deepcopy(c) for c in found), None)

    async def save(self, case: Case) -> None:
        assert case.id is not None
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

    async def find(self, query: CaseQuery) -> list[Case]:
        return [copy.deepcopy(c) for c in self.rows.values()]

    async def count(self, query: CaseQuery) -> int:
        return len(self.rows)

    async def case_for_message(self, channel: str, chat_id: str, message_id: str) -> Case | None:
        return None


class FakeTeams:
    def __init__(self) -> None:
        self.rows: dict[str, Team] = {}

    async def get(self, code: str) -> Team | None:
        return self.rows.get(code.upper())

    async def add(self, team: Team) -> None:
        self.rows[team.code] = team

    async def bind_chat(self, code: str, chat: ChatBinding) -> None:
        team = self.rows[code]
        self.rows[code] = replace(team, chats=(*team.chats, chat))

    async def by_chat(self, channel: str, chat_id: str) -> Team | None:
        return next(
            (t for t in self.rows.values() if ChatBinding(channel, chat_id) in t.chats), None
        )

    async def all(self) -> list[Team]:
        return list(self.rows.values())


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
        return [m for m in self.rows.values() if m.team_code == team_code]


class FakeOutbox:
    def __init__(self) -> None:
        self.items: list[OutboxItem] = []

    async def add(self, item: OutboxItem) -> None:
        self.items.append(item)


class FakeUnitOfWork:
    """Commits are counted; published events are kept for assertions."""

    def __init__(self) -> None:
        self.cases = FakeCases()
        self.teams = FakeTeams()
        self.members = FakeMembers()
        self.outbox = FakeOutbox()
        self.published: list[Event] = []
        self.pending: list[Event] = []
        self.commits = 0

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

    async def commit(self) -> None:
        self.published += self.pending
        self.pending = []
        self.commits += 1

    async def rollback(self) -> None:
        self.pending = []
