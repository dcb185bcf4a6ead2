"""The commands that change a case: its steps, as their rows in `handlers/steps.py`
say to read them, and a lead's release, hold, resume, assign, cancel and rating.

`/survey PL-17 ghi chú` records the step at once; `/survey` alone in the private chat
opens the step's guided form instead of refusing. Photos and a location sent with a
step (a photo's caption) are its evidence; sent in reply to a case's message, they are
evidence of that case.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from bot.channels.base import HandleResult, Inbound
from bot.domain import errors
from bot.domain.amounts import format_vnd
from bot.domain.digits import whole_number
from bot.domain.evidence import EvidenceKind, NewEvidence
from bot.domain.steps import NoteRule, Records
from bot.services.commands import (
    AssignCase,
    CancelCase,
    ClaimCase,
    HoldCase,
    RateCase,
    ReleaseCase,
    ResumeCase,
)
from bot.services.evidence import AttachEvidence, EvidenceService
from handlers.commands import CommandTable, Handler
from handlers.evidence import EvidenceInbox
from handlers.forms.flow import Forms, Typed
from handlers.forms.machine import Line, doubt_line
from handlers.forms.spec import MAX_READING, MAX_SERIAL, FieldName
from handlers.kit import CommandKit, OnKit
from handlers.parsing import CommandName, ParsedCommand, TypedAmount, note_like_ref, take_amount
from handlers.record import StepAnswer, record
from handlers.refusals import AmountDoubt, Choose, MissingRef, NoteLikeRef, Offer, UsageError
from handlers.request import Request
from handlers.steps import BY_COMMAND, CHAT_STEPS, ChatStep

#: A customer's satisfaction, as the buttons of `/rate` offer it.
SCORES = range(1, 11)
#: Why work stops, as `/hold` offers it (`hold.reason.<key>` in the catalogue).
HOLD_REASONS = ("customer", "materials", "weather")


class StepCommands(OnKit):
    def __init__(
        self,
        kit: CommandKit,
        *,
        forms: Forms,
        evidence: EvidenceInbox,
        evidence_service: EvidenceService,
    ) -> None:
        super().__init__(kit)
        self.forms = forms
        self.evidence = evidence
        self.evidence_service = evidence_service

    def table(self) -> CommandTable:
        """Each step's command, read by what the step records; then the lead's commands."""
        readers: dict[Records, Handler] = {
            Records.ASSIGNEE: self.claim,
            Records.NOTE: self.note_step,
            Records.COSTS: self.estimate,
            Records.METER: self.install,
        }
        steps = {row.command: readers[row.step.records] for row in CHAT_STEPS}
        return {
            **steps,
            CommandName.RELEASE: self.release,
            CommandName.HOLD: self.hold,
            CommandName.RESUME: self.resume,
            CommandName.ASSIGN: self.assign,
            CommandName.CANCEL: self.cancel,
            CommandName.RATE: self.rate,
        }

    # ------------------------------------------------------------ steps

    async def claim(self, req: Request, parsed: ParsedCommand) -> None:
        row = _row(parsed)
        ref = await self.lookup.named_or_replied(req, parsed)
        if ref is None:
            raise MissingRef(row.usage)
        await self.service.claim(req.command(ClaimCase, ref), self.uow())

    async def claim_press(self, req: Request, ref: str) -> HandleResult:
        """«Nhận việc» under a card: the toast is the whole answer."""
        case = await self.service.claim(req.command(ClaimCase, ref), self.uow())
        return HandleResult(toast=self.tr.t(req.lang, "toast.claimed", ref=case.ref))

    async def note_step(self, req: Request, parsed: ParsedCommand) -> None:
        """A step whose words are its note: `/survey PL-17 cần 25m cáp`."""
        found = await self._step(req, parsed)
        if found is None:
            return
        row, ref, rest = found
        note = " ".join(rest).strip() or None
        if row.step.note is NoteRule.REQUIRED and note is None:
            raise UsageError(row.usage, ref)
        if note is not None and note_like_ref(note):  # `/survey PL 4`: a ref, not a finding
            if not req.is_private or row.form is None:
                raise NoteLikeRef(row.usage, ref, note)
            line = Line("form.note_like_ref", {"text": note[:40]})
            typed = Typed({FieldName.NOTE: note}, notes=(line,))
            await self.forms.question_typed(req, row.action, ref, typed)
            return
        await self._record(req, row, ref, StepAnswer(note=note))

    async def estimate(self, req: Request, parsed: ParsedCommand) -> None:
        """`/estimate PL-17 1,5tr 2.000.000 [ghi chú]`: the customer's and the utility's part."""
        found = await self._step(req, parsed)
        if found is None:
            return
        row, ref, rest = found
        try:
            customer, i = take_amount(rest, 0)
            utility, i = take_amount(rest, i)
        except IndexError:
            raise UsageError(row.usage, ref) from None
        note = " ".join(rest[i:]).strip() or None
        if not (customer.sure and utility.sure):  # `1tr5k`, `1500`: asked, never guessed
            await self._question_costs(req, row, ref, customer, utility, note)
            return
        answer = StepAnswer(note=note, customer_cost=customer.value, utility_cost=utility.value)
        await self._record(req, row, ref, answer)

    async def _question_costs(
        self,
        req: Request,
        row: ChatStep,
        ref: str,
        customer: TypedAmount,
        utility: TypedAmount,
        note: str | None,
    ) -> None:
        """An estimate with an amount in doubt: its form asks which sum was meant (in a
        group, the answer says how to type it unmistakably)."""
        doubtful, name = (
            (customer, FieldName.CUSTOMER_COST)
            if not customer.sure
            else (utility, FieldName.UTILITY_COST)
        )
        if not req.is_private:  # each reading a button typing the estimate unmistakably
            other = utility if doubtful is customer else customer
            offers: tuple[Offer, ...] = ()
            if other.sure and note is None:
                offers = tuple(
                    Offer(
                        "form.amount_option",
                        _estimate(row, ref, r, other.value, doubtful is customer),
                        {"amount": format_vnd(r)},
                    )
                    for r in doubtful.readings
                )
            raise AmountDoubt(row.usage, ref, doubtful.text, doubtful.readings, offers)
        given = {FieldName.NOTE: note} if note else {}
        for amount, field in (
            (customer, FieldName.CUSTOMER_COST),
            (utility, FieldName.UTILITY_COST),
        ):
            if amount.sure:
                given[field] = str(amount.value)
        line = doubt_line(doubtful.text, doubtful.readings)
        typed = Typed(given, notes=(line,), doubt=name, readings=doubtful.readings)
        await self.forms.question_typed(req, row.action, ref, typed)

    async def install(self, req: Request, parsed: ParsedCommand) -> None:
        """`/install PL-17 SERIAL [reading] [ghi chú]`."""
        found = await self._step(req, parsed)
        if found is None:
            return
        row, ref, rest = found
        if not rest or len(rest[0]) > MAX_SERIAL:
            raise UsageError(row.usage, ref)
        reading = rest[1][:MAX_READING] if len(rest) > 1 else None
        note = " ".join(rest[2:]).strip() or None
        await self._record(req, row, ref, StepAnswer(note=note, serial=rest[0], reading=reading))

    async def _step(
        self, req: Request, parsed: ParsedCommand
    ) -> tuple[ChatStep, str, tuple[str, ...]] | None:
        """The step's row, its case and the words after it; None when its form opened
        instead (typed bare in the private chat)."""
        row = _row(parsed)
        ref, rest = await self.lookup.ref(req, parsed, row.usage)
        bare = not rest and not req.inbound.attachments
        if row.bare_opens_form and req.is_private and bare:
            await self.forms.start_step(req, row.action, ref)
            return None
        return row, ref, rest

    async def _record(self, req: Request, row: ChatStep, ref: str, answer: StepAnswer) -> None:
        async with self._collected(req) as evidence:
            answer = replace(answer, evidence=evidence)
            await record(self.service, req, row.action, ref, answer, self.uow())

    def _collected(
        self, req: Request
    ) -> contextlib.AbstractAsyncContextManager[tuple[NewEvidence, ...]]:
        """Photos and a location sent with a step command (in a photo's caption)."""
        if not EvidenceInbox.has_evidence(req.inbound):
            return _no_evidence()
        return self.evidence.collected(req.inbound)

    # ------------------------------------------------------------ a lead's commands

    async def release(self, req: Request, parsed: ParsedCommand) -> None:
        ref, _ = await self.lookup.ref(req, parsed, "usage.release")
        await self.service.release(req.command(ReleaseCase, ref), self.uow())

    async def hold(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self.lookup.ref(req, parsed, "usage.hold")
        reason = " ".join(rest).strip()
        if not reason:  # the usual reasons as buttons; any other is typed
            reasons = (self.tr.t(req.lang, f"hold.reason.{key}") for key in HOLD_REASONS)
            offers = tuple(
                Offer("pick.hold_reason", f"hold {ref} {r}", {"reason": r}) for r in reasons
            )
            usage = self.tr.t(req.lang, "usage.hold", ref=ref)
            raise Choose("pick.ask_hold", {"ref": ref, "usage": usage}, offers)
        await self.service.hold(req.command(HoldCase, ref, reason=reason), self.uow())

    async def resume(self, req: Request, parsed: ParsedCommand) -> None:
        ref, _ = await self.lookup.ref(req, parsed, "usage.resume")
        await self.service.resume(req.command(ResumeCase, ref), self.uow())

    async def assign(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self.lookup.ref(req, parsed, "usage.assign")
        async with self.uow() as uow:
            case = await uow.cases.get_by_ref(ref)
        if case is None:
            raise errors.CaseNotFound(ref)
        who = " ".join(rest).strip()
        if not who:  # the team's workers, each with how much they have
            offers = await self.lookup.workers(case.team_code, f"assign {ref}")
            raise Choose("pick.ask_worker", {"ref": ref}, offers)
        member = await self.lookup.member_named(who, case.team_code, f"assign {ref}")
        await self.service.assign(req.command(AssignCase, ref, member_uid=member.uid), self.uow())

    async def cancel(self, req: Request, parsed: ParsedCommand) -> None:
        ref, reason = await self._with_reason(req, parsed, "usage.cancel")
        await self.service.cancel(req.command(CancelCase, ref, reason=reason), self.uow())

    async def rate(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self.lookup.ref(req, parsed, "usage.rate")
        score = whole_number(rest[0]) if len(rest) == 1 else None
        if score is None:  # the scores as buttons, not the syntax
            offers = tuple(Offer("pick.score", f"rate {ref} {n}", {"n": n}) for n in SCORES)
            raise Choose("pick.ask_score", {"ref": ref}, offers, per_row=5)
        await self.service.rate(req.command(RateCase, ref, score=score), self.uow())

    async def rate_press(self, req: Request, ref: str, score: int) -> HandleResult:
        """A score button under the clerk's "case closed" message; the answer is the reply."""
        await self.service.rate(req.command(RateCase, ref, score=score), self.uow())
        return HandleResult()

    async def _with_reason(
        self, req: Request, parsed: ParsedCommand, usage: str
    ) -> tuple[str, str]:
        ref, rest = await self.lookup.ref(req, parsed, usage)
        reason = " ".join(rest).strip()
        if not reason:
            raise UsageError(usage, ref)
        return ref, reason

    # ------------------------------------------------------------ evidence

    async def attach(self, req: Request) -> None:
        """A photo or location replying to a case's message is evidence of that case."""
        case = await self.lookup.replied_case(req)
        if case is None:
            if req.is_private:
                await self.replies.say(req, self.tr.t(req.lang, "evidence.how"))
            return
        await self.attach_to(req, case.ref, req.inbound)

    async def attach_to(self, req: Request, ref: str, inbound: Inbound) -> None:
        """The photos and location of `inbound` (this message, or one kept until the
        person said which case) become evidence of case `ref`."""
        async with self.evidence.collected(inbound) as items:
            if not items:
                return
            attach = AttachEvidence(
                actor=req.actor, source=req.source, origin=req.origin, ref=ref, items=items
            )
            await self.evidence_service.attach(attach, self.uow())
        photos = sum(1 for x in items if x.kind is EvidenceKind.PHOTO)
        places = len(items) - photos
        text = self.tr.t(req.lang, "evidence.saved", ref=ref, photos=photos, places=places)
        await self.replies.say(req, text)


def _estimate(row: ChatStep, ref: str, doubted: int, other: int, customer_doubted: bool) -> str:
    """The estimate typed unmistakably (a currency mark: never asked about again)."""
    customer, utility = (doubted, other) if customer_doubted else (other, doubted)
    return f"{row.command.value} {ref} {customer}đ {utility}đ"


def _row(parsed: ParsedCommand) -> ChatStep:
    assert parsed.name is not None
    return BY_COMMAND[parsed.name]


@contextlib.asynccontextmanager
async def _no_evidence() -> AsyncIterator[tuple[NewEvidence, ...]]:
    yield ()
