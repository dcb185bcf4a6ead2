"""Onboarding without ids: one-time invites a lead hands out, and one-time codes that
link a person's account on a second channel (Zalo, Telegram) to the same member.

A team invite makes its opener a member only after a lead of the team agrees, so a
link that leaked from the group cannot let a stranger in. A link code is issued by a
member to themselves; opening it on the other channel only asks, and the account that
made the code confirms: a code that leaked (shown in a group, typed where others see)
gives nobody the member's name, role and team. Both steps are short (minutes).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NoReturn, Protocol

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
LINK_TTL = timedelta(minutes=10)
#: Once opened, the account that made the code has this long to confirm.
LINK_CONFIRM_TTL = timedelta(minutes=10)
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
    PENDING = "pending"  # opened, waiting for a lead (team) or for the code's maker (link)
    APPROVED = "approved"
    DECLINED = "declined"  # a lead said no, or the maker of a link code did not confirm
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
        return self.identity.uid

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
    #: LINK: the account (`channel:id`) that made the code, the only one that confirms it.
    created_via: str | None = None
    opened_at: datetime | None = None

    def confirm_by(self) -> datetime | None:
        """When an opened link code stops waiting for its maker's confirmation."""
        return self.opened_at + LINK_CONFIRM_TTL if self.opened_at is not None else None


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


class NotCodeOwner(errors.DomainError):
    """Somebody other than the account that made a link code tried to confirm it.

    A lead or an admin cannot confirm for a member either: the point of asking is that
    only the person holding that account vouches for the other one.
    """


