"""Repositories over one AsyncConnection. They never commit: the unit of work does."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import errors
from bot.domain.model import Action, Case, CaseKind, CaseStatus, HistoryEntry, Role, Source
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.services.ports import (
    CaseQuery,
    CaseSearch,
    CaseTally,
    ConcurrentUpdate,
    DuplicateExternalRef,
    StepEvent,
)
from storage import tables
from storage.case_rows import case_from_row, case_values, new_case_values
from storage.directory import DirectoryView
from storage.engine import insert_ignoring_duplicates
from storage.sqlite_driver import quick
from storage.tables import CASES, EVENTS, IDENTITIES, MEMBERS, TEAM_CHATS, TEAMS

#: Listed, not excluded: an IN list lets the (team, status) and status indexes skip
#: the closed history, where a NOT IN would read it all.
ACTIVE_STATUSES = tuple(s.value for s in CaseStatus if not s.is_terminal)

# Built once, run with their parameters (storage/prepared.py): every command reads and
# writes its case, every intake adds one.
_CASE_BY_ID = sa.select(tables.cases).where(CASES.id == sa.bindparam("b_id"))
_CASE_BY_REF = sa.select(tables.cases).where(CASES.ref == sa.bindparam("b_ref"))
_CASE_BY_EXTERNAL_REF = sa.select(tables.cases).where(
    CASES.integration == sa.bindparam("b_integration"),
    CASES.external_ref == sa.bindparam("b_external_ref"),
)
_ADD_CASE = sa.insert(tables.cases).returning(CASES.id)
#: The SET clause is the keys of `case_values` and the two below.
_SAVE_CASE = sa.update(tables.cases).where(
    CASES.id == sa.bindparam("b_id"), CASES.version == sa.bindparam("b_version")
)
#: The SET clause is these and the keys `claim` gives.
_CLAIM_CASE = (
    sa.update(tables.cases)
    .where(CASES.id == sa.bindparam("b_id"), CASES.status == CaseStatus.OPEN.value)
    .values(status=CaseStatus.CLAIMED.value, version=CASES.version + 1)
    .returning(CASES.id)
)
_ADD_EVENT = sa.insert(tables.case_events)
_HISTORY = (
    sa.select(tables.case_events)
    .where(EVENTS.case_id == sa.bindparam("b_case_id"))
    .order_by(EVENTS.id)
)
_CASE_OF_MESSAGE = sa.select(tables.chat_messages.c.case_id).where(
    tables.chat_messages.c.channel == sa.bindparam("b_channel"),
    tables.chat_messages.c.chat_id == sa.bindparam("b_chat_id"),
    tables.chat_messages.c.message_id == sa.bindparam("b_message_id"),
)
_NEXT_SEQ = (
    sa.update(tables.teams)
    .where(TEAMS.code == sa.bindparam("b_code"))
    .values(next_seq=TEAMS.next_seq + 1)
    .returning(TEAMS.next_seq)
)
quick(_CASE_BY_ID, _CASE_BY_REF, _CASE_BY_EXTERNAL_REF, _ADD_CASE, _SAVE_CASE, _CLAIM_CASE)
quick(_ADD_EVENT, _HISTORY, _CASE_OF_MESSAGE, _NEXT_SEQ)


class SqlCaseRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    async def add(self, case: Case) -> Case:
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(_ADD_CASE, new_case_values(case, self.now))
        except IntegrityError as e:
            if case.external_ref is not None:
                raise DuplicateExternalRef(case.external_ref) from e
            raise
        case.id = int(result.scalar_one())
        return case

    async def _one(self, stmt: sa.Select[Any], params: dict[str, Any]) -> Case | None:
        row = (await self.conn.execute(stmt, params)).first()
        return case_from_row(row) if row is not None else None

    async def get(self, case_id: int) -> Case | None:
        return await self._one(_CASE_BY_ID, {"b_id": case_id})

    async def get_by_ref(self, ref: str) -> Case | None:
        return await self._one(_CASE_BY_REF, {"b_ref": ref.strip().upper()})

    async def get_by_external_ref(self, integration: str, external_ref: str) -> Case | None:
        return await self._one(
            _CASE_BY_EXTERNAL_REF,
            {"b_integration": integration, "b_external_ref": external_ref},
        )

    async def save(self, case: Case) -> None:
        """Write back a case read in this transaction; refuse if someone else wrote first."""
        assert case.id is not None
        result = await self.conn.execute(
            _SAVE_CASE,
            case_values(case)
            | {
                "updated_at": self.now,
                "version": case.version + 1,
                "b_id": case.id,
                "b_version": case.version,
            },
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(case.ref)
        case.version += 1

    async def claim(self, case_id: int, member_uid: str, at: datetime) -> bool:
        """One conditional UPDATE: exactly one of any number of racing claims matches."""
        result = await self.conn.execute(
            _CLAIM_CASE,
            {
                "assignee": member_uid,
                "claimed_at": at,
                "last_progress_at": at,
                "updated_at": at,
                "b_id": case_id,
            },
        )
        return result.first() is not None

    async def append_history(self, case_id: int, entry: HistoryEntry) -> None:
        await self.conn.execute(
            _ADD_EVENT,
            {
                "case_id": case_id,
                "at": entry.at,
                "action": entry.action.value,
                "actor": entry.actor,
                "status": entry.status.value,
                "note": entry.note,
                "source": entry.source.value,
            },
        )

    async def history(self, case_id: int) -> list[HistoryEntry]:
        rows = await self.conn.execute(_HISTORY, {"b_case_id": case_id})
        return [
            HistoryEntry(
                r.at, Action(r.action), r.actor, CaseStatus(r.status), r.note, Source(r.source)
            )
            for r in rows
        ]

    async def next_ref(self, team_code: str) -> str:
        result = await self.conn.execute(_NEXT_SEQ, {"b_code": team_code})
        return f"{team_code}-{result.scalar_one()}"

    async def find(self, query: CaseQuery) -> list[Case]:
        stmt = self._matching(sa.select(tables.cases), query)
        if query.overdue_at is not None:
            stmt = stmt.order_by(CASES.next_check_at)
        if query.search is not None and query.search.ref is not None:
            stmt = stmt.order_by(sa.case((CASES.ref == query.search.ref, 0), else_=1))
        if query.newest_first:
            stmt = stmt.order_by(CASES.received_at.desc(), CASES.id.desc())
        else:
            stmt = stmt.order_by(CASES.received_at, CASES.id)
        stmt = stmt.offset(query.offset).limit(query.limit)
        return [case_from_row(r) for r in await self.conn.execute(stmt)]

    async def count(self, query: CaseQuery) -> int:
        stmt = self._matching(sa.select(sa.func.count()).select_from(tables.cases), query)
        return int((await self.conn.execute(stmt)).scalar_one())

    @staticmethod
    def _matching(stmt: sa.Select[Any], query: CaseQuery) -> sa.Select[Any]:
        """`stmt` narrowed to the cases `query` asks for (one rule for find and count)."""
        if query.team_code:
            stmt = stmt.where(CASES.team_code == query.team_code)
        if query.team_codes is not None:
            stmt = stmt.where(CASES.team_code.in_(sorted(query.team_codes)))
        if query.statuses:
            stmt = stmt.where(CASES.status.in_([s.value for s in query.statuses]))
        if query.active_only:
            stmt = stmt.where(CASES.status.in_(ACTIVE_STATUSES))
        if query.assignee:
            stmt = stmt.where(CASES.assignee == query.assignee)
        if query.late_at is not None:
            stmt = stmt.where(
                CASES.status.in_(ACTIVE_STATUSES),
                CASES.status != CaseStatus.ON_HOLD.value,
                sa.or_(CASES.step_due_at <= query.late_at, CASES.due_at <= query.late_at),
            )
        if query.overdue_at is not None:
            stmt = stmt.where(
                CASES.next_check_at.is_not(None), CASES.next_check_at <= query.overdue_at
            )
        if query.filed_by is not None:
            filed = sa.select(EVENTS.case_id).where(
                EVENTS.actor == query.filed_by, EVENTS.action == Action.INTAKE.value
            )
            stmt = stmt.where(CASES.id.in_(filed))
        if query.search is not None:
            stmt = stmt.where(_searched(query.search))
        return stmt

    async def stale_claims(self, cutoff: datetime, limit: int) -> list[int]:
        """The status index keeps this off the closed history."""
        rows = await self.conn.execute(
            sa.select(CASES.id)
            .where(
                CASES.status == CaseStatus.CLAIMED.value,
                CASES.last_progress_at.is_not(None),
                CASES.last_progress_at <= cutoff,
            )
            .order_by(CASES.last_progress_at, CASES.id)
            .limit(limit)
        )
        return [int(r.id) for r in rows]

    async def step_events(
        self, start: datetime, end: datetime, actions: frozenset[Action]
    ) -> list[StepEvent]:
        """The time index keeps this to the span's events, whatever the history holds."""
        rows = await self.conn.execute(
            sa.select(CASES.id, CASES.team_code, CASES.kind, EVENTS.action)
            .join(tables.cases, CASES.id == EVENTS.case_id)
            .where(
                EVENTS.at >= start,
                EVENTS.at < end,
                EVENTS.action.in_(sorted(a.value for a in actions)),
            )
        )
        return [
            StepEvent(int(case_id), str(team), CaseKind(kind), Action(action))
            for case_id, team, kind, action in rows
        ]

    async def tally(self) -> list[CaseTally]:
        rows = await self.conn.execute(
            sa.select(CASES.team_code, CASES.status, sa.func.count())
            .group_by(CASES.team_code, CASES.status)
            .order_by(CASES.team_code, CASES.status)
        )
        return [
            CaseTally(str(team), CaseStatus(status), int(count)) for team, status, count in rows
        ]

    async def case_for_message(self, channel: str, chat_id: str, message_id: str) -> Case | None:
        found = await self.conn.execute(
            _CASE_OF_MESSAGE,
            {"b_channel": channel, "b_chat_id": chat_id, "b_message_id": message_id},
        )
        case_id = found.scalar()
        return await self.get(int(case_id)) if case_id is not None else None


