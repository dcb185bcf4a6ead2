"""Who acts next is told, privately and with a button (or the command, where a channel
has no buttons): the worker when the customer agrees, the leads when a case is ready to
close, the clerk who filed it when it closes, the worker a case was taken from.

Every message here is an outbox row of the transaction that moved the case, like the
card edit and the answer (see `handlers/notify.py`).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.channels.base import Button, Outbound
from bot.domain.events import CaseAssigned, CaseMoved
from bot.domain.model import Action, Case, CaseStatus, Role
from bot.domain.people import Member
from bot.domain.steps import ACTION_OF_STEP
from bot.i18n import Lang, Translator
from bot.services.ports import UnitOfWork
from handlers.callbacks import ButtonAction, CallbackData, RatePress
from handlers.render import Renderer
from handlers.replies import Buttons, to_chat

#: Score buttons of the clerk's "case closed" message, five a row: two rows fit a phone.
SCORES_PER_ROW = 5


class NextPerson:
    def __init__(self, tr: Translator, render: Renderer) -> None:
        self.tr = tr
        self.render = render

    async def moved(self, uow: UnitOfWork, event: CaseMoved) -> None:
        """After a step: whoever the case now waits for, unless they took the step."""
        case = event.case
        actor = case.history[-1].actor if case.history else None
        if event.action is Action.AGREE and case.assignee and case.assignee != actor:
            owner = await uow.members.get(case.assignee)
            if owner is not None:
                await self._tell(uow, owner, case, "next.agreed", self._steps)
        elif event.action is Action.CLOSE:
            await self._tell_filer(uow, case, actor)
        elif self._completes(event) and self.render.next_action(case) is Action.CLOSE:
            for lead in await uow.members.in_team(case.team_code):
                if lead.active and lead.role is Role.LEAD and lead.uid != actor:
                    await self._tell(uow, lead, case, "next.ready_to_close", self._close)

    def _completes(self, event: CaseMoved) -> bool:
        """The step that finished the work (installed, resolved): not a rating or a
        resume that leaves the case where it was."""
        done = self.render.workflow.completion_step(event.case.kind)
        return ACTION_OF_STEP.get(done) is event.action

    async def moved_away(self, uow: UnitOfWork, event: CaseAssigned) -> None:
        """The worker a case was taken from learns who has it now, and stops (after a
        handover: that the colleague took it)."""
        if event.previous is None or event.previous == event.member.uid:
            return
        previous = await uow.members.get(event.previous)
        if previous is None or not previous.active:
            return
        lang = self.tr.lang(previous.lang)
        key = "handover.accepted" if event.handover else "next.moved_away"
        text = self.tr.t(
            lang,
            key,
            ref=event.case.ref,
            name=event.member.name,
            actor=event.actor_name or "",
        )
        await self._send(uow, previous, event.case, Outbound(text=text))

    async def _tell_filer(self, uow: UnitOfWork, case: Case, actor: str | None) -> None:
        """The clerk who filed the case hears it closed, and scores it with a press."""
        if case.status is not CaseStatus.CLOSED or case.satisfaction is not None:
            return
        assert case.id is not None
        filed = next(
            (h for h in await uow.cases.history(case.id) if h.action is Action.INTAKE), None
        )
        if filed is None or filed.actor == actor:
            return
        clerk = await uow.members.get(filed.actor)
        if clerk is None or not clerk.active:
            return
        await self._tell(uow, clerk, case, "next.closed_rate", self._scores)

    async def _tell(
        self,
        uow: UnitOfWork,
        member: Member,
        case: Case,
        key: str,
        buttons: Callable[[Lang, Case], Buttons],
    ) -> None:
        lang = self.tr.lang(member.lang)
        usage = self.render.next_usage(lang, case) or ""
        text = self.tr.t(lang, key, ref=case.ref, usage=usage)
        await self._send(uow, member, case, Outbound(text=text, buttons=buttons(lang, case)))

    @staticmethod
    async def _send(uow: UnitOfWork, member: Member, case: Case, message: Outbound) -> None:
        if not member.identities:
            return
        ident = member.identities[0]
        await uow.outbox.add(to_chat(ident.channel, ident.external_id, message, case_id=case.id))

    # ------------------------------------------------------------ buttons

    def _steps(self, lang: Lang, case: Case) -> Buttons:
        return self.render.step_buttons(lang, case)

    def _close(self, lang: Lang, case: Case) -> Buttons:
        data = CallbackData(ButtonAction.CLOSE, case.ref).encode()
        return ((Button(self.tr.t(lang, "button.close"), data),),)

    def _scores(self, lang: Lang, case: Case) -> Buttons:
        del lang  # the scores are digits in every language
        row = [Button(str(n), RatePress(case.ref, n).encode()) for n in range(1, 11)]
        return tuple(tuple(row[i : i + SCORES_PER_ROW]) for i in range(0, len(row), SCORES_PER_ROW))
