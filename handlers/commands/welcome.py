"""`/start` and `/help`: who you are to the bot, and what you can type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot.channels.reach import HELD_START
from bot.i18n import Translator
from handlers.commands import CommandTable
from handlers.menus import STEPS, help_lines
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
        if member is None and req.actor.is_admin:  # listed in ADMIN_IDS, no team of their own
            text = self.tr.t(req.lang, "start.admin", name=req.actor.name)
            await self.replies.say(req, text + "\n\n" + self.help_text(req))
            return
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
        """Short: a line per topic of what this person's role may use (handlers/menus.py's
        table); the steps of a case in one line, since their buttons do the work."""
        t = self.tr.t
        lines = [t(req.lang, "help.title")]
        for topic, commands in help_lines(req.actor):
            typed = " ".join(commands)
            if topic == STEPS:
                lines.append(t(req.lang, STEPS, commands=typed))
            else:
                lines.append(t(req.lang, "help.line", commands=typed, text=t(req.lang, topic)))
        return "\n".join(lines)
