"""Which case and which team a message is about, when it does not say in full.

A worker at a pole types `/survey ghi chú` replying to the case's card, or has one case
only; a lead types `/open` in the team's group. These read the database and nothing
else, and refuse with the class that tells the person what to add.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.domain import errors
from bot.domain.model import Case, Role
from bot.domain.people import Member
from bot.services.ports import CaseQuery, UnitOfWork
from handlers.parsing import ParsedCommand, normalize_ref
from handlers.refusals import MissingRef, UnboundGroup
from handlers.request import Request


class Lookup:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self.uow = uow

    async def replied_case(self, req: Request) -> Case | None:
        """The case whose message this one replies to, if any."""
        reply_to = req.inbound.reply_to_message_id
        if reply_to is None:
            return None
        async with self.uow() as uow:
            return await uow.cases.case_for_message(
                req.origin.channel, req.origin.chat_id, reply_to
            )

    async def named_or_replied(self, req: Request, parsed: ParsedCommand) -> str | None:
        """REF from the first argument, else the case replied to."""
        first = parsed.arg(0)
        ref = normalize_ref(first) if first else None
        if ref is not None:
            return ref
        case = await self.replied_case(req)
        return case.ref if case else None

    async def ref(
        self, req: Request, parsed: ParsedCommand, usage_key: str
    ) -> tuple[str, tuple[str, ...]]:
        """REF and the words after it: named, else the case replied to, else the worker's
        only case."""
        first = parsed.arg(0)
        ref = normalize_ref(first) if first else None
        if ref is not None:
            return ref, parsed.args[1:]
        case = await self.replied_case(req)
        if case is not None:
            return case.ref, parsed.args
        if req.actor.member is not None:
            query = CaseQuery(assignee=req.actor.member.uid, active_only=True, limit=2)
            async with self.uow() as uow:
                mine = await uow.cases.find(query)
            if len(mine) == 1:
                return mine[0].ref, parsed.args
        raise MissingRef(usage_key)

    async def member(self, who: str) -> Member:
        """`@username` or a member's id, as a lead names someone."""
        async with self.uow() as uow:
            member = (
                await uow.members.by_username(who)
                if who.startswith("@")
                else await uow.members.get(who)
            )
        if member is None:
            raise errors.UnknownMember(who)
        return member

    async def team_shown_here(self, req: Request) -> str | None:
        """The team a group shows (None: no team, or a private chat)."""
        if req.is_private:
            return None
        async with self.uow() as uow:
            team = await uow.teams.by_chat(req.origin.channel, req.origin.chat_id)
        return team.code if team else None

    async def team_of_chat(self, req: Request) -> str:
        """The team a group shows; in private, the member's own team."""
        if not req.is_private:
            team = await self.team_shown_here(req)
            if team is None:
                raise UnboundGroup
            return team
        if req.actor.member is None or req.actor.member.team_code is None:
            raise errors.NotMember(None)
        return req.actor.member.team_code

    async def report_team(self, req: Request) -> str | None:
        """A team's group shows that team; an admin elsewhere gets every team (None)."""
        if not req.is_private:
            team = await self.team_shown_here(req)
            if team is not None:
                return team
            if req.actor.is_admin:
                return None
            raise UnboundGroup
        if req.actor.is_admin:
            return None
        if req.actor.member is None or req.actor.member.team_code is None:
            raise errors.Forbidden((Role.LEAD,))
        return req.actor.member.team_code
