"""Handing over and undoing: `/handover REF @user`, `/unbindteam`, and `/remove` that asks
before it takes someone out of the team.

- `/handover REF @user`: the worker who has the case offers it; the colleague gets a
  private message with «Nhận bàn giao» / «Không nhận» (on a channel without buttons:
  typing `/handover REF` accepts). Both are told how it ended.
- `/unbindteam` in a group: the lead of the team it shows (or an admin) takes the
  group off the team, through the same use case as `dispatchbot team unbind`.
- `/remove @user` asks with «Xoá» / «Thôi» (or `/remove ok @user`); the person removed
  is told privately.
"""

from __future__ import annotations

from bot.channels.base import Button, HandleResult, Outbound
from bot.domain.people import ChatBinding, Member
from bot.i18n import Lang
from bot.services.handover import AnswerHandover, HandoverDesk, OfferHandover
from bot.services.people import UnbindChat, unbind_chat
from bot.services.permissions import require_lead
from handlers.callbacks import HandoverPress, RemovePress
from handlers.commands import CommandTable
from handlers.kit import CommandKit, OnKit
from handlers.onboarding import Onboarding
from handlers.parsing import CommandName, ParsedCommand, normalize_ref
from handlers.refusals import GroupOnly, MissingRef, UnboundGroup, UsageError
from handlers.replies import reply_to, to_chat
from handlers.request import Request

#: The word after `/remove` that confirms it without a button (channels without buttons).
CONFIRM = "ok"


def private_chat(member: Member, channel: str) -> tuple[str, str] | None:
    """Where to write to `member` privately: on `channel` if they use it, else anywhere."""
    ident = member.identity_on(channel) or (member.identities[0] if member.identities else None)
    return (ident.channel, ident.external_id) if ident else None


class UndoCommands(OnKit):
    def __init__(self, kit: CommandKit, *, desk: HandoverDesk, onboarding: Onboarding) -> None:
        super().__init__(kit)
        self.desk = desk
        self.onboarding = onboarding

    def table(self) -> CommandTable:
        return {
            CommandName.HANDOVER: self.handover,
            CommandName.UNBINDTEAM: self.unbindteam,
            CommandName.REMOVE: self.remove,
        }

    # ------------------------------------------------------------ handover

    async def handover(self, req: Request, parsed: ParsedCommand) -> None:
        """`/handover REF @user` offers; `/handover REF` alone accepts an offer made to you."""
        ref = normalize_ref(parsed.arg(0) or "")
        if ref is None:
            raise MissingRef("usage.handover")
        who = parsed.arg(1)
        if who is None:
            await self._answer(req, ref, accept=True)
            return
        member = await self.lookup.member(who)
        offer = await self.desk.offer(
            req.command(OfferHandover, ref, member_uid=member.uid), self.uow()
        )
        t, taker = self.tr.t, offer.taker
        items = [reply_to(req.origin, t(req.lang, "handover.offered", ref=ref, name=taker.name))]
        where = private_chat(taker, req.origin.channel)
        if where is not None:
            lang = self.tr.lang(taker.lang)
            text = t(lang, "handover.asked", ref=ref, name=offer.giver.name)
            buttons = (
                (
                    Button(t(lang, "button.handover_yes"), HandoverPress(ref, True).encode()),
                    Button(t(lang, "button.handover_no"), HandoverPress(ref, False).encode()),
                ),
            )
            items.append(to_chat(*where, Outbound(text=text, buttons=buttons)))
        await self.replies.send(*items)

    async def handover_press(self, req: Request, press: HandoverPress) -> HandleResult:
        await self._answer(req, press.ref, accept=press.accept)
        return HandleResult()

    async def _answer(self, req: Request, ref: str, *, accept: bool) -> None:
        """The colleague's answer; the case's own messages (its new holder's contact, the
        giver's note) come with the move; a refusal is told to both here."""
        offer, case = await self.desk.answer(
            req.command(AnswerHandover, ref, accept=accept), self.uow()
        )
        if case is not None:
            await self.replies.say(req, self.tr.t(req.lang, "handover.taken", ref=ref))
            return
        items = [reply_to(req.origin, self.tr.t(req.lang, "handover.you_declined", ref=ref))]
        where = private_chat(offer.giver, req.origin.channel)
        if where is not None:
            lang = self.tr.lang(offer.giver.lang)
            text = self.tr.t(lang, "handover.declined", ref=ref, name=offer.taker.name)
            items.append(to_chat(*where, Outbound(text=text)))
        await self.replies.send(*items)

    # ------------------------------------------------------------ unbind

    async def unbindteam(self, req: Request, parsed: ParsedCommand) -> None:
        """`/unbindteam` in a group bound by mistake: it stops showing the team."""
        del parsed
        if req.is_private:
            raise GroupOnly
        team = await self.lookup.team_shown_here(req)
        if team is None:
            raise UnboundGroup
        require_lead(req.actor, team)
        chat = ChatBinding(req.origin.channel, req.origin.chat_id)
        done = await unbind_chat(UnbindChat(req.actor, team, chat), self.uow())
        await self.replies.say(
            req, self.tr.t(req.lang, "unbind.done", code=done.team.code, name=done.team.name)
        )

    # ------------------------------------------------------------ remove

    async def remove(self, req: Request, parsed: ParsedCommand) -> None:
        """`/remove @user` asks first; `/remove ok @user` (or «Xoá») removes."""
        confirmed = (parsed.arg(0) or "").lower() == CONFIRM
        who = parsed.arg(1 if confirmed else 0)
        if not who:
            raise UsageError("usage.remove")
        team = await self.lookup.team_of_chat(req)
        if confirmed:
            await self._remove(req, team, who)
            return
        member = await self.onboarding.service.removable(req.actor, team, who, self.uow())
        await self.replies.send(
            reply_to(req.origin, *self._remove_question(req.lang, member, team))
        )

    async def remove_press(self, req: Request, press: RemovePress) -> HandleResult:
        if not press.confirm:
            return HandleResult(toast=self.tr.t(req.lang, "member.remove_kept"))
        team = await self.lookup.team_of_chat(req)
        await self._remove(req, team, press.member_uid)
        return HandleResult()

    async def _remove(self, req: Request, team: str, who: str) -> None:
        member = await self.onboarding.remove(req, team, who)
        where = private_chat(member, req.origin.channel)
        if where is not None:
            lang = self.tr.lang(member.lang)
            text = self.tr.t(lang, "member.removed_you", team=team, actor=req.actor.name)
            await self.replies.send(to_chat(*where, Outbound(text=text)))

    def _remove_question(
        self, lang: Lang, member: Member, team: str
    ) -> tuple[str, tuple[tuple[Button, ...], ...]]:
        t = self.tr.t
        text = t(lang, "member.remove_ask", name=member.name, team=team, uid=member.uid)
        buttons = (
            (
                Button(t(lang, "button.remove_yes"), RemovePress(member.uid, True).encode()),
                Button(t(lang, "button.remove_no"), RemovePress(member.uid, False).encode()),
            ),
        )
        return text, buttons