class JoinerIsMember(errors.DomainError):
    """A lead agreed to a join request from someone who became a member meanwhile.

    They may have opened invites of two teams; the first lead to agree won. Agreeing
    to the second would silently move them, so it changes nothing, and the lead of
    the team they are in is told (`team_code` None: a clerk of every team).
    """

    def __init__(self, name: str, team_code: str | None, same_team: bool) -> None:
        super().__init__(team_code or "")
        self.name = name
        self.team_code = team_code
        self.same_team = same_team


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
    async def join_blocked(
        self, uow: UnitOfWork, invite: Invite, member: Member, leads: list[Member], by: Actor
    ) -> None: ...
    async def link_requested(
        self, uow: UnitOfWork, invite: Invite, member: Member, origin: Origin | None
    ) -> None: ...
    async def link_decided(
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

    async def create_link(self, actor: Actor, account: Identity, uow: UnitOfWork) -> Invite:
        """A code the member opens on their other channel to use the bot there too.

        `account` is the channel account asking; only it can confirm the link later.
        """
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
                created_via=account.uid,
            )
            await uow.invites.add(invite)
            await uow.commit()
        return invite

    async def open(
        self, token: str, joiner: Joiner, origin: Origin | None, uow: UnitOfWork
    ) -> Invite:
        """Someone opened a code: a team invite waits for a lead, a link code for its maker.

        Nothing about membership changes here; returns the invite as it is now.
        """
        now = self.clock.now()
        async with uow:
            invite = await uow.invites.get(token)
            if invite is None:
                raise InviteInvalid(InviteProblem.UNKNOWN)
            existing = await uow.members.by_identity(joiner.channel, joiner.external_id)
            if invite.kind is InviteKind.LINK:
                return await self._link_requested(uow, invite, joiner, existing, origin, now)
            if existing is not None and existing.active:
                if existing.team_code == invite.team_code:
                    raise AlreadyMember(invite.team_code)
                raise MemberElsewhere(existing.team_code)
            self._usable(invite, now)
            invite = await self._opened(uow, invite, joiner, now)
            lead = await uow.members.get(invite.created_by)
            if self.notices is not None:
                await self.notices.join_requested(uow, invite, lead, origin)
            await uow.commit()
        return invite

    async def _opened(
        self, uow: UnitOfWork, invite: Invite, joiner: Joiner, now: datetime
    ) -> Invite:
        """Open → pending, once: of two people opening a code at once, one gets it."""
        if not await uow.invites.open(invite.token, joiner, InviteStatus.PENDING, now):
            raise InviteInvalid(InviteProblem.USED)
        return replace(invite, status=InviteStatus.PENDING, joiner=joiner, opened_at=now)

    async def _link_requested(
        self,
        uow: UnitOfWork,
        invite: Invite,
        joiner: Joiner,
        existing: Member | None,
        origin: Origin | None,
        now: datetime,
    ) -> Invite:
        member = await self._link_member(uow, invite)
        self._usable(invite, now)
        self._linkable(member, joiner, existing)
        invite = await self._opened(uow, invite, joiner, now)
        if self.notices is not None:
            await self.notices.link_requested(uow, invite, member, origin)
        await uow.commit()
        return invite

    @staticmethod
    async def _link_member(uow: UnitOfWork, invite: Invite) -> Member:
        member = await uow.members.get(invite.member_uid or "")
        if member is None or not member.active:
            raise InviteInvalid(InviteProblem.UNKNOWN)
        return member

    @staticmethod
    def _linkable(member: Member, joiner: Joiner, existing: Member | None) -> None:
        """The opener's account is free, and the member has none on that channel yet."""
        if existing is not None and existing.uid != member.uid and existing.active:
            raise IdentityTaken()
        if member.identity_on(joiner.channel) is not None:
            raise SameChannel()

    @staticmethod
    def _usable(invite: Invite, now: datetime) -> None:
        if invite.status is not InviteStatus.OPEN:
            raise InviteInvalid(InviteProblem.USED)
        if invite.expires_at <= now:
            raise InviteInvalid(InviteProblem.EXPIRED)

    async def answer(
        self,
        actor: Actor,
        account: Identity,
        token: str,
        approve: bool,
        origin: Origin | None,
        uow: UnitOfWork,
        kind: InviteKind | None = None,
    ) -> tuple[Invite, Member | None]:
        """Yes or no to an opened code: a lead's to a join request, or a member's to the
        link of another account to theirs. `kind`: what the button pressed was made for
        (None: typed, `/invite ok CODE`, which answers either).

        Returns the invite as it is now and the member it made or linked, if any.
        """
        now = self.clock.now()
        async with uow:
            invite = await uow.invites.get(token)
            if invite is None or (kind is not None and invite.kind is not kind):
                raise InviteInvalid(InviteProblem.UNKNOWN)
            if invite.kind is InviteKind.LINK:
                result = await self._confirm_link(uow, actor, account, invite, approve, origin, now)
            else:
                result = await self._decide_join(uow, actor, invite, approve, origin, now)
        return result

    async def _decide_join(
        self,
        uow: UnitOfWork,
        actor: Actor,
        invite: Invite,
        approve: bool,
        origin: Origin | None,
        now: datetime,
    ) -> tuple[Invite, Member | None]:
        """A lead lets the person in (a member of the team, with the invite's role) or not."""
        if invite.team_code is None:
            raise InviteInvalid(InviteProblem.UNKNOWN)
        require_lead(actor, invite.team_code)
        joiner = invite.joiner
        if invite.status is not InviteStatus.PENDING or joiner is None:
            raise InviteInvalid(InviteProblem.USED)
        existing = await uow.members.by_identity(joiner.channel, joiner.external_id)
        if approve and existing is not None and existing.active:
            await self._blocked(uow, actor, invite, existing)
        status = InviteStatus.APPROVED if approve else InviteStatus.DECLINED
        if not await uow.invites.decide(invite.token, status, actor.uid, now):
            raise InviteInvalid(InviteProblem.USED)
        member: Member | None = None
        if approve:
            member = Member(
                uid=existing.uid if existing else joiner.uid,
                name=existing.name if existing else joiner.name,
                role=invite.role,
                team_code=invite.team_code,
                lang=existing.lang if existing else None,
                identities=(joiner.identity,),
                active=True,
            )
            if not await uow.members.enrol(member):
                # Another team's lead let them in a moment ago, in a transaction that
                # ran alongside this one: the same answer as when it was seen above.
                await uow.rollback()
                joined = await uow.members.get(member.uid)
                assert joined is not None
                await self._blocked(uow, actor, invite, joined)
            member = await uow.members.get(member.uid)
        invite = replace(invite, status=status, decided_by=actor.uid, decided_at=now)
        if self.notices is not None:
            await self.notices.join_decided(uow, invite, member, origin)
        await uow.commit()
        return invite, member

    async def _blocked(
        self, uow: UnitOfWork, actor: Actor, invite: Invite, member: Member
    ) -> NoReturn:
        """The person joined a team since they opened this invite: change nothing, tell
        their lead (the one who agrees now hears it as the refusal), keep the request
        waiting for when they are free."""
        same = member.team_code == invite.team_code
        if not same and member.team_code is not None and self.notices is not None:
            leads = [m for m in await uow.members.in_team(member.team_code) if m.role is Role.LEAD]
            await self.notices.join_blocked(uow, invite, member, leads, actor)
            await uow.commit()
        raise JoinerIsMember(member.name, member.team_code, same)

    async def _confirm_link(
        self,
        uow: UnitOfWork,
        actor: Actor,
        account: Identity,
        invite: Invite,
        approve: bool,
        origin: Origin | None,
        now: datetime,
    ) -> tuple[Invite, Member | None]:
        """The account that made a link code says whether the opener was them."""
        if invite.created_via is None or account.uid != invite.created_via:
            raise NotCodeOwner()
        member = await self._link_member(uow, invite)
        if actor.member is None or actor.member.uid != member.uid:
            raise NotCodeOwner()  # that account no longer belongs to the member
        joiner = invite.joiner
        deadline = invite.confirm_by()
        if invite.status is not InviteStatus.PENDING or joiner is None or deadline is None:
            raise InviteInvalid(InviteProblem.USED)
        if deadline <= now:
            raise InviteInvalid(InviteProblem.EXPIRED)
        if approve:
            existing = await uow.members.by_identity(joiner.channel, joiner.external_id)
            self._linkable(member, joiner, existing)
        status = InviteStatus.LINKED if approve else InviteStatus.DECLINED
        if not await uow.invites.decide(invite.token, status, account.uid, now):
            raise InviteInvalid(InviteProblem.USED)
        if approve:
            await uow.members.update_identity(member.uid, joiner.identity)
            linked = await uow.members.get(member.uid)
            assert linked is not None
            member = linked
        invite = replace(invite, status=status, decided_by=account.uid, decided_at=now)
        if self.notices is not None:
            await self.notices.link_decided(uow, invite, member, origin)
        await uow.commit()
        return invite, member if approve else None

    async def removable(self, actor: Actor, team_code: str, who: str, uow: UnitOfWork) -> Member:
        """The member `/remove` would take out, checked as the removal checks; nothing
        changes (the lead is asked first)."""
        async with uow:
            return await self._removable(actor, team_code, who, uow)

    async def _removable(self, actor: Actor, team_code: str, who: str, uow: UnitOfWork) -> Member:
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
        return member

    async def remove(
        self, actor: Actor, team_code: str, who: str, uow: UnitOfWork
    ) -> tuple[Member, list[Case]]:
        """Take a person out of the team; returns them (as they were, their accounts
        included, so they can be told) and the cases a lead must reassign."""
        async with uow:
            member = await self._removable(actor, team_code, who, uow)
            await uow.members.add(replace(member, active=False, identities=()))
            cases = await uow.cases.find(CaseQuery(assignee=member.uid, active_only=True))
            await uow.commit()
        return member, cases
