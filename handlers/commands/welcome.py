"""`/start` and `/help`: who you are to the bot, and what you can type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot.channels.reach import HELD_START
from bot.domain.model import Role
from bot.i18n import Translator
from handlers.commands import CommandTable
from handlers.onboarding import Onboarding
from handlers.parsing import CommandName, ParsedCommand
from handlers.replies import Replies
from handlers.request import Request


class Welcome:
    def __init__(
        self,
        tr: Translator,
        replies: Replies,
        onboarding: Onboarding,
        start_words: Mapping[str, Callable[[Request], Awaitable[None]]] | None = None,
    ) -> None:
        self.tr = tr
        self.replies = replies
        self.onboarding = onboarding
        #: `/start WORD` links of our own (the board's, `board`), before invite codes.
        self.start_words = dict(start_words or {})

    def table(self) -> CommandTable:
        return {CommandName.START: self.start, CommandName.HELP: self.help}

    async def start(self, req: Request, parsed: ParsedCommand) -> None:
        code = parsed.arg(0)
        if code == HELD_START:  # the link of a held notice: kept messages already went out
            code = None
        own = self.start_words.get(code or "")
        if own is not None and req.is_private and not req.is_stranger:
            await own(req)
            return
        if code and req.is_private:
            await self.onboarding.start(req, code)  # an invite's deep link, or typed
            return
        member = req.actor.member
        if member is None:
            await self.replies.say(req, self.tr.t(req.lang, "start.stranger", uid=req.actor.uid))
            return
        text = self.tr.t(
            req.lang,
            "start.member",
            name=member.name,
            role=self.tr.t(req.lang, f"role.{member.role.value}"),
            team=member.team_code or "—",
        )
        await self.replies.say(req, text + "\n\n" + self.help_text(req))

    async def help(self, req: Request, parsed: ParsedCommand) -> None:
        await self.replies.say(req, self.help_text(req))

    def help_text(self, req: Request) -> str:
        """The commands this person may use, by role."""
        actor = req.actor
        files_cases = actor.is_admin or actor.has_role(Role.LEAD, Role.CLERK)
        leads = actor.is_admin or actor.has_role(Role.LEAD)
        keys = ["help.worker"]
        keys += ["help.lead"] if files_cases else []
        keys += ["help.report"] if leads else []
        keys.append("help.forms")
        keys += ["help.new"] if files_cases else []
        keys += ["help.invite"] if leads else []
        return "\n".join(self.tr.t(req.lang, key) for key in keys)
