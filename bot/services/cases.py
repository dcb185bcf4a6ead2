"""The service layer: each use case takes a command and a unit of work.

Services check permissions and the workflow, change the case, append history
and publish events; the unit of work turns events into outbox rows at commit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

from bot.domain import errors
from bot.domain.clock import Clock
from bot.domain.events import CaseAssigned, CaseClaimed, CaseMoved, CaseReceived, CaseReleased
from bot.domain.evidence import PhotoRequired, has_photo
from bot.domain.model import (
    Action,
    Case,
    CaseStatus,
    Estimate,
    HistoryEntry,
    Meter,
    Source,
)
from bot.domain.people import Actor, Member
from bot.domain.phone import redact_phones
from bot.domain.steps import step_of
from bot.services.commands import (
    AddNote,
    AssignCase,
    CancelCase,
    ClaimCase,
    Command,
    HoldCase,
    IntakeCase,
    RateCase,
    RecordEstimate,
    RecordInstall,
    ReleaseCase,
    ReportStep,
    ResumeCase,
    StepReport,
    TakeOver,
)
from bot.services.permissions import authorize, authorize_intake, can_view, require_reach
from bot.services.ports import DuplicateExternalRef, UnitOfWork
from bot.sla.clocks import refresh_clocks
from bot.sla.overdue import is_completed
from bot.sla.policy import Policy


class CaseService:
    """Use cases of the dispatch desk; built once in bootstrap and shared."""

    def __init__(self, policy: Policy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock

    # ----------------------------------------------------------------- intake
    async def intake(self, cmd: IntakeCase, uow: UnitOfWork) -> tuple[Case, bool]:
        """Store a new case, or return the one its integration already filed under its
        external_ref. A new case comes back with its history (the intake's entry).

        An external_ref is the integration's own number, unique among the cases that
        integration filed (the actor's uid: `api:desk`), never across integrations: two
        desks may number alike, and neither may reach the other's case by guessing.
        """
        try:
            return await self._intake(cmd, uow)
        except DuplicateExternalRef:
            assert cmd.external_ref is not None
            async with uow:
                existing = await uow.cases.get_by_external_ref(cmd.actor.uid, cmd.external_ref)
            if existing is None:  # pragma: no cover - the row that collided vanished
                raise
            return self._repeated(cmd, existing), False

    @staticmethod
    def _repeated(cmd: IntakeCase, existing: Case) -> Case:
        """A retried intake names the same team; a ref reused for another team is refused."""
        if existing.team_code != cmd.team_code.upper():
            raise errors.ExternalRefTaken(existing.external_ref or "", existing.team_code)
        return existing

    async def _intake(self, cmd: IntakeCase, uow: UnitOfWork) -> tuple[Case, bool]:
        now = self.clock.now()
        async with uow:
            require_reach(cmd.actor, cmd.team_code.upper())  # before the ref says anything
            # An unknown team before a retry's ref: the API names it as a bad field.
            team = await uow.teams.get(cmd.team_code.upper())
            if team is None:
                raise errors.UnknownTeam(cmd.team_code)
            if cmd.external_ref:
                existing = await uow.cases.get_by_external_ref(cmd.actor.uid, cmd.external_ref)
                if existing is not None:
                    return self._repeated(cmd, existing), False
            authorize_intake(cmd.actor, team.code)
            received = cmd.received_at or now
            case = Case(
                id=None,
                ref=await uow.cases.next_ref(team.code),
                external_ref=cmd.external_ref,
                integration=cmd.actor.uid if cmd.external_ref else None,
                kind=cmd.kind,
                team_code=team.code,
                status=CaseStatus.OPEN,
                customer=cmd.customer,
                area=cmd.area,
                purpose=cmd.purpose,
                description=cmd.description,
                received_at=received,
                needs_extra_works=cmd.needs_extra_works,
                last_progress_at=received,
            )
            refresh_clocks(case, self.policy)
            case = await uow.cases.add(case)
            await self._record(uow, case, Action.INTAKE, cmd, None, now)
            assert case.id is not None
            for item in cmd.evidence:
                await uow.evidence.add(case.id, item, cmd.actor.uid, now, cmd.source)
            uow.publish(CaseReceived(case, cmd.origin, silent=cmd.source is Source.IMPORT))
            await uow.commit()
        return case, True

    # ------------------------------------------------------------------ claim
    async def claim(self, cmd: ClaimCase, uow: UnitOfWork) -> Case:
        """First press wins: one conditional UPDATE decides, whatever the concurrency."""
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            authorize(cmd.actor, Action.CLAIM, case)
            member = self._member(cmd.actor)
            await self._refuse_unclaimable(uow, case)
            assert case.id is not None
            if not await uow.cases.claim(case.id, member.uid, now):
                fresh = await self._load(uow, cmd.ref)
                await self._refuse_unclaimable(uow, fresh)
                raise errors.AlreadyClaimed(fresh.ref, fresh.assignee, None)  # pragma: no cover
            case = await self._load(uow, cmd.ref)
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, Action.CLAIM, cmd, None, now)
            uow.publish(CaseClaimed(case, cmd.origin, member=member))
            await uow.commit()
        return case

    async def _refuse_unclaimable(self, uow: UnitOfWork, case: Case) -> None:
        if case.status is CaseStatus.OPEN:
            return
        case.require_active()
        if case.status is CaseStatus.ON_HOLD:
            raise errors.CaseOnHold(case.ref)
        owner = await uow.members.get(case.assignee) if case.assignee else None
        raise errors.AlreadyClaimed(case.ref, case.assignee, owner.name if owner else None)

    # ------------------------------------------------------------------ steps
    async def report_step(self, cmd: ReportStep, uow: UnitOfWork) -> Case:
        """survey, inspect, resolve, agree and close share one path."""
        return await self._move(cmd, uow, cmd.action, None)

    async def estimate(self, cmd: RecordEstimate, uow: UnitOfWork) -> Case:
        def apply(case: Case) -> None:
            case.estimate = Estimate(cmd.customer_cost, cmd.utility_cost)

        return await self._move(cmd, uow, Action.ESTIMATE, apply)

    async def install(self, cmd: RecordInstall, uow: UnitOfWork) -> Case:
        def apply(case: Case) -> None:
            case.meter = Meter(cmd.meter_serial, cmd.reading)

        return await self._move(cmd, uow, Action.INSTALL, apply)

    async def _move(
        self,
        cmd: StepReport,
        uow: UnitOfWork,
        action: Action,
        apply: Callable[[Case], None] | None,
    ) -> Case:
        """One step; its evidence (photos, location) is stored in the same transaction."""
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, action, case)
            step = step_of(action)
            corrected = self._take_step(case, action)
            assert case.id is not None
            need_photo = step.needs_photo(self.policy.install_requires_photo)
            photo_missing = need_photo and not has_photo(list(cmd.evidence))
            if photo_missing and not await uow.evidence.has_photo(case.id):
                raise PhotoRequired(case.ref)
            for item in cmd.evidence:
                await uow.evidence.add(case.id, item, cmd.actor.uid, now, cmd.source)
            if apply is not None:
                apply(case)
            case.last_progress_at = now
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, action, cmd, cmd.note, now)
            uow.publish(CaseMoved(case, cmd.origin, action, cmd.actor.name, cmd.note, corrected))
            await uow.commit()
        return case

    def _take_step(self, case: Case, action: Action) -> bool:
        """Move the case on by the step, or, while it still stands at that step, take the
        step again as a correction (True); else the workflow's refusal."""
        step = step_of(action)
        if step.correctable and case.status is step.moves_to:
            case.require_active()
            return True
        case.advance(self.policy.workflow, step.moves_to)
        return False

    # ------------------------------------------------------ lead and upkeep
    async def release(self, cmd: ReleaseCase, uow: UnitOfWork) -> Case:
        """Give an untouched claim back; after the survey a lead reassigns instead."""
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, Action.RELEASE, case)
            case.require_active()
            if case.status is not CaseStatus.CLAIMED or case.assignee is None:
                if case.assignee is None:
                    raise errors.NotClaimed(case.ref)
                raise errors.ReleaseTooLate(case.ref)
            previous = case.assignee
            case.status = CaseStatus.OPEN
            case.assignee = None
            case.claimed_at = None
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, Action.RELEASE, cmd, None, now)
            uow.publish(CaseReleased(case, cmd.origin, previous, cmd.actor.name))
            await uow.commit()
        return case

    async def hold(self, cmd: HoldCase, uow: UnitOfWork) -> Case:
        """Stop the clocks while the customer or a permit is the one late."""
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, Action.HOLD, case)
            case.require_active()
            if case.status is CaseStatus.ON_HOLD:
                raise errors.CaseOnHold(case.ref)
            case.held_from = case.status
            case.status = CaseStatus.ON_HOLD
            case.held_at = now
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, Action.HOLD, cmd, cmd.reason, now)
            uow.publish(CaseMoved(case, cmd.origin, Action.HOLD, cmd.actor.name, cmd.reason))
            await uow.commit()
        return case

    async def resume(self, cmd: ResumeCase, uow: UnitOfWork) -> Case:
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, Action.RESUME, case)
            case.require_active()
            if case.status is not CaseStatus.ON_HOLD or case.held_from is None:
                raise errors.NotOnHold(case.ref)
            if case.held_at is not None:
                case.paused += self.policy.calendar.between(case.held_at, now)
            case.status = case.held_from
            case.held_from = None
            case.held_at = None
            case.last_progress_at = now
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, Action.RESUME, cmd, None, now)
            uow.publish(CaseMoved(case, cmd.origin, Action.RESUME, cmd.actor.name, None))
            await uow.commit()
        return case

    async def assign(self, cmd: AssignCase, uow: UnitOfWork) -> Case:
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, Action.ASSIGN, case)
            case.require_active()
            member = await uow.members.get(cmd.member_uid)
            if member is None or not member.active:
                raise errors.UnknownMember(cmd.member_uid)
            if member.team_code != case.team_code:
                raise errors.NotInTeam(member.name, case.team_code)
            previous = case.assignee
            case.assignee = member.uid
            case.claimed_at = now
            case.last_progress_at = now
            if case.status is CaseStatus.OPEN:
                case.status = CaseStatus.CLAIMED
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, Action.ASSIGN, cmd, member.name, now)
            uow.publish(
                CaseAssigned(
                    case, cmd.origin, member=member, previous=previous, actor_name=cmd.actor.name
                )
            )
            await uow.commit()
        return case

    async def take_over(self, cmd: TakeOver, uow: UnitOfWork) -> Case:
        """A handover accepted: the case moves only if it is still the giver's."""
        now = self.clock.now()
        taker = self._member(cmd.actor)
        async with uow:
            case = await self._load(uow, cmd.ref)
            case.require_active()
            if case.assignee != cmd.giver.uid:
                raise errors.HandoverGone(case.ref)  # released or reassigned meanwhile
            case.assignee = taker.uid
            case.last_progress_at = now
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, Action.ASSIGN, cmd, taker.name, now)
            uow.publish(
                CaseAssigned(
                    case,
                    cmd.origin,
                    member=taker,
                    previous=cmd.giver.uid,
                    actor_name=cmd.giver.name,
                    handover=True,
                )
            )
            await uow.commit()
        return case

    async def add_note(self, cmd: AddNote, uow: UnitOfWork) -> Case:
        """Anyone who may see the case may add a word to its history; nothing else moves."""
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, Action.NOTE, case)
            await self._record(uow, case, Action.NOTE, cmd, cmd.note, now)
            await uow.commit()
        return case

    async def cancel(self, cmd: CancelCase, uow: UnitOfWork) -> Case:
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, Action.CANCEL, case)
            case.require_active()
            case.status = CaseStatus.CANCELLED
            case.held_from = None
            refresh_clocks(case, self.policy)
            await uow.cases.save(case)
            await self._record(uow, case, Action.CANCEL, cmd, cmd.reason, now)
            uow.publish(CaseMoved(case, cmd.origin, Action.CANCEL, cmd.actor.name, cmd.reason))
            await uow.commit()
        return case

    async def rate(self, cmd: RateCase, uow: UnitOfWork) -> Case:
        """The customer's score, once the work is done."""
        if not 1 <= cmd.score <= 10:
            raise errors.BadRating(str(cmd.score))
        now = self.clock.now()
        async with uow:
            case = await self._load(uow, cmd.ref)
            await self._authorize(uow, cmd.actor, Action.RATE, case)
            if not is_completed(case, self.policy.workflow):
                done = self.policy.workflow.completion_step(case.kind)
                raise errors.IllegalTransition(case.ref, case.status, done, done)
            case.satisfaction = cmd.score
            await uow.cases.save(case)
            await self._record(uow, case, Action.RATE, cmd, str(cmd.score), now)
            uow.publish(CaseMoved(case, cmd.origin, Action.RATE, cmd.actor.name, str(cmd.score)))
            await uow.commit()
        return case

    async def view(self, ref: str, actor: Actor, uow: UnitOfWork) -> Case:
        async with uow:
            case = await self._load(uow, ref)
            if not can_view(actor, case.team_code):
                raise errors.NotMember(case.team_code)
        return case

    async def check_step(self, ref: str, actor: Actor, action: Action, uow: UnitOfWork) -> Case:
        """The case, when `actor` may take step `action` of it now; else the refusal the
        step itself would meet. Nothing changes: a guided form asks this before its
        first question, so nobody answers five questions to be told no."""
        case = await self.view(ref, actor, uow)
        async with uow:
            await self._authorize(uow, actor, action, case)
        self._take_step(copy.copy(case), action)
        return case

    # ---------------------------------------------------------------- helpers
    async def _load(self, uow: UnitOfWork, ref: str) -> Case:
        case = await uow.cases.get_by_ref(ref)
        if case is None:
            raise errors.CaseNotFound(ref)
        return case

    async def _authorize(self, uow: UnitOfWork, actor: Actor, action: Action, case: Case) -> None:
        try:
            authorize(actor, action, case)
        except errors.NotAssignee as e:
            owner = await uow.members.get(case.assignee) if case.assignee else None
            raise errors.NotAssignee(e.ref, e.owner, owner.name if owner else None) from None

    @staticmethod
    def _member(actor: Actor) -> Member:
        if actor.member is None:
            raise errors.NotMember(None)
        return actor.member

    async def _record(
        self,
        uow: UnitOfWork,
        case: Case,
        action: Action,
        cmd: Command,
        note: str | None,
        at: datetime,
    ) -> None:
        # History is kept for good (and cannot be edited): no phone number goes in.
        note = redact_phones(note) if note else note
        entry = HistoryEntry(at, action, cmd.actor.uid, case.status, note, cmd.source)
        assert case.id is not None
        await uow.cases.append_history(case.id, entry)
        case.history.append(entry)
