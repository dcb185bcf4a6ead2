"""`/handover REF @user`: the worker who has a case offers it to a colleague, who takes it
with a press (or by typing `/handover REF` where a channel has no buttons).

The offer itself changes nothing: the case stays with the worker until the colleague
accepts, and then moves by one conditional check (still theirs, still active) in the
accepting transaction, recorded as an assignment. Offers wait in memory: a restart
forgets them, and the worker offers again (nothing of the case is lost, it never moved).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import errors
from bot.domain.clock import Clock
from bot.domain.model import Case, Role
from bot.domain.people import Actor, Member
from bot.services.cases import CaseService
from bot.services.commands import CaseCommand, TakeOver, ToMember
from bot.services.permissions import can_view
from bot.services.ports import UnitOfWork

#: How long an offer waits for the colleague's answer.
OFFER_TTL = timedelta(hours=24)


class OfferHandover(ToMember):
    """The assignee offers the case to a colleague, who must accept."""


@dataclass(frozen=True)
class AnswerHandover(CaseCommand):
    accept: bool


@dataclass(frozen=True)
class Offer:
    ref: str
    giver: Member
    taker: Member
    at: datetime


class HandoverDesk:
    """The offers waiting for an answer, one per case (a new offer replaces the old)."""

    def __init__(self, cases: CaseService, clock: Clock) -> None:
        self.cases = cases
        self.clock = clock
        self._offers: dict[str, Offer] = {}

    async def offer(self, cmd: OfferHandover, uow: UnitOfWork) -> Offer:
        """Only the worker who has the case offers it, to someone of its team who works."""
        async with uow:
            case = await _load(uow, cmd.ref)
            if not can_view(cmd.actor, case.team_code):
                raise errors.NotMember(case.team_code)
            giver = _member(cmd.actor)
            case.require_active()
            if case.assignee is None:
                raise errors.NotClaimed(case.ref)
            if case.assignee != giver.uid:
                owner = await uow.members.get(case.assignee)
                raise errors.NotAssignee(case.ref, case.assignee, owner.name if owner else None)
            taker = await uow.members.get(cmd.member_uid)
            if taker is None or not taker.active:
                raise errors.UnknownMember(cmd.member_uid)
            if taker.uid == giver.uid:
                raise errors.HandoverToSelf(case.ref)
            if taker.team_code != case.team_code or taker.role not in (Role.WORKER, Role.LEAD):
                raise errors.NotInTeam(taker.name, case.team_code)
        offer = Offer(case.ref, giver, taker, self.clock.now())
        self._offers[case.ref] = offer
        return offer

    def waiting(self, ref: str, actor: Actor) -> Offer:
        """The offer of `ref` made to `actor`, still fresh; else HandoverGone."""
        offer = self._offers.get(ref)
        if offer is None or offer.taker.uid != actor.uid or self.clock.now() - offer.at > OFFER_TTL:
            raise errors.HandoverGone(ref)
        return offer

    async def answer(self, cmd: AnswerHandover, uow: UnitOfWork) -> tuple[Offer, Case | None]:
        """The colleague's answer; on yes the case is theirs (None: declined)."""
        offer = self.waiting(cmd.ref, cmd.actor)
        del self._offers[cmd.ref]
        if not cmd.accept:
            return offer, None
        case = await self.cases.take_over(
            TakeOver(cmd.actor, cmd.source, cmd.origin, cmd.ref, giver=offer.giver), uow
        )
        return offer, case


async def _load(uow: UnitOfWork, ref: str) -> Case:
    case = await uow.cases.get_by_ref(ref)
    if case is None:
        raise errors.CaseNotFound(ref)
    return case


def _member(actor: Actor) -> Member:
    if actor.member is None:
        raise errors.NotMember(None)
    return actor.member
