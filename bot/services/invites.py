"""Onboarding without ids: one-time invites a lead hands out, and one-time codes that
link a person's account on a second channel (Zalo, Telegram) to the same member.

A team invite makes its opener a member only after a lead of the team agrees, so a
link that leaked from the group cannot let a stranger in. A link code is issued by a
member to themselves; opening it on the other channel is the proof that both
accounts belong to one person.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.domain import errors
from bot.domain.clock import Clock
from bot.domain.events import Origin
from bot.domain.model import Case, Role
from bot.domain.people import Actor, Identity, Member
from bot.services.permissions import require_lead
from bot.services.ports import CaseQuery, UnitOfWork

#: How long a lead's invite may wait for its person.
INVITE_TTL = timedelta(days=3)
#: A link code is opened a minute later on the same phone; keep its window short.
LINK_TTL = timedelta(minutes=30)
#: Typed by hand on Zalo: no 0/O, 1/I look-alikes; 10 characters are 50 bits.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """What a person typed (`abcd-2345 xy`), as the stored code, or None if it cannot be one."""
    code = "".join(ch for ch in text.upper() if ch not in " -_")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


class InviteKind(StrEnum):
    TEAM = "team"  # join a team, with a role, once a lead agrees
    LINK = "link"  # attach another channel's account to the member who asked


class InviteStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # opened, waiting for a lead
    APPROVED = "approved"
    DECLINED = "declined"
    LINKED = "linked"


@dataclass(frozen=True)
class Joiner:
    """The person who opened the invite, as their channel reported them."""

    channel: str
    external_id: str
    name: str
    username: str | None = None
    lang: str | None = None

    @property
    def uid(self) -> str:
        return f"{self.channel}:{self.external_id}"

    @property
    def identity(self) -> Identity:
        return Identity(self.channel, self.external_id, self.username)


@dataclass(frozen=True)
class Invite:
    token: str
    kind: InviteKind
    team_code: str | None
    role: Role
    created_by: str
    created_at: datetime
    expires_at: datetime
    status: InviteStatus = InviteStatus.OPEN
    member_uid: str | None = None  # LINK: the member the new account joins
    joiner: Joiner | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


class InviteRepository(Protocol):
    async def add(self, invite: Invite) -> None: ...
    async def get(self, token: str) -> Invite | None: ...
    async def open(
        self, token: str, joiner: Joiner, status: InviteStatus, at: datetime
    ) -> bool: ...
    async def decide(self, token: str, status: InviteStatus, by: str, at: datetime) -> bool: ...


class InviteProblem(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


class InviteInvalid(errors.DomainError):
    def __init__(self, problem: InviteProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class AlreadyMember(errors.DomainError):
    def __init__(self, team_code: str | None) -> None:
        super().__init__(team_code or "")
        self.team_code = team_code


class MemberElsewhere(errors.DomainError):
    """An active member of another team (or a clerk of every team) opened a team invite.

    Joining would silently take them out of their team; their own lead removes
    them first, so neither team loses someone without knowing.
    """

    def __init__(self, team_code: str | None) -> None:
        super().__init__(team_code or "")
        self.team_code = team_code


class IdentityTaken(errors.DomainError):
    """This account already belongs to another member."""


class SameChannel(errors.DomainError):
    """A link code opened on a channel where the member already has an account."""


class CannotRemoveSelf(errors.DomainError):
    pass


class InviteNotices(Protocol):
    """Writes what an invite's progress means for the chats, inside its transaction."""

    async def join_requested(
        self, uow: UnitOfWork, invite: Invite, lead: Member | None, origin: Origin | None
    ) -> None: ...
    async def join_decided(
        self, uow: UnitOfWork, invite: Invite, member: Member | None, origin: Origin | None
    ) -> None: ...
    async def linked(
        self, uow: UnitOfWork, invite: Invite, member: Member, origin: Origin | None
    ) -> None: ...