def _searched(search: CaseSearch) -> sa.ColumnElement[bool]:
    """Every word within the folded key (an honest LIKE, measured in tests/bench_find.py),
    or the whole phone number, which its index finds."""
    found: list[sa.ColumnElement[bool]] = []
    if search.words:
        found.append(
            sa.and_(*(CASES.search_key.contains(word, autoescape=True) for word in search.words))
        )
    if search.phone is not None:
        found.append(CASES.customer_phone == search.phone)
    return sa.or_(*found) if found else sa.false()


async def _replace(
    conn: AsyncConnection, table: sa.Table, key: dict[str, str], **values: Any
) -> None:
    """Write the row for `key` over whatever held it: a chat shows one team, an account
    is one member's (delete then insert, the same on SQLite and PostgreSQL)."""
    await conn.execute(sa.delete(table).where(*(table.c[name] == v for name, v in key.items())))
    await conn.execute(sa.insert(table).values(**key, **values))


def _member_values(member: Member, *, active: bool) -> dict[str, Any]:
    """A member's row but for its key and creation: what adding or enrolling writes."""
    return {
        "name": member.name,
        "role": member.role.value,
        "team_code": member.team_code,
        "lang": member.lang,
        "active": active,
    }


Item = TypeVar("Item")

# The directory's reads when the process's copy lacks the answer (after any change to
# the directory, every update's first look-ups), built once (storage/prepared.py).
_TEAM = sa.select(tables.teams).where(TEAMS.code == sa.bindparam("b_code"))
_TEAM_CHATS = (
    sa.select(TEAM_CHATS.channel, TEAM_CHATS.chat_id)
    .where(TEAM_CHATS.team_code == sa.bindparam("b_code"))
    .order_by(TEAM_CHATS.id)
)
_TEAM_OF_CHAT = sa.select(TEAM_CHATS.team_code).where(
    TEAM_CHATS.channel == sa.bindparam("b_channel"),
    TEAM_CHATS.chat_id == sa.bindparam("b_chat_id"),
)
_MEMBER = sa.select(tables.members).where(MEMBERS.uid == sa.bindparam("b_uid"))
_MEMBER_IDENTITIES = sa.select(tables.identities).where(
    IDENTITIES.member_uid == sa.bindparam("b_uid")
)
_MEMBER_OF_ACCOUNT = sa.select(IDENTITIES.member_uid).where(
    IDENTITIES.channel == sa.bindparam("b_channel"),
    IDENTITIES.external_id == sa.bindparam("b_external_id"),
)
quick(_TEAM, _TEAM_CHATS, _TEAM_OF_CHAT, _MEMBER, _MEMBER_IDENTITIES, _MEMBER_OF_ACCOUNT)


