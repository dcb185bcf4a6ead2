"""The team and the bot's set-up: bind a group, choose a language, invite, remove, and
file a new case through the clerk's form."""

from __future__ import annotations

from bot.channels.base import Button, ButtonKind
from bot.domain.people import ChatBinding
from bot.i18n import Lang
from bot.services.people import BindChat, SetLanguage, bind_chat, set_language
from bot.services.permissions import require_admin
from handlers.commands import CommandTable
from handlers.forms.flow import Forms
from handlers.kit import CommandKit, OnKit
from handlers.onboarding import Onboarding
from handlers.parsing import CommandName, ParsedCommand
from handlers.refusals import Choose, GroupOnly, Offer, UsageError
from handlers.replies import reply_to
from handlers.request import Request

#: `/start new`: the deep link of a `/new` typed in a group opens the new-case form.
NEW_WORD = "new"


class AdminCommands(OnKit):
    def __init__(self, kit: CommandKit, *, forms: Forms, onboarding: Onboarding) -> None:
        super().__init__(kit)
        self.forms = forms
        self.onboarding = onboarding

    def table(self) -> CommandTable:
        return {
            CommandName.BINDTEAM: self.bindteam,
            CommandName.LANG: self.lang,
            CommandName.INVITE: self.invite,
            CommandName.NEW: self.new,
        }

    async def bindteam(self, req: Request, parsed: ParsedCommand) -> None:
        """`/bindteam PL` in a group: the team's cards and digests go there from now on."""
        require_admin(req.actor)  # before the chat or the words: nobody else may, anywhere
        if req.is_private:
            raise GroupOnly
        code = parsed.arg(0) or ""
        if not code:
            raise UsageError("usage.bindteam")
        chat = ChatBinding(req.origin.channel, req.origin.chat_id)
        team = await bind_chat(BindChat(req.actor, code, chat), self.uow())
        done = self.tr.t(req.lang, "bind.done", code=team.code, name=team.name)
        await self.replies.say(req, done)

    async def lang(self, req: Request, parsed: ParsedCommand) -> None:
        """`/lang vi|en`: a member's choice is kept; a stranger's holds for this answer."""
        choice = (parsed.arg(0) or "").lower()
        if choice not in Lang._value2member_map_:  # the languages as buttons
            offers = tuple(Offer(f"pick.lang_{x.value}", f"lang {x.value}") for x in Lang)
            raise Choose("pick.ask_lang", {}, offers, per_row=len(offers))
        lang = Lang(choice)
        if req.actor.member is not None:
            await set_language(SetLanguage(req.actor.member.uid, lang.value), self.uow())
        await self.replies.say(req, self.tr.t(lang, "lang.set"))

    async def invite(self, req: Request, parsed: ParsedCommand) -> None:
        await self.onboarding.invite(req, parsed)

    async def new(self, req: Request, parsed: ParsedCommand) -> None:
        """A new case is filed in the private chat; typed in a group, a button opens it."""
        if req.is_private:
            await self.forms.start_intake(req)
            return
        self.forms.check_intake(req)
        link = self.onboarding.deep_link(req.origin.channel, NEW_WORD)
        label = self.tr.t(req.lang, "button.open_private")
        buttons = ((Button(label, link, ButtonKind.URL),),) if link else ()
        text = self.tr.t(req.lang, "new.in_private")
        await self.replies.send(reply_to(req.origin, text, buttons))