class InviteService:
    def __init__(
        self,
        clock: Clock,
        notices: InviteNotices | None = None,
        codes: Callable[[], str] = new_code,
    ) -> None:
        self.clock = clock
        self.notices = notices
        self.codes = codes

    async def create(self, actor: Actor, team_code: str, role: Role, uow: UnitOfWork) -> Invite:
        """A one-time invite into `team_code`; leads (and admins) hand them out."""
        now = self.clock.now()
        async with uow:
            team = await uow.teams.get(team_code)
            if team is None:
                raise errors.UnknownTeam(team_code)
            require_lead(actor, team.code)
            invite = Invite(
                token=self.codes(),
                kind=InviteKind.TEAM,
                team_code=team.code,
                role=role,
                created_by=actor.uid,
                created_at=now,
                expires_at=now + INVITE_TTL,
            )
            await uow.invites.add(invite)
            await uow.commit()
        return invite

    async def create_link(self, actor: Actor, uow: UnitOfWork) -> Invite:
        """A code the member opens on their other channel to use the bot there too."""
        member = actor.member
        if member is None:
            raise errors.NotMember(None)
        now = self.clock.now()
        async with uow:
            invite = Invite(
                token=self.codes(),
                kind=InviteKind.LINK,
                team_code=member.team_code,
                role=member.role,
                created_by=member.uid,
                created_at=now,
                expires_at=now + LINK_TTL,
                member_uid=member.uid,
            )
            await uow.invites.add(invite)
            await uow.commit()
        return invite

    async def open(
        self, token: str, joiner: Joiner, origin: Origin | None, uow: UnitOfWork
    ) -> tuple[Invite, Member | None]:
        """Someone opened a code: a team invite waits for a lead; a link code links at once.

        Returns the invite as it is now, and for a link the member now reachable here.
        """
        now = self.clock.now()
        async with uow:
            invite = await uow.invites.get(token)
            if invite is None:
                raise InviteInvalid(InviteProblem.UNKNOWN)
            existing = await uow.members.by_identity(joiner.channel, joiner.external_id)
            if invite.kind is InviteKind.LINK:
                return await self._link(uow, invite, joiner, existing, origin, now)
            if existing is not None and existing.active:
                if existing.team_code == invite.team_code:
                    raise AlreadyMember(invite.team_code)
                raise MemberElsewhere(existing.team_code)
            self._usable(invite, now)
            if not await uow.invites.open(token, joiner, InviteStatus.PENDING, now):
                raise InviteInvalid(InviteProblem.USED)
            invite = replace(invite, status=InviteStatus.PENDING, joiner=joiner)
            lead = await uow.members.get(invite.created_by)
            if self.notices is not None:
                await self.notices.join_requested(uow, invite, lead, origin)
            await uow.commit()
        return invite, None

    async def _link(
        self,
        uow: UnitOfWork,
        invite: Invite,
        joiner: Joiner,
        existing: Member | None,
        origin: Origin | None,
        now: datetime,
    ) -> tuple[Invite, Member | None]:
        member = await uow.members.get(invite.member_uid or "")
        if member is None or not member.active:
            raise InviteInvalid(InviteProblem.UNKNOWN)
        self._usable(invite, now)
        if existing is not None and existing.uid != member.uid and existing.active:
            raise IdentityTaken()
        if member.identity_on(joiner.channel) is not None:
            raise SameChannel()
        if not await uow.invites.open(invite.token, joiner, InviteStatus.LINKED, now):
            raise InviteInvalid(InviteProblem.USED)
        await uow.members.update_identity(member.uid, joiner.identity)
        linked = await uow.members.get(member.uid)
        assert linked is not None
        invite = replace(invite, status=InviteStatus.LINKED, joiner=joiner)
        if self.notices is not None:
            await self.notices.linked(uow, invite, linked, origin)
        await uow.commit()
        return invite, linked

    @staticmethod
    def _usable(invite: Invite, now: datetime) -> None:
        if invite.status is not InviteStatus.OPEN:
            raise InviteInvalid(InviteProblem.USED)
        if invite.expires_at <= now:
            raise InviteInvalid(InviteProblem.EXPIRED)

    async def decide(
        self, actor: Actor, token: str, approve: bool, origin: Origin | None, uow: UnitOfWork
    ) -> tuple[Invite, Member | None]:
        """A lead lets the person in (a member of the team, with the invite's role) or not."""
        now = self.clock.now()
        async with uow:
            invite = await uow.invites.get(token)
            if invite is None or invite.kind is not InviteKind.TEAM or invite.team_code is None:
                raise InviteInvalid(InviteProblem.UNKNOWN)
            require_lead(actor, invite.team_code)
            joiner = invite.joiner
            if invite.status is not InviteStatus.PENDING or joiner is None:
                raise InviteInvalid(InviteProblem.USED)
            status = InviteStatus.APPROVED if approve else InviteStatus.DECLINED
            if not await uow.invites.decide(token, status, actor.uid, now):
                raise InviteInvalid(InviteProblem.USED)
            member: Member | None = None
            if approve:
                existing = await uow.members.by_identity(joiner.channel, joiner.external_id)
                member = Member(
                    uid=existing.uid if existing else joiner.uid,
                    name=existing.name if existing else joiner.name,
                    role=invite.role,
                    team_code=invite.team_code,
                    lang=existing.lang if existing else None,
                    identities=(joiner.identity,),
                    active=True,
                )
                await uow.members.add(member)
                member = await uow.members.get(member.uid)
            invite = replace(invite, status=status, decided_by=actor.uid, decided_at=now)
            if self.notices is not None:
                await self.notices.join_decided(uow, invite, member, origin)
            await uow.commit()
        return invite, member

    async def remove(
        self, actor: Actor, team_code: str, who: str, uow: UnitOfWork
    ) -> tuple[Member, list[Case]]:
        """Take a person out of the team; returns them and the cases a lead must reassign."""
        async with uow:
            require_lead(actor, team_code)
            member = (
                await uow.members.by_username(who)
                if who.startswith("@")
                else await uow.members.get(who)
            )
            if member is None or not member.active or member.team_code != team_code:
                raise errors.UnknownMember(who)
            if member.uid == actor.uid:
                raise CannotRemoveSelf()
            await uow.members.add(replace(member, active=False, identities=()))
            cases = await uow.cases.find(CaseQuery(assignee=member.uid, active_only=True))
            await uow.commit()
        return member, cases
