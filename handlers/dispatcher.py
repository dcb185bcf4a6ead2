"""The one entry point every channel adapter feeds: it routes, and does nothing else.

A message is counted against the person's limit, its speaker identified
(`handlers/request.py`: from the process's copy of the directory when it knows him,
checked by the update's first unit of work, the update handled again if the directory
moved meanwhile), then handed on: a button press by its family, a command by
its name (the tables of `handlers/commands/`), anything else to an open form or as
evidence. Refusals come back as words through `handlers/replies.py`. Nothing here
knows which chat platform the message came from.
"""

from __future__ import annotations

import difflib
import logging

from bot.channels.base import HandleResult, Inbound
from bot.i18n import Lang, Translator
from bot.services.assumed import Check, DirectoryMoved, assuming
from handlers.callbacks import (
    ButtonAction,
    CallbackData,
    CommandPress,
    FormPress,
    HandoverPress,
    HeldPress,
    InvitePress,
    LinkPress,
    PagePress,
    RatePress,
    RemovePress,
    SearchPress,
    decode_press,
)
from handlers.commands import CommandTable
from handlers.commands.admin import AdminCommands
from handlers.commands.finding import FindCommands
from handlers.commands.steps import StepCommands
from handlers.commands.undo import UndoCommands
from handlers.commands.views import ViewCommands
from handlers.commands.welcome import Welcome
from handlers.forms.flow import Forms
from handlers.menus import command_menus
from handlers.onboarding import Onboarding
from handlers.parsing import MAX_TEXT, CommandName, ParsedCommand, parse_command
from handlers.ratelimit import CommandLimiter, Verdict
from handlers.replies import Replies
from handlers.request import Identify, Request
from handlers.steps import CHAT_STEPS, FORM_OF_BUTTON
from handlers.unheard import Unheard

log = logging.getLogger(__name__)

#: The commands a button may type (`d:WORD:ARGS`): those whose answers offer buttons.
PRESSABLE = frozenset(
    {
        *(row.command for row in CHAT_STEPS),
        CommandName.RELEASE,
        CommandName.HOLD,
        CommandName.RESUME,
        CommandName.ASSIGN,
        CommandName.CANCEL,
        CommandName.RATE,
        CommandName.CASE,
        CommandName.LANG,
        CommandName.INVITE,
    }
)


def nearest_command(word: str, table: CommandTable) -> str | None:
    """The real command a mistyped one most likely meant (`/inpsect` → `/inspect`),
    from the command table; None when nothing is close."""
    names = [name.value for name in table]
    found = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    return "/" + found[0] if found else None


