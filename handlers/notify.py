"""Events to outbox rows, inside the transaction that caused them.

A failed commit therefore sends nothing, and a committed change is never left
without its post, its card edit or its answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.base import Button
from bot.domain.events import (
    CaseAssigned,
    CaseClaimed,
    CaseMoved,
    CaseReceived,
    CaseReleased,
    Event,
    Origin,
)
from bot.domain.model import Action, Case
from bot.domain.people import Member
from bot.domain.steps import STEP_BY_ACTION, step_of
from bot.i18n import Lang, Translator
from bot.services.ports import UnitOfWork
from handlers.next_person import NextPerson
from handlers.render import Renderer
from handlers.replies import reply_to, to_chat


def card_key(case: Case) -> str:
    return f"case:{case.id}"


class Notifier:
    def __init__(self, tr: Translator, renderer: Renderer) -> None:
        self.tr = tr
        self.render = renderer
        self.next_person = NextPerson(tr, renderer)

    async def __call__(self, events: Sequence[Event], uow: UnitOfWork) -> None:
        for event in events:
            await self._one(event, uow)

    async def _one(self, event: Event, uow: UnitOfWork) -> None:
        case = event.case
        origin = event.origin
        lang = self.tr.lang(origin.lang if origin else None)
        if isinstance(event, CaseReceived):
            if event.silent:
                return
            team = await self._post_card(case, uow, first=True)
            if origin is not None and not await self._is_team_chat(origin, case, uow):
                await self.reply(
                    uow, origin, self.tr.t(lang, "reply.created", ref=case.ref, team=team), case
                )
            return
        await self._post_card(case, uow, first=False)
        if isinstance(event, CaseClaimed):
            await self._send_contact(uow, event.member, case, origin)
            if origin is not None and not origin.via_button:
                text = self.tr.t(lang, "reply.claimed", ref=case.ref, name=event.member.name)
                await self.reply(uow, origin, text, case)
        elif isinstance(event, CaseAssigned):
            await self._send_contact(uow, event.member, case, None, event.actor_name)
            await self.next_person.moved_away(uow, event)
            if origin is not None:
                text = self.tr.t(lang, "reply.assigned", ref=case.ref, name=event.member.name)
                await self.reply(uow, origin, text, case)
        elif isinstance(event, CaseReleased):
            if origin is not None:
                await self.reply(uow, origin, self.tr.t(lang, "reply.released", ref=case.ref), case)
        elif isinstance(event, CaseMoved):
            if origin is not None:
                buttons = await self._next_step_buttons(uow, origin, case, lang)
                await self.reply(uow, origin, self._moved_text(lang, event), case, buttons)
            await self.next_person.moved(uow, event)

    async def _next_step_buttons(
        self, uow: UnitOfWork, origin: Origin, case: Case, lang: Lang
    ) -> tuple[tuple[Button, ...], ...]:
        """In the assignee's private chat the answer carries the next step's form button."""
        if not origin.is_private or case.assignee is None:
            return ()
        owner = await uow.members.get(case.assignee)
        ident = owner.identity_on(origin.channel) if owner else None
        if ident is None or ident.external_id != origin.chat_id:
            return ()
        return self.render.private_buttons(lang, case)

    def _moved_text(self, lang: Lang, event: CaseMoved) -> str:
        case = event.case
        if event.action is Action.RATE:
            return self.tr.t(lang, "reply.rated", ref=case.ref, score=event.note or "")
        status = self.render.status(lang, case.status)
        usage = self.render.next_usage(lang, case) if case.is_active else None
        if event.corrected:
            step = self.tr.t(lang, f"form.kind.{event.action.value}")
            head = self.tr.t(lang, "reply.corrected", ref=case.ref, step=step)
        elif usage:
            head = self.tr.t(lang, "reply.moved_next", ref=case.ref, status=status, usage=usage)
        else:
            head = self.tr.t(lang, "reply.moved", ref=case.ref, status=status)
        if event.action not in STEP_BY_ACTION:
            return head
        lines = [head, *self.render.recorded(lang, case, event.action, event.note)]
        if step_of(event.action).correctable and case.is_active:
            fix = self.render.usage(lang, event.action, case.ref)
            lines.append(self.tr.t(lang, "reply.fix_hint", usage=fix))
        return "\n".join(lines)

    async def _is_team_chat(self, origin: Origin, case: Case, uow: UnitOfWork) -> bool:
        team = await uow.teams.by_chat(origin.channel, origin.chat_id)
        return team is not None and team.code == case.team_code

    async def _post_card(self, case: Case, uow: UnitOfWork, *, first: bool) -> str:
        """Post (first time) or edit the case's card in every chat of its team."""
        team = await uow.teams.get(case.team_code)
        if team is None:
            return case.team_code
        assignee = await uow.members.get(case.assignee) if case.assignee else None
        lang = self.tr.lang(team.lang)
        message = self.render.card(lang, case, assignee.mention if assignee else None)
        for chat in team.chats:
            await uow.outbox.add(
                to_chat(
                    chat.channel,
                    chat.chat_id,
                    message,
                    card_key=card_key(case),
                    dedupe_key=f"post:{case.id}:{chat.channel}:{chat.chat_id}" if first else None,
                    case_id=case.id,
                )
            )
        return team.code

    async def _send_contact(
        self,
        uow: UnitOfWork,
        member: Member,
        case: Case,
        origin: Origin | None,
        assigned_by: str | None = None,
    ) -> None:
        """The full phone goes only to the person who has the case, privately."""
        ident = member.identity_on(origin.channel) if origin else None
        ident = ident or (member.identities[0] if member.identities else None)
        if ident is None:
            return
        lang = self.tr.lang(member.lang, origin.lang if origin else None)
        contact = self.render.contact(lang, case, assigned_by)
        await uow.outbox.add(to_chat(ident.channel, ident.external_id, contact, case_id=case.id))

    @staticmethod
    async def reply(
        uow: UnitOfWork,
        origin: Origin,
        text: str,
        case: Case | None = None,
        buttons: tuple[tuple[Button, ...], ...] = (),
    ) -> None:
        await uow.outbox.add(reply_to(origin, text, buttons, case.id if case else None))
