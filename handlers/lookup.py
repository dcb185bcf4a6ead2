"""Which case and which team a message is about, when it does not say in full.

A worker at a pole types `/survey ghi chú` replying to the case's card, or has one case
only; a lead types `/open` in the team's group. These read the database and nothing
else, and refuse with the class that tells the person what to add.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.domain import errors
from bot.domain.digits import is_digits
from bot.domain.folding import fold
from bot.domain.model import Case, Role
from bot.domain.people import Member
from bot.domain.phone import redact_phones
from bot.services.assumed import Check, assumed
from bot.services.ports import CaseQuery, DirectoryMemory, RememberedChat, UnitOfWork
from handlers.parsing import ParsedCommand, looks_like_ref, read_ref
from handlers.refusals import BadRef, Choose, MissingRef, Offer, UnboundGroup
from handlers.request import Request

#: Cases offered as buttons when none was named: a phone's screen of them.
PICKED = 8
#: Characters of the address on a case's button.
ADDRESS_SHOWN = 28


#: Commands whose first words may be a number of their own (`/estimate 1500 2tr` with
#: one case, `/rate 8` replying to it): a bare number there is never read as a ref.
NUMBERS_FIRST = frozenset({"usage.estimate", "usage.install", "usage.rate"})


class Lookup:
    def __init__(
        self, uow: Callable[[], UnitOfWork], memory: DirectoryMemory | None = None
    ) -> None:
        self.uow = uow
        self.memory = memory

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
        """REF from the first argument (as people mistype it), else the case replied to."""
        named = await self.named(req, parsed.args, "usage.claim")
        if named is not None:
            return named[0]
        case = await self.replied_case(req)
        return case.ref if case else None

    async def ref(
        self, req: Request, parsed: ParsedCommand, usage_key: str
    ) -> tuple[str, tuple[str, ...]]:
        """REF and the words after it: named, else the case replied to, else the worker's
        only case."""
        named = await self.named(req, parsed.args, usage_key)
        if named is not None:
            return named
        case = await self.replied_case(req)
        if case is not None:
            return case.ref, parsed.args
        mine = await self.active_cases(req)
        if len(mine) == 1 and mine[0].assignee == req.actor.uid:
            return mine[0].ref, parsed.args
        command = usage_key.removeprefix("usage.")  # `usage.<command>`, by the step table's rule
        offers = tuple(
            Offer(
                "pick.case",
                f"{command} {case.ref}",
                {"ref": case.ref, "address": redact_phones(case.customer.address)[:ADDRESS_SHOWN]},
            )
            for case in mine
        )
        raise MissingRef(usage_key, offers=offers)

    async def active_cases(self, req: Request) -> list[Case]:
        """The cases a person may mean when they name none: their own active ones, else,
        for a lead, the team's."""
        member = req.actor.member
        if member is None:
            return []
        async with self.uow() as uow:
            query = CaseQuery(assignee=member.uid, active_only=True, limit=PICKED)
            mine = await uow.cases.find(query)
            if not mine and member.team_code is not None and member.role is Role.LEAD:
                team = CaseQuery(team_code=member.team_code, active_only=True, limit=PICKED)
                mine = await uow.cases.find(team)
        return list(mine)

    async def named(
        self, req: Request, args: tuple[str, ...], usage_key: str
    ) -> tuple[str, tuple[str, ...]] | None:
        """The ref the first words name, as typed in a hurry (`pl6`, `#PL-6`, `PL 6`,
        `6` for a case of the team), and the words after it; None when they name none.
        A word that was meant as a ref but is none is refused with how refs look."""
        if not args:
            return None
        team = await self._team_of(req)
        first = args[0]
        ref = read_ref(first, team)
        if ref is not None:
            return ref, args[1:]
        split = len(args) > 1 and is_digits(args[1]) and len(args[1]) <= 9
        if team is not None and split and first.upper() == team.upper():
            return f"{team.upper()}-{int(args[1])}", args[2:]
        bare = is_digits(first) and len(first) <= 9 and usage_key not in NUMBERS_FIRST
        if team is not None and bare:
            ref = f"{team.upper()}-{int(first)}"
            async with self.uow() as uow:
                if await uow.cases.get_by_ref(ref) is not None:
                    return ref, args[1:]
        if looks_like_ref(first):
            raise BadRef(usage_key, first)
        return None

    async def _team_of(self, req: Request) -> str | None:
        """The team whose refs a bare number or code names: the group's, else the person's."""
        if not req.is_private:
            shown = await self.team_shown_here(req)
            if shown is not None:
                return shown
        member = req.actor.member
        return member.team_code if member is not None else None

    async def workers(self, team: str, command: str) -> tuple[Offer, ...]:
        """The team's workers as buttons typing `command UID`, each with their active cases."""
        load: list[tuple[int, str, str]] = []
        async with self.uow() as uow:
            for member in await uow.members.in_team(team):
                if member.role is Role.WORKER:
                    query = CaseQuery(assignee=member.uid, active_only=True)
                    load.append((await uow.cases.count(query), member.name, member.uid))
        return tuple(  # the least loaded first
            Offer("pick.worker", f"{command} {uid}", {"name": name, "count": count})
            for count, name, uid in sorted(load)
        )

    async def member_named(self, who: str, team: str, command: str) -> Member:
        """`@username`, an id, or a part of a team member's name (diacritics optional);
        several names that fit are offered as buttons typing `command UID`."""
        try:
            return await self.member(who)
        except errors.UnknownMember:
            if who.startswith("@"):
                raise
        wanted = fold(who)
        async with self.uow() as uow:
            people = await uow.members.in_team(team)
        fits = [m for m in people if wanted and wanted in fold(m.name)]
        if len(fits) == 1:
            return fits[0]
        if not fits:
            raise errors.UnknownMember(who)
        offers = tuple(
            Offer("pick.member", f"{command} {m.uid}", {"name": m.name}) for m in fits[:PICKED]
        )
        raise Choose("pick.which_member", {"who": who}, offers)

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
        remembered = self._remembered_team(req)
        if remembered is not None:
            return remembered.team_code
        async with self.uow() as uow:
            team = await uow.teams.by_chat(req.origin.channel, req.origin.chat_id)
        return team.code if team else None

    def _remembered_team(self, req: Request) -> RememberedChat | None:
        """The group's team from the process's copy, without a transaction, when the copy
        is of the very directory version the update's speaker was recognised at: the check
        of that version by the update's unit of work (bot/services/assumed.py) then covers
        this answer too. Otherwise None: ask the database."""
        assumption = assumed()
        if self.memory is None or assumption is None or assumption.check is Check.MOVED:
            return None
        found = self.memory.chat_team(req.origin.channel, req.origin.chat_id)
        return found if found is not None and found.version == assumption.version else None

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