class Dispatcher:
    """Routes every channel's messages and presses; built whole in `bot/bootstrap.py`."""

    def __init__(
        self,
        *,
        tr: Translator,
        identify: Identify,
        replies: Replies,
        forms: Forms,
        onboarding: Onboarding,
        welcome: Welcome,
        steps: StepCommands,
        views: ViewCommands,
        admin: AdminCommands,
        finding: FindCommands,
        undo: UndoCommands,
        unheard: Unheard,
        bot_usernames: dict[str, str],
        limiter: CommandLimiter | None,
    ) -> None:
        self.tr = tr
        self.identify = identify
        self.replies = replies
        self.forms = forms
        self.onboarding = onboarding
        self.steps = steps
        self.views = views
        self.finding = finding
        self.undo = undo
        self.unheard = unheard
        #: Each channel's bot @name, filled by the runner once the channel knows it: a
        #: command addressed to another bot in a group is not ours.
        self.bot_usernames = bot_usernames
        #: Commands and button presses per person (USER_RATE_LIMIT); None: no limit.
        self.limiter = limiter
        self.commands: CommandTable = {
            **welcome.table(),
            **steps.table(),
            **views.table(),
            **admin.table(),
            **finding.table(),
            **undo.table(),
        }

    def command_menus(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """The command lists a channel shows in its menu, per scope and language."""
        return command_menus(self.tr)

    async def handle(self, inbound: Inbound) -> HandleResult:
        try:
            parsed = parse_command(inbound.text, self.bot_usernames.get(inbound.channel))
            if self.limiter is not None and (inbound.callback is not None or parsed is not None):
                verdict = self.limiter.check(inbound.user.uid(inbound.channel))
                if verdict is not Verdict.ALLOW:
                    return await self._turn_away(inbound, verdict)
            try:
                return await self._handled(inbound, parsed, from_copy=True)
            except DirectoryMoved:
                # The directory changed since the copy's answer, and nothing of this update
                # was written: handle it again, the speaker read from the database.
                log.info("the directory moved under an update; handling it again")
                return await self._handled(inbound, parsed, from_copy=False)
        except Exception:
            log.exception("handling an update failed", extra={"channel": inbound.channel})
            return HandleResult(toast=self.tr.t(Lang.pick(inbound.user.lang), "err.internal"))

    async def _handled(
        self, inbound: Inbound, parsed: ParsedCommand | None, *, from_copy: bool
    ) -> HandleResult:
        """Identify the speaker and route the update. A speaker recognised from the
        process's copy is checked by the update's first unit of work, as its first
        statement (bot/services/assumed.py): so a run that raises DirectoryMoved wrote
        nothing. What a handler does before its first unit of work must bear a repeat:
        words are sent through the outbox (a unit of work), photos fetched before one are
        removed again when it raises, and in-memory state is changed only after one
        (`Unheard`)."""
        who = await self.identify.speaker(inbound, from_copy=from_copy)
        with assuming(who.assumed_version) as assumption:
            result = await self._route(inbound, parsed, who.request)
            if assumption is not None and assumption.check is Check.MOVED:
                raise DirectoryMoved("refused by a unit of work, caught on the way")
        return result

    async def _route(
        self, inbound: Inbound, parsed: ParsedCommand | None, req: Request
    ) -> HandleResult:
        if not await self._heard(req, parsed):
            return HandleResult()
        if inbound.callback is not None:
            return await self._press(req)
        if len(inbound.text) > MAX_TEXT:
            if parsed is not None or req.is_private:  # group chatter is not for us anyway
                await self.replies.say(req, self.tr.t(req.lang, "err.too_long", limit=MAX_TEXT))
            return HandleResult()
        if parsed is None or (inbound.forwarded and req.is_private):
            await self.replies.run(req, lambda: self._message(req))
            return HandleResult()
        if await self._cancels_form(req, parsed):
            return HandleResult()
        await self._command(req, parsed)
        return HandleResult()

    async def _heard(self, req: Request, parsed: ParsedCommand | None) -> bool:
        """Whether the speaker is heard; strangers in groups are ignored, in private told
        how to join."""
        if not req.is_stranger:
            return True
        inbound = req.inbound
        if req.is_private and inbound.callback is None:
            joining = parsed is not None and (
                parsed.name is CommandName.LANG
                or (parsed.name is CommandName.START and bool(parsed.args))
            )
            if joining:
                return True
            await self.replies.say(req, self.tr.t(req.lang, "start.stranger", uid=req.actor.uid))
        return False

    async def _turn_away(self, inbound: Inbound, verdict: Verdict) -> HandleResult:
        """Over the command limit: say so once (a toast for a press), then stay quiet."""
        if verdict is Verdict.QUIET or self.limiter is None:
            return HandleResult()
        uid = inbound.user.uid(inbound.channel)
        log.warning("%s is over the command limit; ignoring it for a while", uid)
        req = await self.identify(inbound)
        if req.is_stranger and not req.is_private:
            return HandleResult()  # strangers in a group are never answered
        text = self.tr.t(req.lang, "err.rate_limited", seconds=self.limiter.wait_seconds(uid))
        if inbound.callback is not None:
            return HandleResult(toast=text, alert=True)
        await self.replies.say(req, text)
        return HandleResult()

    async def _cancels_form(self, req: Request, parsed: ParsedCommand) -> bool:
        """A bare `/cancel` in the private chat drops the open form (a case needs a ref)."""
        if parsed.name is not CommandName.CANCEL or parsed.args or not req.is_private:
            return False
        return await self.forms.cancel(req)

    async def _command(self, req: Request, parsed: ParsedCommand) -> None:
        handler = self.commands.get(parsed.name) if parsed.name else None
        if handler is None:
            typed = "/" + parsed.word
            near = nearest_command(parsed.word, self.commands)
            if near is not None:
                text = self.tr.t(req.lang, "err.unknown_command_near", command=typed, near=near)
            else:
                text = self.tr.t(req.lang, "err.unknown_command", command=typed)
            await self.replies.say(req, text)
            return
        await self.replies.run(req, lambda: handler(req, parsed))

    async def _message(self, req: Request) -> None:
        """Not a command: an answer to a form, a forwarded customer message, evidence."""
        if req.is_private and req.inbound.forwarded:
            await self.unheard.forwarded(req)
            return
        if req.is_private and await self.forms.on_message(req):
            return
        await self.unheard.message(req)

    async def _press(self, req: Request) -> HandleResult:
        assert req.inbound.callback is not None
        press = decode_press(req.inbound.callback.data)
        if press is None:
            return HandleResult()
        try:
            if isinstance(press, FormPress):
                return await self.forms.on_press(req, press)
            if isinstance(press, PagePress):
                await self.replies.run(req, lambda: self.views.page(req, press.kind, press.page))
                return HandleResult()
            if isinstance(press, SearchPress):
                await self.replies.run(req, lambda: self.finding.page(req, press.words, press.page))
                return HandleResult()
            if isinstance(press, InvitePress | LinkPress):
                return await self.onboarding.press(req, press)
            if isinstance(press, RatePress):
                return await self.steps.rate_press(req, press.ref, press.score)
            if isinstance(press, HandoverPress):
                return await self.undo.handover_press(req, press)
            if isinstance(press, RemovePress):
                return await self.undo.remove_press(req, press)
            if isinstance(press, HeldPress):
                return await self.unheard.press(req, press)
            if isinstance(press, CommandPress):
                return await self._typed_by_press(req, press)
            if isinstance(press, CallbackData):
                return await self._case_press(req, press)
            return HandleResult()
        except Exception as e:
            return self.replies.toast(req.lang, e)

    async def _typed_by_press(self, req: Request, press: CommandPress) -> HandleResult:
        """An offered command pressed: run as if typed, with the presser's own rights."""
        parsed = parse_command(f"/{press.word} {press.args}")
        if parsed is None or parsed.name not in PRESSABLE:
            return HandleResult()
        await self._command(req, parsed)
        return HandleResult()

    async def _case_press(self, req: Request, data: CallbackData) -> HandleResult:
        """A case's button: claim it, show it, or start the form of its next step."""
        if data.action is ButtonAction.CASE:
            await self.replies.run(req, lambda: self.views.show_case(req, data.ref))
            return HandleResult()
        row = FORM_OF_BUTTON.get(data.action)
        if row is not None:
            await self.forms.start_step(req, row.action, data.ref)
            return HandleResult()
        if data.action is ButtonAction.CLAIM:
            return await self.steps.claim_press(req, data.ref)
        return HandleResult()
