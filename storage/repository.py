"""Repositories over one AsyncConnection. They never commit: the unit of work does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import errors
from bot.domain.model import (
    Action,
    Area,
    Case,
    CaseKind,
    CaseStatus,
    Customer,
    Estimate,
    HistoryEntry,
    Meter,
    Purpose,
    Role,
    Source,
)
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.services.ports import CaseQuery, ConcurrentUpdate, DuplicateExternalRef, OutboxItem
from storage import tables as t
from storage.outbox_store import DeliveryState, insert_ignoring_duplicates

#: Listed, not excluded: an IN list lets the (team, status) and status indexes skip
#: the closed history, where a NOT IN would read it all.
ACTIVE_STATUSES = tuple(s.value for s in CaseStatus if not s.is_terminal)


def _case_values(case: Case) -> dict[str, Any]:
    return {
        "status": case.status.value,
        "held_from": case.held_from.value if case.held_from else None,
        "area": case.area.value if case.area else None,
        "purpose": case.purpose.value if case.purpose else None,
        "needs_extra_works": case.needs_extra_works,
        "customer_name": case.customer.name,
        "customer_phone": case.customer.phone,
        "customer_address": case.customer.address,
        "description": case.description,
        "received_at": case.received_at,
        "due_at": case.due_at,
        "step_due_at": case.step_due_at,
        "held_at": case.held_at,
        "paused_seconds": case.paused.total_seconds(),
        "assignee": case.assignee,
        "claimed_at": case.claimed_at,
        "last_progress_at": case.last_progress_at,
        "customer_cost": case.estimate.customer_cost if case.estimate else None,
        "utility_cost": case.estimate.utility_cost if case.estimate else None,
        "meter_serial": case.meter.serial if case.meter else None,
        "meter_reading": case.meter.reading if case.meter else None,
        "satisfaction": case.satisfaction,
        "reminder_count": case.reminder_count,
        "next_check_at": case.next_check_at,
    }


def _case_from_row(row: sa.Row[Any]) -> Case:
    m = row._mapping
    estimate = (
        Estimate(int(m["customer_cost"]), int(m["utility_cost"]))
        if m["customer_cost"] is not None and m["utility_cost"] is not None
        else None
    )
    meter = Meter(m["meter_serial"], m["meter_reading"]) if m["meter_serial"] else None
    return Case(
        id=m["id"],
        ref=m["ref"],
        external_ref=m["external_ref"],
        kind=CaseKind(m["kind"]),
        team_code=m["team_code"],
        status=CaseStatus(m["status"]),
        customer=Customer(m["customer_name"], m["customer_phone"], m["customer_address"]),
        area=Area(m["area"]) if m["area"] else None,
        purpose=Purpose(m["purpose"]) if m["purpose"] else None,
        description=m["description"],
        received_at=m["received_at"],
        needs_extra_works=bool(m["needs_extra_works"]),
        assignee=m["assignee"],
        held_from=CaseStatus(m["held_from"]) if m["held_from"] else None,
        due_at=m["due_at"],
        step_due_at=m["step_due_at"],
        estimate=estimate,
        meter=meter,
        satisfaction=m["satisfaction"],
        held_at=m["held_at"],
        paused=timedelta(seconds=float(m["paused_seconds"] or 0)),
        claimed_at=m["claimed_at"],
        last_progress_at=m["last_progress_at"],
        reminder_count=int(m["reminder_count"]),
        next_check_at=m["next_check_at"],
        integration=m["integration"],
        version=int(m["version"]),
    )


class SqlCaseRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.seen: dict[int, Case] = {}

    def _track(self, case: Case) -> Case:
        assert case.id is not None
        self.seen[case.id] = case
        return case

    async def add(self, case: Case) -> Case:
        values = _case_values(case) | {
            "ref": case.ref,
            "external_ref": case.external_ref,
            "integration": case.integration,
            "kind": case.kind.value,
            "team_code": case.team_code,
            "created_at": self.now,
            "updated_at": self.now,
            "version": 0,
        }
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(
                    sa.insert(t.cases).values(values).returning(t.cases.c.id)
                )
        except IntegrityError as e:
            if case.external_ref is not None:
                raise DuplicateExternalRef(case.external_ref) from e
            raise
        case.id = int(result.scalar_one())
        return self._track(case)

    async def _one(self, where: sa.ColumnElement[bool]) -> Case | None:
        row = (await self.conn.execute(sa.select(t.cases).where(where))).first()
        return self._track(_case_from_row(row)) if row is not None else None

    async def get(self, case_id: int) -> Case | None:
        return await self._one(t.cases.c.id == case_id)

    async def get_by_ref(self, ref: str) -> Case | None:
        return await self._one(t.cases.c.ref == ref.strip().upper())

    async def get_by_external_ref(self, integration: str, external_ref: str) -> Case | None:
        c = t.cases.c
        return await self._one((c.integration == integration) & (c.external_ref == external_ref))

    async def save(self, case: Case) -> None:
        """Write back a case read in this transaction; refuse if someone else wrote first."""
        assert case.id is not None
        result = await self.conn.execute(
            sa.update(t.cases)
            .where(t.cases.c.id == case.id, t.cases.c.version == case.version)
            .values(_case_values(case) | {"updated_at": self.now, "version": case.version + 1})
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(case.ref)
        case.version += 1
        self._track(case)

    async def claim(self, case_id: int, member_uid: str, at: datetime) -> bool:
        """One conditional UPDATE: exactly one of any number of racing claims matches."""
        result = await self.conn.execute(
            sa.update(t.cases)
            .where(t.cases.c.id == case_id, t.cases.c.status == CaseStatus.OPEN.value)
            .values(
                status=CaseStatus.CLAIMED.value,
                assignee=member_uid,
                claimed_at=at,
                last_progress_at=at,
                updated_at=at,
                version=t.cases.c.version + 1,
            )
            .returning(t.cases.c.id)
        )
        return result.first() is not None

    async def append_history(self, case_id: int, entry: HistoryEntry) -> None:
        await self.conn.execute(
            sa.insert(t.case_events).values(
                case_id=case_id,
                at=entry.at,
                action=entry.action.value,
                actor=entry.actor,
                status=entry.status.value,
                note=entry.note,
                source=entry.source.value,
            )
        )

    async def history(self, case_id: int) -> list[HistoryEntry]:
        rows = await self.conn.execute(
            sa.select(t.case_events)
            .where(t.case_events.c.case_id == case_id)
            .order_by(t.case_events.c.id)
        )
        return [
            HistoryEntry(
                r.at, Action(r.action), r.actor, CaseStatus(r.status), r.note, Source(r.source)
            )
            for r in rows
        ]

    async def next_ref(self, team_code: str) -> str:
        result = await self.conn.execute(
            sa.update(t.teams)
            .where(t.teams.c.code == team_code)
            .values(next_seq=t.teams.c.next_seq + 1)
            .returning(t.teams.c.next_seq)
        )
        return f"{team_code}-{result.scalar_one()}"

    async def find(self, query: CaseQuery) -> list[Case]:
        stmt = self._matching(sa.select(t.cases), query)
        if query.overdue_at is not None:
            stmt = stmt.order_by(t.cases.c.next_check_at)
        stmt = stmt.order_by(t.cases.c.received_at, t.cases.c.id)
        stmt = stmt.offset(query.offset).limit(query.limit)
        return [self._track(_case_from_row(r)) for r in await self.conn.execute(stmt)]

    async def count(self, query: CaseQuery) -> int:
        stmt = self._matching(sa.select(sa.func.count()).select_from(t.cases), query)
        return int((await self.conn.execute(stmt)).scalar_one())

    @staticmethod
    def _matching(stmt: sa.Select[Any], query: CaseQuery) -> sa.Select[Any]:
        """`stmt` narrowed to the cases `query` asks for (one rule for find and count)."""
        if query.team_code:
            stmt = stmt.where(t.cases.c.team_code == query.team_code)
        if query.team_codes is not None:
            stmt = stmt.where(t.cases.c.team_code.in_(sorted(query.team_codes)))
        if query.statuses:
            stmt = stmt.where(t.cases.c.status.in_([s.value for s in query.statuses]))
        if query.active_only:
            stmt = stmt.where(t.cases.c.status.in_(ACTIVE_STATUSES))
        if query.assignee:
            stmt = stmt.where(t.cases.c.assignee == query.assignee)
        if query.late_at is not None:
            stmt = stmt.where(
                t.cases.c.status.in_(ACTIVE_STATUSES),
                t.cases.c.status != CaseStatus.ON_HOLD.value,
                sa.or_(t.cases.c.step_due_at <= query.late_at, t.cases.c.due_at <= query.late_at),
            )
        if query.overdue_at is not None:
            stmt = stmt.where(
                t.cases.c.next_check_at.is_not(None), t.cases.c.next_check_at <= query.overdue_at
            )
        return stmt

    async def case_for_message(self, channel: str, chat_id: str, message_id: str) -> Case | None:
        case_id = (
            await self.conn.execute(
                sa.select(t.chat_messages.c.case_id).where(
                    t.chat_messages.c.channel == channel,
                    t.chat_messages.c.chat_id == chat_id,
                    t.chat_messages.c.message_id == message_id,
                )
            )
        ).scalar()
        return await self.get(int(case_id)) if case_id is not None else None


class SqlTeamRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    async def _chats(self, code: str) -> tuple[ChatBinding, ...]:
        rows = await self.conn.execute(
            sa.select(t.team_chats.c.channel, t.team_chats.c.chat_id)
            .where(t.team_chats.c.team_code == code)
            .order_by(t.team_chats.c.id)
        )
        return tuple(ChatBinding(r.channel, r.chat_id) for r in rows)

    async def _team(self, row: sa.Row[Any] | None) -> Team | None:
        if row is None:
            return None
        return Team(row.code, row.name, await self._chats(row.code), row.lang)

    async def get(self, code: str) -> Team | None:
        row = (
            await self.conn.execute(sa.select(t.teams).where(t.teams.c.code == code.upper()))
        ).first()
        return await self._team(row)

    async def add(self, team: Team) -> None:
        await self.conn.execute(
            sa.insert(t.teams).values(
                code=team.code, name=team.name, lang=team.lang, next_seq=0, created_at=self.now
            )
        )
        for chat in team.chats:
            await self.bind_chat(team.code, chat)

    async def bind_chat(self, code: str, chat: ChatBinding) -> None:
        """A chat shows one team; binding it again moves it."""
        await self.conn.execute(
            sa.delete(t.team_chats).where(
                t.team_chats.c.channel == chat.channel, t.team_chats.c.chat_id == chat.chat_id
            )
        )
        await self.conn.execute(
            sa.insert(t.team_chats).values(
                team_code=code, channel=chat.channel, chat_id=chat.chat_id
            )
        )

    async def by_chat(self, channel: str, chat_id: str) -> Team | None:
        code = (
            await self.conn.execute(
                sa.select(t.team_chats.c.team_code).where(
                    t.team_chats.c.channel == channel, t.team_chats.c.chat_id == chat_id
                )
            )
        ).scalar()
        return await self.get(code) if code else None

    async def all(self) -> list[Team]:
        rows = (await self.conn.execute(sa.select(t.teams).order_by(t.teams.c.code))).all()
        teams = [await self._team(r) for r in rows]
        return [x for x in teams if x is not None]


class SqlMemberRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    async def _member(self, row: sa.Row[Any] | None) -> Member | None:
        if row is None:
            return None
        idents = await self.conn.execute(
            sa.select(t.identities).where(t.identities.c.member_uid == row.uid)
        )
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
        row = (await self.conn.execute(sa.select(t.members).where(t.members.c.uid == uid))).first()
        return await self._member(row)

    async def by_identity(self, channel: str, external_id: str) -> Member | None:
        uid = (
            await self.conn.execute(
                sa.select(t.identities.c.member_uid).where(
                    t.identities.c.channel == channel, t.identities.c.external_id == external_id
                )
            )
        ).scalar()
        return await self.get(uid) if uid else None

    async def by_username(self, username: str) -> Member | None:
        """The active member holding @username; AmbiguousMember when several still do."""
        uids = (
            await self.conn.execute(
                sa.select(t.identities.c.member_uid)
                .distinct()
                .join(t.members, t.members.c.uid == t.identities.c.member_uid)
                .where(
                    sa.func.lower(t.identities.c.username) == username.lstrip("@").lower(),
                    t.members.c.active.is_(True),
                )
                .order_by(t.identities.c.member_uid)
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
        same = (
            t.identities.c.channel == identity.channel,
            sa.func.lower(t.identities.c.username) == identity.username.lower(),
            t.identities.c.external_id != identity.external_id,
        )
        stale = (
            await self.conn.execute(
                sa.select(sa.func.count()).select_from(t.identities).where(*same)
            )
        ).scalar_one()
        if stale:
            await self.conn.execute(sa.update(t.identities).where(*same).values(username=None))
        return int(stale)

    async def add(self, member: Member) -> None:
        """Create or update a person, keeping their identities."""
        values = {
            "name": member.name,
            "role": member.role.value,
            "team_code": member.team_code,
            "lang": member.lang,
            "active": member.active,
        }
        updated = await self.conn.execute(
            sa.update(t.members).where(t.members.c.uid == member.uid).values(values)
        )
        if updated.rowcount == 0:
            await self.conn.execute(
                sa.insert(t.members).values(values | {"uid": member.uid, "created_at": self.now})
            )
        for ident in member.identities:
            await self.update_identity(member.uid, ident)

    async def enrol(self, member: Member) -> bool:
        """Revive an inactive row or insert a new one, never touching an active member:
        two leads letting one person in at once, one of them finds the row taken."""
        m = t.members.c
        values = {
            "name": member.name,
            "role": member.role.value,
            "team_code": member.team_code,
            "lang": member.lang,
            "active": True,
        }
        revived = await self.conn.execute(
            sa.update(t.members).where(m.uid == member.uid, m.active.is_(False)).values(values)
        )
        if revived.rowcount == 0:
            inserted = await self.conn.execute(
                insert_ignoring_duplicates(self.conn, t.members)
                .values(values | {"uid": member.uid, "created_at": self.now})
                .on_conflict_do_nothing()
            )
            if inserted.rowcount == 0:
                return False
        for ident in member.identities:
            await self.update_identity(member.uid, ident)
        return True

    async def set_lang(self, uid: str, lang: str) -> None:
        await self.conn.execute(
            sa.update(t.members).where(t.members.c.uid == uid).values(lang=lang)
        )

    async def update_identity(self, uid: str, identity: Identity) -> None:
        await self.conn.execute(
            sa.delete(t.identities).where(
                t.identities.c.channel == identity.channel,
                t.identities.c.external_id == identity.external_id,
            )
        )
        await self.conn.execute(
            sa.insert(t.identities).values(
                channel=identity.channel,
                external_id=identity.external_id,
                member_uid=uid,
                username=identity.username,
            )
        )

    async def in_team(self, team_code: str) -> list[Member]:
        rows = (
            await self.conn.execute(
                sa.select(t.members)
                .where(t.members.c.team_code == team_code, t.members.c.active.is_(True))
                .order_by(t.members.c.name)
            )
        ).all()
        members = [await self._member(r) for r in rows]
        return [m for m in members if m is not None]


class SqlOutbox:
    """Rows written here are delivered by the relay after the transaction commits."""

    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.added = 0
        #: What this unit of work really inserted (a repeated dedupe key is skipped).
        self.written: list[OutboxItem] = []

    async def add(self, item: OutboxItem) -> None:
        stmt = sa.insert(t.outbox).values(
            channel=item.channel,
            chat_id=item.chat_id,
            payload=item.payload,
            card_key=item.card_key,
            dedupe_key=item.dedupe_key,
            case_id=item.case_id,
            status=DeliveryState.PENDING.value,
            attempts=0,
            not_before=self.now,
            created_at=self.now,
        )
        if item.dedupe_key is not None:
            exists = (
                await self.conn.execute(
                    sa.select(t.outbox.c.id).where(t.outbox.c.dedupe_key == item.dedupe_key)
                )
            ).first()
            if exists is not None:
                return
        await self.conn.execute(stmt)
        self.added += 1
        self.written.append(item)