class _DirectoryReads(Generic[Item]):
    """What a directory repository read in this unit of work, by key; given a `view`, the
    process's copy behind it (storage/directory.py)."""

    def __init__(
        self, conn: AsyncConnection, now: datetime, view: DirectoryView | None = None
    ) -> None:
        self.conn = conn
        self.now = now
        self.view = view
        self._read: dict[str, Item | None] = {}

    def _forget(self) -> None:
        """Before a write: this transaction reads its own changes from now on."""
        self._read.clear()
        if self.view is not None:
            self.view.wrote()


class SqlTeamRepository(_DirectoryReads[Team]):
    """Teams and their chats. Within one unit of work (one update) a team is read once:
    the card, the reply and the permission check all ask for it; a write forgets it.
    Given a `view`, teams and bindings come from the process's copy while the directory
    version holds (storage/directory.py)."""

    async def _chats(self, code: str) -> tuple[ChatBinding, ...]:
        rows = await self.conn.execute(_TEAM_CHATS, {"b_code": code})
        return tuple(ChatBinding(r.channel, r.chat_id) for r in rows)

    async def _team(self, row: sa.Row[Any] | None) -> Team | None:
        if row is None:
            return None
        return Team(row.code, row.name, await self._chats(row.code), row.lang)

    async def get(self, code: str) -> Team | None:
        key = code.upper()
        if key in self._read:
            return self._read[key]
        copy = await self.view.usable() if self.view is not None else None
        if copy is not None and key in copy.teams:
            team = self._read[key] = copy.teams[key]
            return team
        row = (await self.conn.execute(_TEAM, {"b_code": key})).first()
        team = self._read[key] = await self._team(row)
        if copy is not None and self.view is not None:
            self.view.keep(copy.teams, key, team)
        return team

    async def add(self, team: Team) -> None:
        self._forget()
        await self.conn.execute(
            sa.insert(tables.teams).values(
                code=team.code, name=team.name, lang=team.lang, next_seq=0, created_at=self.now
            )
        )
        for chat in team.chats:
            await self.bind_chat(team.code, chat)

    async def bind_chat(self, code: str, chat: ChatBinding) -> None:
        """A chat shows one team; binding it again moves it."""
        self._forget()
        key = {"channel": chat.channel, "chat_id": chat.chat_id}
        await _replace(self.conn, tables.team_chats, key, team_code=code)

    async def unbind_chat(self, code: str, chat: ChatBinding) -> bool:
        """The chat no longer shows the team; False when it did not."""
        self._forget()
        gone = await self.conn.execute(
            sa.delete(tables.team_chats).where(
                TEAM_CHATS.team_code == code.upper(),
                TEAM_CHATS.channel == chat.channel,
                TEAM_CHATS.chat_id == chat.chat_id,
            )
        )
        return bool(gone.rowcount)

    async def by_chat(self, channel: str, chat_id: str) -> Team | None:
        copy = await self.view.usable() if self.view is not None else None
        if copy is not None and (channel, chat_id) in copy.bindings:
            code = copy.bindings[(channel, chat_id)]
        else:
            found = await self.conn.execute(
                _TEAM_OF_CHAT, {"b_channel": channel, "b_chat_id": chat_id}
            )
            code = found.scalar()
            if copy is not None and self.view is not None:
                self.view.keep(copy.bindings, (channel, chat_id), code)
        return await self.get(code) if code else None

    async def all(self) -> list[Team]:
        rows = (await self.conn.execute(sa.select(tables.teams).order_by(TEAMS.code))).all()
        teams = [await self._team(r) for r in rows]
        return [x for x in teams if x is not None]


class SqlMemberRepository(_DirectoryReads[Member]):
    """People and their accounts. Within one unit of work (one update) a member is read
    once (the speaker, then the assignee on the card is usually the same person); any
    write through this repository forgets what was read."""

    async def _member(self, row: sa.Row[Any] | None) -> Member | None:
        if row is None:
            return None
        idents = await self.conn.execute(_MEMBER_IDENTITIES, {"b_uid": row.uid})
        return Member(
            uid=row.uid,
            name=row.name,
            role=Role(row.role),
            team_code=row.team_code,
            lang=row.lang,
            identities=tuple(Identity(i.channel, i.external_id, i.username) for i in idents),
            active=bool(row.active),
        )

    async def get(self, uid: str) -> Member | None:
        if uid in self._read:
            return self._read[uid]
        copy = await self.view.usable() if self.view is not None else None
        if copy is not None and uid in copy.members:
            member = self._read[uid] = copy.members[uid]
            return member
        row = (await self.conn.execute(_MEMBER, {"b_uid": uid})).first()
        member = self._read[uid] = await self._member(row)
        if copy is not None and self.view is not None:
            self.view.keep(copy.members, uid, member)
        return member

    async def by_identity(self, channel: str, external_id: str) -> Member | None:
        copy = await self.view.usable() if self.view is not None else None
        if copy is not None and (channel, external_id) in copy.accounts:
            uid = copy.accounts[(channel, external_id)]
        else:
            found = await self.conn.execute(
                _MEMBER_OF_ACCOUNT, {"b_channel": channel, "b_external_id": external_id}
            )
            uid = found.scalar()
            if copy is not None and self.view is not None:
                self.view.keep(copy.accounts, (channel, external_id), uid)
        return await self.get(uid) if uid else None

    async def by_username(self, username: str) -> Member | None:
        """The active member holding @username; AmbiguousMember when several still do."""
        uids = (
            await self.conn.execute(
                sa.select(IDENTITIES.member_uid)
                .distinct()
                .join(tables.members, MEMBERS.uid == IDENTITIES.member_uid)
                .where(
                    sa.func.lower(IDENTITIES.username) == username.lstrip("@").lower(),
                    MEMBERS.active.is_(True),
                )
                .order_by(IDENTITIES.member_uid)
            )
        ).scalars()
        members = [m for uid in uids.all() if (m := await self.get(uid)) is not None]
        if len(members) > 1:
            raise errors.AmbiguousMember(username, tuple((m.uid, m.name) for m in members))
        return members[0] if members else None

    async def release_username(self, identity: Identity) -> int:
        """Clear `identity`'s username from every other identity on its channel.

        A platform gives a username to one account at a time; another member still
        holding it renamed since, and would otherwise be found by `/assign @name`.
        Read first, so the common case (nobody else holds it) writes nothing.
        """
        if not identity.username:
            return 0
        sole = (identity.channel, identity.external_id, identity.username.lower())
        copy = await self.view.usable() if self.view is not None else None
        if copy is not None and sole in copy.sole_usernames:
            return 0  # checked at this directory version: nobody else holds it
        same = (
            IDENTITIES.channel == identity.channel,
            sa.func.lower(IDENTITIES.username) == identity.username.lower(),
            IDENTITIES.external_id != identity.external_id,
        )
        stale = (
            await self.conn.execute(
                sa.select(sa.func.count()).select_from(tables.identities).where(*same)
            )
        ).scalar_one()
        if stale:
            self._forget()
            await self.conn.execute(sa.update(tables.identities).where(*same).values(username=None))
        elif self.view is not None:
            self.view.keep_sole(sole)
        return int(stale)

    async def add(self, member: Member) -> None:
        """Create or update a person, keeping their identities."""
        self._forget()
        values = _member_values(member, active=member.active)
        updated = await self.conn.execute(
            sa.update(tables.members).where(MEMBERS.uid == member.uid).values(values)
        )
        if updated.rowcount == 0:
            await self.conn.execute(
                sa.insert(tables.members).values(
                    values | {"uid": member.uid, "created_at": self.now}
                )
            )
        for ident in member.identities:
            await self.update_identity(member.uid, ident)

    async def enrol(self, member: Member) -> bool:
        """Revive an inactive row or insert a new one, never touching an active member:
        two leads letting one person in at once, one of them finds the row taken."""
        self._forget()
        values = _member_values(member, active=True)
        revived = await self.conn.execute(
            sa.update(tables.members)
            .where(MEMBERS.uid == member.uid, MEMBERS.active.is_(False))
            .values(values)
        )
        if revived.rowcount == 0:
            inserted = await self.conn.execute(
                insert_ignoring_duplicates(self.conn, tables.members)
                .values(values | {"uid": member.uid, "created_at": self.now})
                .on_conflict_do_nothing()
            )
            if inserted.rowcount == 0:
                return False
        for ident in member.identities:
            await self.update_identity(member.uid, ident)
        return True

    async def set_lang(self, uid: str, lang: str) -> None:
        self._forget()
        await self.conn.execute(
            sa.update(tables.members).where(MEMBERS.uid == uid).values(lang=lang)
        )

    async def update_identity(self, uid: str, identity: Identity) -> None:
        self._forget()
        key = {"channel": identity.channel, "external_id": identity.external_id}
        await _replace(
            self.conn, tables.identities, key, member_uid=uid, username=identity.username
        )

    async def in_team(self, team_code: str) -> list[Member]:
        rows = (
            await self.conn.execute(
                sa.select(tables.members)
                .where(MEMBERS.team_code == team_code, MEMBERS.active.is_(True))
                .order_by(MEMBERS.name)
            )
        ).all()
        members = [await self._member(r) for r in rows]
        return [m for m in members if m is not None]
