"""From a neutral inbound message to a domain command, and its refusal to a clear answer.

Nothing here knows which chat platform the message came from.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from bot.channels.base import Capabilities, ChatKind, HandleResult, Inbound, Outbound
from bot.domain import errors
from bot.domain.amounts import AmountError, parse_vnd
from bot.domain.digits import is_digits, whole_number
from bot.domain.events import Origin
from bot.domain.evidence import EvidenceKind, NewEvidence, PhotoRequired
from bot.domain.model import Action, Case, CaseStatus, Role, Source
from bot.domain.people import Actor, ChatBinding, Identity, Member
from bot.domain.steps import ACTION_OF_STEP
from bot.i18n import Lang, Translator
from bot.reports.period import Period, PeriodError
from bot.services import commands as c
from bot.services.cases import CaseService
from bot.services.evidence import (
    AttachEvidence,
    Download,
    EvidenceService,
    MediaError,
    MediaStore,
    TooBig,
)
from bot.services.invites import (
    AlreadyMember,
    CannotRemoveSelf,
    IdentityTaken,
    InviteInvalid,
    InviteService,
    JoinerIsMember,
    MemberElsewhere,
    NotCodeOwner,
    SameChannel,
)
from bot.services.permissions import can_view
from bot.services.ports import CaseQuery, ConcurrentUpdate, OutboxItem, UnitOfWork
from bot.sla.overdue import late_since
from handlers.callbacks import (
    ButtonAction,
    CallbackData,
    FormPress,
    InvitePress,
    LinkPress,
    ListKind,
    PagePress,
    decode_press,
)
from handlers.evidence import EvidenceInbox
from handlers.forms import Forms, PrivateOnly
from handlers.menus import command_menus
from handlers.notify import Notifier
from handlers.onboarding import InviteUsage, LinkPrivateOnly, Onboarding
from handlers.parsing import MAX_TEXT, CommandName, ParsedCommand, normalize_ref, parse_command
from handlers.ratelimit import CommandLimiter, Verdict
from handlers.render import ACTION_OF_BUTTON, PAGE_SIZE, Renderer, page_window

log = logging.getLogger(__name__)
CmdT = TypeVar("CmdT", bound=c.CaseCommand)

UNIT_WORDS = frozenset(
    {
        "k",
        "tr",
        "triệu",
        "trieu",
        "nghìn",
        "nghin",
        "ngàn",
        "ngan",
        "tỷ",
        "tỉ",
        "ty",
        "đ",
        "d",
        "vnd",
        "vnđ",
        "đồng",
        "dong",
    }
)
STEP_COMMANDS: dict[CommandName, Action] = {
    CommandName.SURVEY: Action.SURVEY,
    CommandName.AGREE: Action.AGREE,
    CommandName.INSPECT: Action.INSPECT,
    CommandName.RESOLVE: Action.RESOLVE,
    CommandName.CLOSE: Action.CLOSE,
}
NOTE_REQUIRED = frozenset({Action.SURVEY, Action.INSPECT, Action.RESOLVE})
#: Typed bare in the private chat (`/survey`), these start the step's guided form.
FORM_WHEN_BARE = frozenset({*NOTE_REQUIRED, Action.ESTIMATE, Action.INSTALL})
#: The history's source of each chat channel, by the name its adapter gives. The sandbox is no
#: channel of its own: it stands in for Telegram or Zalo, and its messages arrive under theirs.
SOURCE_OF_CHANNEL: Mapping[str, Source] = {s.value: s for s in (Source.TELEGRAM, Source.ZALO)}


class UnknownChannel(LookupError):
    """A message under a channel name with no source: an adapter wired in without one."""


def source_of_channel(channel: str) -> Source:
    try:
        return SOURCE_OF_CHANNEL[channel]
    except KeyError:
        raise UnknownChannel(channel) from None


class UsageError(Exception):
    """The command was typed wrong; the answer shows how to type it."""

    def __init__(self, usage_key: str, ref: str = "PL-17") -> None:
        super().__init__(usage_key)
        self.usage_key = usage_key
        self.ref = ref


class MissingRef(UsageError):
    pass


class BadAmount(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class NotAdmin(Exception):
    pass


class GroupOnly(Exception):
    pass


class UnboundGroup(Exception):
    pass


class OtherTeamsChat(Exception):
    """A case asked for in a group of another team (or of none): shown nowhere but its own."""


@dataclass(frozen=True)
class Request:
    inbound: Inbound
    actor: Actor
    lang: Lang
    origin: Origin
    source: Source

    @property
    def is_private(self) -> bool:
        return self.inbound.chat_kind is ChatKind.PRIVATE


Handler = Callable[[Request, ParsedCommand], Awaitable[None]]


class ReportMaker(Protocol):
    """Builds the KPI report of a period as messages (text, chart, workbook).

    `team` None means every team. Raises a DomainError when `actor` may not see it.
    """

    async def messages(
        self, actor: Actor, period: Period, team: str | None, lang: Lang
    ) -> list[Outbound]: ...


class Dispatcher:
    """The one entry point every channel adapter feeds."""

    def __init__(
        self,
        service: CaseService,
        uow: Callable[[], UnitOfWork],
        tr: Translator,
        renderer: Renderer,
        notifier: Notifier,
        admin_ids: frozenset[str] = frozenset(),
        reports: ReportMaker | None = None,
        limiter: CommandLimiter | None = None,
    ) -> None:
        self.service = service
        #: Commands and button presses per person (USER_RATE_LIMIT); None: no limit.
        self.limiter = limiter
        self.reports = reports
        self.uow = uow
        self.tr = tr
        self.render = renderer
        self.notifier = notifier
        self.admin_ids = admin_ids
        self.bot_usernames: dict[str, str] = {}
        #: What each channel can show (buttons, locations); see `enable_field_work`.
        self.capabilities: dict[str, Capabilities] = {}
        self.forms: Forms | None = None
        self.evidence: EvidenceInbox | None = None
        self.evidence_service: EvidenceService | None = None
        self.onboarding: Onboarding | None = None
        self.commands: dict[CommandName, Handler] = {
            CommandName.START: self._start,
            CommandName.HELP: self._help,
            CommandName.CLAIM: self._claim,
            CommandName.ESTIMATE: self._estimate,
            CommandName.INSTALL: self._install,
            CommandName.RELEASE: self._release,
            CommandName.HOLD: self._hold,
            CommandName.RESUME: self._resume,
            CommandName.ASSIGN: self._assign,
            CommandName.CANCEL: self._cancel,
            CommandName.RATE: self._rate,
            CommandName.CASE: self._case,
            CommandName.MINE: self._mine,
            CommandName.OPEN: self._open,
            CommandName.OVERDUE: self._overdue,
            CommandName.BINDTEAM: self._bindteam,
            CommandName.LANG: self._lang,
            CommandName.MEMBERS: self._members,
            CommandName.REPORT: self._report,
            CommandName.NEW: self._new,
            CommandName.INVITE: self._invite,
            CommandName.REMOVE: self._remove,
        }
        for name in STEP_COMMANDS:
            self.commands[name] = self._step

    def enable_field_work(
        self, media: MediaStore, download: Download, capabilities: Mapping[str, Capabilities]
    ) -> None:
        """Guided forms, evidence and invites: they need files and the channels' downloads."""
        self.capabilities.update(capabilities)
        clock = self.service.clock
        self.evidence = EvidenceInbox(media, download, clock)
        self.evidence_service = EvidenceService(clock)
        self.forms = Forms(
            uow=self.uow,
            tr=self.tr,
            render=self.render,
            service=self.service,
            evidence=self.evidence,
            describe=self._describe,
            capabilities=self.capabilities,
        )
        self.onboarding = Onboarding(
            uow=self.uow,
            tr=self.tr,
            bot_usernames=self.bot_usernames,
            capabilities=self.capabilities,
        )
        self.onboarding.bind(InviteService(clock, self.onboarding))

    def command_menus(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """The command lists a channel shows in its menu, per scope and language."""
        return command_menus(self.tr)

    # ------------------------------------------------------------ entry
    async def handle(self, inbound: Inbound) -> HandleResult:
        try:
            parsed = parse_command(inbound.text, self.bot_usernames.get(inbound.channel))
            if self.limiter is not None and (inbound.callback is not None or parsed is not None):
                verdict = self.limiter.check(inbound.user.uid(inbound.channel))
                if verdict is not Verdict.ALLOW:
                    return await self._turn_away(inbound, verdict)
            req = await self._request(inbound)
            if req is None:
                return HandleResult()
            if inbound.callback is not None:
                return await self._press(req)
            if len(inbound.text) > MAX_TEXT:
                if parsed is not None or req.is_private:  # group chatter is not for us anyway
                    await self._say(req, self.tr.t(req.lang, "err.too_long", limit=MAX_TEXT))
                return HandleResult()
            if parsed is None or (inbound.forwarded and req.is_private):
                await self._run(req, lambda: self._message(req))
                return HandleResult()
            if await self._cancels_form(req, parsed):
                return HandleResult()
            await self._command(req, parsed)
            return HandleResult()
        except Exception:
            log.exception("handling an update failed", extra={"channel": inbound.channel})
            return HandleResult(toast=self.tr.t(Lang.pick(inbound.user.lang), "err.internal"))

    async def _cancels_form(self, req: Request, parsed: ParsedCommand) -> bool:
        """A bare `/cancel` in the private chat drops the open form (a case needs a ref)."""
        if parsed.name is not CommandName.CANCEL or parsed.args or not req.is_private:
            return False
        return self.forms is not None and await self.forms.cancel(req)

    async def _turn_away(self, inbound: Inbound, verdict: Verdict) -> HandleResult:
        """Over the command limit: say so once (a toast for a press), then stay quiet."""
        if verdict is Verdict.QUIET or self.limiter is None:
            return HandleResult()
        uid = inbound.user.uid(inbound.channel)
        log.warning("%s is over the command limit; ignoring it for a while", uid)
        req = await self._identify(inbound)
        if req.actor.member is None and not req.actor.is_admin and not req.is_private:
            return HandleResult()  # strangers in a group are never answered
        text = self.tr.t(req.lang, "err.rate_limited", seconds=self.limiter.wait_seconds(uid))
        if inbound.callback is not None:
            return HandleResult(toast=text, alert=True)
        await self._say(req, text)
        return HandleResult()

    async def _request(self, inbound: Inbound) -> Request | None:
        """Who is speaking; strangers in groups are ignored, in private told how to join."""
        req = await self._identify(inbound)
        if req.actor.member is None and not req.actor.is_admin:
            if inbound.chat_kind is ChatKind.PRIVATE and inbound.callback is None:
                parsed = parse_command(inbound.text, self.bot_usernames.get(inbound.channel))
                if parsed is not None and (
                    parsed.name is CommandName.LANG
                    or (parsed.name is CommandName.START and parsed.args)
                ):
                    return req
                await self._say(req, self.tr.t(req.lang, "start.stranger", uid=req.actor.uid))
            return None
        return req

    async def _identify(self, inbound: Inbound) -> Request:
        """The speaker as a member (keeping their @username current) or as a stranger.

        A member's @username is theirs alone from then on: whoever else still holds it
        renamed since, so `/assign @name` finds the person who has the name today.
        """
        channel = inbound.channel
        source = source_of_channel(channel)
        async with self.uow() as uow:
            member = await uow.members.by_identity(channel, inbound.user.id)
            if member is not None and not member.active:
                member = None  # removed from the team: a stranger again
            if member is not None:
                ident = member.identity_on(channel)
                now = Identity(channel, inbound.user.id, inbound.user.username)
                changed = ident is not None and ident.username != now.username
                if changed:
                    await uow.members.update_identity(member.uid, now)
                if await uow.members.release_username(now) or changed:
                    await uow.commit()
        uid = inbound.user.uid(channel)
        is_admin = uid in self.admin_ids or (member is not None and member.uid in self.admin_ids)
        lang = self.tr.lang(member.lang if member else None, inbound.user.lang)
        actor = Actor(
            uid=member.uid if member else uid,
            name=member.name if member else inbound.user.name,
            member=member,
            is_admin=is_admin,
            lang=lang.value,
        )
        origin = Origin(
            channel=channel,
            chat_id=inbound.address.chat_id,
            message_id=inbound.message_id,
            lang=lang.value,
            is_private=inbound.chat_kind is ChatKind.PRIVATE,
            via_button=inbound.callback is not None,
        )
        return Request(inbound, actor, lang, origin, source)

    async def _command(self, req: Request, parsed: ParsedCommand) -> None:
        handler = self.commands.get(parsed.name) if parsed.name else None
        if handler is None:
            await self._say(
                req, self.tr.t(req.lang, "err.unknown_command", command="/" + parsed.word)
            )
            return
        await self._run(req, lambda: handler(req, parsed))

    async def _run(self, req: Request, work: Callable[[], Awaitable[None]]) -> None:
        """Do the work; a refusal becomes a short answer in the user's language."""
        try:
            await work()
        except errors.DomainError as e:
            await self._say(req, self._describe(req.lang, e))
        except ConcurrentUpdate:
            await self._say(req, self.tr.t(req.lang, "err.concurrent"))
        except UsageError as e:
            key = "err.no_ref" if isinstance(e, MissingRef) else "err.usage"
            await self._say(
                req, self.tr.t(req.lang, key, usage=self.tr.t(req.lang, e.usage_key, ref=e.ref))
            )
        except BadAmount as e:
            await self._say(req, self.tr.t(req.lang, "err.bad_amount", text=e.text[:40]))
        except NotAdmin:
            await self._say(req, self.tr.t(req.lang, "err.not_admin"))
        except GroupOnly:
            await self._say(req, self.tr.t(req.lang, "err.group_only"))
        except UnboundGroup:
            await self._say(req, self.tr.t(req.lang, "err.unbound_group"))
        except OtherTeamsChat:
            await self._say(req, self.tr.t(req.lang, "err.case_other_team"))
        except PrivateOnly:
            await self._say(req, self.tr.t(req.lang, "err.private_only"))
        except InviteUsage:
            usage = self.tr.t(req.lang, "usage.invite")
            await self._say(req, self.tr.t(req.lang, "err.usage", usage=usage))
        except LinkPrivateOnly:
            await self._say(req, self.tr.t(req.lang, "invite.link_private_only"))
        except MediaError as e:
            await self._say(req, self._media_error(req.lang, e))

    def _media_error(self, lang: Lang, e: MediaError) -> str:
        if isinstance(e, TooBig):
            mb = self.evidence.media.max_bytes // (1024 * 1024) if self.evidence else 10
            return self.tr.t(lang, "evidence.too_big", mb=mb)
        return self.tr.t(lang, "evidence.not_image")

    async def _press(self, req: Request) -> HandleResult:
        assert req.inbound.callback is not None
        press = decode_press(req.inbound.callback.data)
        if press is None:
            return HandleResult()
        try:
            if isinstance(press, FormPress):
                if self.forms is None:
                    return HandleResult()
                return await self.forms.on_press(req, press)
            if isinstance(press, PagePress):
                await self._run(req, lambda: self._page(req, press.kind, press.page))
                return HandleResult()
            if isinstance(press, InvitePress | LinkPress):
                if self.onboarding is None:
                    return HandleResult()
                return await self.onboarding.press(req, press)
            return await self._case_press(req, press)
        except errors.DomainError as e:
            return HandleResult(toast=self._describe(req.lang, e), alert=True)
        except ConcurrentUpdate:
            return HandleResult(toast=self.tr.t(req.lang, "err.concurrent"), alert=True)
        except PrivateOnly:
            return HandleResult(toast=self.tr.t(req.lang, "err.private_only"), alert=True)

    async def _case_press(self, req: Request, data: CallbackData) -> HandleResult:
        """A case's button: claim it, show it, or start the form of its next step."""
        if data.action is ButtonAction.CASE:
            await self._run(req, lambda: self._show_case(req, data.ref))
            return HandleResult()
        action = ACTION_OF_BUTTON.get(data.action)
        if action is not None:
            if self.forms is None:
                return HandleResult()
            await self.forms.start_step(req, action, data.ref)
            return HandleResult()
        if data.action is ButtonAction.CLAIM:
            try:
                case = await self.service.claim(self._cmd(c.ClaimCase, req, data.ref), self.uow())
            except errors.DomainError as e:
                return HandleResult(toast=self._describe(req.lang, e), alert=True)
            except ConcurrentUpdate:
                return HandleResult(toast=self.tr.t(req.lang, "err.concurrent"), alert=True)
            return HandleResult(toast=self.tr.t(req.lang, "toast.claimed", ref=case.ref))
        return HandleResult()

    # ------------------------------------------------------------ helpers
    def _cmd(self, cls: type[CmdT], req: Request, ref: str, **kw: Any) -> CmdT:
        return cls(actor=req.actor, source=req.source, origin=req.origin, ref=ref, **kw)

    async def _say(self, req: Request, text: str) -> None:
        async with self.uow() as uow:
            await self.notifier.reply(uow, req.origin, text)
            await uow.commit()

    async def _say_message(self, req: Request, message: Outbound) -> None:
        async with self.uow() as uow:
            await uow.outbox.add(
                OutboxItem(req.origin.channel, req.origin.chat_id, message.to_json())
            )
            await uow.commit()

    async def _ref(
        self, req: Request, parsed: ParsedCommand, usage_key: str
    ) -> tuple[str, tuple[str, ...]]:
        """REF from the arguments, else the case replied to, else the worker's only case."""
        first = parsed.arg(0)
        ref = normalize_ref(first) if first else None
        if ref is not None:
            return ref, parsed.args[1:]
        async with self.uow() as uow:
            case = await self._replied_case(uow, req)
            if case is not None:
                return case.ref, parsed.args
            if req.actor.member is not None:
                mine = await uow.cases.find(
                    CaseQuery(assignee=req.actor.member.uid, active_only=True, limit=2)
                )
                if len(mine) == 1:
                    return mine[0].ref, parsed.args
        raise MissingRef(usage_key)

    @staticmethod
    async def _replied_case(uow: UnitOfWork, req: Request) -> Case | None:
        """The case whose message this one replies to, if any."""
        reply_to = req.inbound.reply_to_message_id
        if reply_to is None:
            return None
        return await uow.cases.case_for_message(req.origin.channel, req.origin.chat_id, reply_to)

    @staticmethod
    def _take_amount(args: tuple[str, ...], i: int) -> tuple[int, int]:
        """Read one amount starting at args[i]; `1.5 triệu` and `1 500 000` span tokens."""
        if i >= len(args):
            raise IndexError(i)
        j = i + 1
        token = args[i]
        while j < len(args) and is_digits(token) and len(args[j]) == 3 and is_digits(args[j]):
            token += args[j]
            j += 1
        if j < len(args) and args[j].lower() in UNIT_WORDS:
            token += args[j]
            j += 1
        try:
            return parse_vnd(token), j
        except AmountError as e:
            raise BadAmount(" ".join(args[i:j])) from e

    def _describe(self, lang: Lang, e: errors.DomainError) -> str:
        t = self.tr.t
        match e:
            case errors.CaseNotFound():
                return t(lang, "err.not_found", ref=e.ref)
            case errors.AlreadyClaimed():
                return t(
                    lang, "err.already_claimed", ref=e.ref, owner=e.owner_name or e.owner or "?"
                )
            case errors.NotAssignee():
                return t(lang, "err.not_assignee", ref=e.ref, owner=e.owner_name or e.owner or "?")
            case errors.NotClaimed():
                return t(lang, "err.not_claimed", ref=e.ref)
            case errors.IllegalTransition():
                status = self.render.status(lang, e.status)
                action = ACTION_OF_STEP.get(e.expected) if e.expected else None
                if action is None:
                    return t(lang, "err.wrong_step_none", ref=e.ref, status=status)
                usage = self.render.usage(lang, action, e.ref)
                return t(lang, "err.wrong_step", ref=e.ref, status=status, usage=usage)
            case errors.CaseFinished():
                return t(lang, "err.finished", ref=e.ref, status=self.render.status(lang, e.status))
            case errors.CaseOnHold():
                return t(lang, "err.on_hold", ref=e.ref)
            case errors.NotOnHold():
                return t(lang, "err.not_on_hold", ref=e.ref)
            case errors.NotMember():
                return t(lang, "err.not_member")
            case errors.Forbidden():
                roles = " / ".join(t(lang, f"role.{r.value}") for r in e.needed)
                return t(lang, "err.forbidden", roles=roles)
            case errors.UnknownTeam():
                return t(lang, "err.unknown_team", code=e.code)
            case errors.UnknownMember():
                return t(lang, "err.unknown_member", who=e.who)
            case errors.AmbiguousMember():
                people = ", ".join(f"{name} ({uid})" for uid, name in e.candidates)
                return t(lang, "err.ambiguous_member", who=e.who, people=people)
            case errors.NotInTeam():
                return t(lang, "err.not_in_team", name=e.name, team=e.team_code)
            case errors.ReleaseTooLate():
                return t(lang, "err.release_too_late", ref=e.ref)
            case errors.BadRating():
                return t(lang, "err.bad_rating")
            case AmountError():
                return t(lang, "err.bad_amount", text=e.text[:40])
            case PhotoRequired():
                return t(lang, "err.photo_required", ref=e.ref)
            case InviteInvalid():
                return t(lang, f"invite.invalid.{e.problem.value}")
            case AlreadyMember():
                return t(lang, "invite.already_member", team=e.team_code or "")
            case MemberElsewhere(team_code=None):
                return t(lang, "invite.member_of_all_teams")
            case MemberElsewhere():
                return t(lang, "invite.member_elsewhere", team=e.team_code)
            case IdentityTaken():
                return t(lang, "invite.identity_taken")
            case SameChannel():
                return t(lang, "invite.same_channel")
            case NotCodeOwner():
                return t(lang, "invite.not_code_owner")
            case JoinerIsMember(same_team=True):
                return t(lang, "invite.joiner_here", name=e.name, team=e.team_code or "")
            case JoinerIsMember(team_code=None):
                return t(lang, "invite.joiner_of_all_teams", name=e.name)
            case JoinerIsMember():
                return t(lang, "invite.joiner_elsewhere", name=e.name, team=e.team_code)
            case CannotRemoveSelf():
                return t(lang, "member.cannot_remove_self")
        return t(lang, "err.internal")

    async def _team_of_chat(self, req: Request) -> str:
        """The team a group shows; in private, the member's own team."""
        if not req.is_private:
            async with self.uow() as uow:
                team = await uow.teams.by_chat(req.origin.channel, req.origin.chat_id)
            if team is None:
                raise UnboundGroup
            return team.code
        if req.actor.member is None or req.actor.member.team_code is None:
            raise errors.NotMember(None)
        return req.actor.member.team_code

    # ------------------------------------------------------------ commands
    async def _start(self, req: Request, parsed: ParsedCommand) -> None:
        code = parsed.arg(0)
        if code and self.onboarding is not None and req.is_private:
            await self.onboarding.start(req, code)  # an invite's deep link, or typed
            return
        m = req.actor.member
        if m is None:
            await self._say(req, self.tr.t(req.lang, "start.stranger", uid=req.actor.uid))
            return
        text = self.tr.t(
            req.lang,
            "start.member",
            name=m.name,
            role=self.tr.t(req.lang, f"role.{m.role.value}"),
            team=m.team_code or "—",
        )
        await self._say(req, text + "\n\n" + self._help_text(req))

    def _help_text(self, req: Request) -> str:
        text = self.tr.t(req.lang, "help.worker")
        if req.actor.is_admin or req.actor.has_role(Role.LEAD, Role.CLERK):
            text += "\n" + self.tr.t(req.lang, "help.lead")
        if req.actor.is_admin or req.actor.has_role(Role.LEAD):
            text += "\n" + self.tr.t(req.lang, "help.report")
        if self.forms is not None:
            text += "\n" + self.tr.t(req.lang, "help.forms")
            if req.actor.is_admin or req.actor.has_role(Role.LEAD, Role.CLERK):
                text += "\n" + self.tr.t(req.lang, "help.new")
            if req.actor.is_admin or req.actor.has_role(Role.LEAD):
                text += "\n" + self.tr.t(req.lang, "help.invite")
        return text

    async def _help(self, req: Request, parsed: ParsedCommand) -> None:
        await self._say(req, self._help_text(req))

    async def _claim(self, req: Request, parsed: ParsedCommand) -> None:
        first = parsed.arg(0)
        ref = normalize_ref(first) if first else None
        if ref is None:
            async with self.uow() as uow:
                case = await self._replied_case(uow, req)
            ref = case.ref if case else None
        if ref is None:
            raise MissingRef("usage.claim")
        await self.service.claim(self._cmd(c.ClaimCase, req, ref), self.uow())

    async def _step(self, req: Request, parsed: ParsedCommand) -> None:
        assert parsed.name is not None
        action = STEP_COMMANDS[parsed.name]
        usage = f"usage.{action.value}"
        ref, rest = await self._ref(req, parsed, usage)
        if await self._form_instead(req, action, ref, rest):
            return
        note = " ".join(rest).strip() or None
        if action in NOTE_REQUIRED and note is None:
            raise UsageError(usage, ref)
        async with self._collected(req) as evidence:
            await self.service.report_step(
                self._cmd(c.ReportStep, req, ref, action=action, note=note, evidence=evidence),
                self.uow(),
            )

    async def _form_instead(
        self, req: Request, action: Action, ref: str, rest: tuple[str, ...]
    ) -> bool:
        """`/survey` with nothing after the ref, in the private chat, asks step by step
        instead of refusing."""
        if self.forms is None or not req.is_private or action not in FORM_WHEN_BARE:
            return False
        if rest or req.inbound.attachments:
            return False
        await self.forms.start_step(req, action, ref)
        return True

    def _collected(self, req: Request) -> contextlib.AbstractAsyncContextManager[
        tuple[NewEvidence, ...]
    ]:
        """Photos and a location sent with a step command (in a photo's caption)."""
        if self.evidence is None or not EvidenceInbox.has_evidence(req.inbound):
            return _no_evidence()
        return self.evidence.collected(req.inbound)

    async def _estimate(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.estimate")
        if await self._form_instead(req, Action.ESTIMATE, ref, rest):
            return
        try:
            customer, i = self._take_amount(rest, 0)
            utility, i = self._take_amount(rest, i)
        except IndexError:
            raise UsageError("usage.estimate", ref) from None
        note = " ".join(rest[i:]).strip() or None
        async with self._collected(req) as evidence:
            await self.service.estimate(
                self._cmd(
                    c.RecordEstimate,
                    req,
                    ref,
                    customer_cost=customer,
                    utility_cost=utility,
                    note=note,
                    evidence=evidence,
                ),
                self.uow(),
            )

    async def _install(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.install")
        if await self._form_instead(req, Action.INSTALL, ref, rest):
            return
        if not rest or len(rest[0]) > 64:
            raise UsageError("usage.install", ref)
        reading = rest[1][:32] if len(rest) > 1 else None
        note = " ".join(rest[2:]).strip() or None
        async with self._collected(req) as evidence:
            await self.service.install(
                self._cmd(
                    c.RecordInstall,
                    req,
                    ref,
                    meter_serial=rest[0],
                    reading=reading,
                    note=note,
                    evidence=evidence,
                ),
                self.uow(),
            )

    async def _release(self, req: Request, parsed: ParsedCommand) -> None:
        ref, _ = await self._ref(req, parsed, "usage.release")
        await self.service.release(self._cmd(c.ReleaseCase, req, ref), self.uow())

    async def _hold(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.hold")
        reason = " ".join(rest).strip()
        if not reason:
            raise UsageError("usage.hold", ref)
        await self.service.hold(self._cmd(c.HoldCase, req, ref, reason=reason), self.uow())

    async def _resume(self, req: Request, parsed: ParsedCommand) -> None:
        ref, _ = await self._ref(req, parsed, "usage.resume")
        await self.service.resume(self._cmd(c.ResumeCase, req, ref), self.uow())

    async def _assign(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.assign")
        if not rest:
            raise UsageError("usage.assign", ref)
        who = rest[0]
        async with self.uow() as uow:
            member: Member | None = (
                await uow.members.by_username(who)
                if who.startswith("@")
                else await uow.members.get(who)
            )
        if member is None:
            raise errors.UnknownMember(who)
        await self.service.assign(
            self._cmd(c.AssignCase, req, ref, member_uid=member.uid), self.uow()
        )

    async def _cancel(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.cancel")
        reason = " ".join(rest).strip()
        if not reason:
            raise UsageError("usage.cancel", ref)
        await self.service.cancel(self._cmd(c.CancelCase, req, ref, reason=reason), self.uow())

    async def _rate(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.rate")
        score = whole_number(rest[0]) if len(rest) == 1 else None
        if score is None:
            raise UsageError("usage.rate", ref)
        await self.service.rate(self._cmd(c.RateCase, req, ref, score=score), self.uow())

    async def _case(self, req: Request, parsed: ParsedCommand) -> None:
        ref, _ = await self._ref(req, parsed, "usage.case")
        await self._show_case(req, ref)

    async def _show_case(self, req: Request, ref: str) -> None:
        """One card: the case, its history and its evidence, each naming who and when.

        Only in the case's own team's chats, or privately: a member of two worlds (a
        clerk, a worker added to another team's group) must not post it elsewhere.
        """
        case = await self.service.view(ref, req.actor, self.uow())
        assert case.id is not None
        async with self.uow() as uow:
            if not req.is_private:
                team = await uow.teams.by_chat(req.origin.channel, req.origin.chat_id)
                if team is None or team.code != case.team_code:
                    raise OtherTeamsChat
            assignee = await uow.members.get(case.assignee) if case.assignee else None
            history = await uow.cases.history(case.id)
            evidence = await uow.evidence.for_case(case.id) if self.evidence else []
            names: dict[str, str] = {}
            for uid in {h.actor for h in history} | {e.actor for e in evidence}:
                who = await uow.members.get(uid)
                names[uid] = who.name if who is not None else uid
        card = self.render.card(req.lang, case, assignee.mention if assignee else None)
        lines = [card.text, "", *self.render.history_lines(req.lang, history, names)]
        shown = self.render.evidence_lines(req.lang, evidence, names)
        if shown:
            lines += ["", *shown]
        buttons = card.buttons
        if req.is_private and case.assignee is not None and case.assignee == req.actor.uid:
            buttons = buttons + self.render.step_buttons(req.lang, case)
        await self._say_message(
            req,
            Outbound(text="\n".join(lines), buttons=buttons, reply_to=req.origin.message_id),
        )

    async def _list(self, req: Request, cases: list[Case], empty: str, title: str) -> None:
        if not cases:
            await self._say(req, self.tr.t(req.lang, empty))
            return
        lines = [self.tr.t(req.lang, title, count=len(cases))]
        lines += [self.render.list_item(req.lang, x) for x in cases]
        await self._say(req, "\n".join(lines))

    async def _mine(self, req: Request, parsed: ParsedCommand) -> None:
        await self._page(req, ListKind.MINE, 1)

    async def _open(self, req: Request, parsed: ParsedCommand) -> None:
        await self._page(req, ListKind.OPEN, 1)

    async def _page(self, req: Request, kind: ListKind, page: int) -> None:
        """A page of ten: short lines and a button per case (it shows the case)."""
        if kind is ListKind.MINE:
            query = CaseQuery(assignee=req.actor.uid, active_only=True)
            empty, title = "list.mine_empty", "list.mine_title"
        else:
            team = await self._team_of_chat(req)
            if not can_view(req.actor, team):
                raise errors.NotMember(team)
            query = CaseQuery(team_code=team, statuses=(CaseStatus.OPEN,))
            empty, title = "list.open_empty", "list.open_title"
        async with self.uow() as uow:
            total = await uow.cases.count(query)
            page, offset = page_window(page, total)
            shown = await uow.cases.find(replace(query, offset=offset, limit=PAGE_SIZE))
        if not shown:
            await self._say(req, self.tr.t(req.lang, empty))
            return
        message = self.render.list_page(req.lang, kind, shown, page, total, title)
        await self._say_message(req, replace(message, reply_to=req.origin.message_id))

    async def _overdue(self, req: Request, parsed: ParsedCommand) -> None:
        """The team's late cases, oldest deadline first.

        Judged on the due times, not on `next_check_at`: once reminded, a case's
        next check moves ahead, yet it is still late.
        """
        team = await self._team_of_chat(req)
        if not can_view(req.actor, team):
            raise errors.NotMember(team)
        now = self.service.clock.now()
        async with self.uow() as uow:
            due = await uow.cases.find(CaseQuery(team_code=team, late_at=now, limit=1000))
        workflow = self.service.policy.workflow
        late = sorted(
            ((since, x) for x in due if (since := late_since(x, now, workflow)) is not None),
            key=lambda pair: (pair[0], pair[1].ref),
        )
        await self._list(req, [x for _, x in late], "list.overdue_empty", "list.overdue_title")

    async def _members(self, req: Request, parsed: ParsedCommand) -> None:
        team = await self._team_of_chat(req)
        if not can_view(req.actor, team):
            raise errors.NotMember(team)
        async with self.uow() as uow:
            people = await uow.members.in_team(team)
        lines = [self.tr.t(req.lang, "members.title", team=team, count=len(people))]
        for m in people:
            role = self.tr.t(req.lang, f"role.{m.role.value}")
            key = "members.item" if m.mention != m.name else "members.item_plain"
            lines.append(self.tr.t(req.lang, key, name=m.name, role=role, mention=m.mention))
        await self._say(req, "\n".join(lines))

    async def _report(self, req: Request, parsed: ParsedCommand) -> None:
        """The KPI report, answered where it was asked: summary, chart, workbook."""
        if self.reports is None:
            await self._say(req, self.tr.t(req.lang, "err.internal"))
            return
        policy = self.service.policy
        today = self.service.clock.now().astimezone(policy.calendar.tz).date()
        try:
            period = Period.from_words(parsed.arg(0), today)
        except PeriodError:
            raise UsageError("usage.report") from None
        team = await self._report_team(req)
        messages = await self.reports.messages(req.actor, period, team, req.lang)
        async with self.uow() as uow:
            for i, message in enumerate(messages):
                if i == 0:
                    message = replace(message, reply_to=req.origin.message_id)
                await uow.outbox.add(
                    OutboxItem(req.origin.channel, req.origin.chat_id, message.to_json())
                )
            await uow.commit()

    async def _report_team(self, req: Request) -> str | None:
        """A team's group shows that team; an admin elsewhere gets every team (None)."""
        if not req.is_private:
            async with self.uow() as uow:
                team = await uow.teams.by_chat(req.origin.channel, req.origin.chat_id)
            if team is not None:
                return team.code
            if req.actor.is_admin:
                return None
            raise UnboundGroup
        if req.actor.is_admin:
            return None
        if req.actor.member is None or req.actor.member.team_code is None:
            raise errors.Forbidden((Role.LEAD,))
        return req.actor.member.team_code

    async def _new(self, req: Request, parsed: ParsedCommand) -> None:
        if self.forms is None:
            await self._say(req, self.tr.t(req.lang, "err.unknown_command", command="/new"))
            return
        await self.forms.start_intake(req)

    async def _invite(self, req: Request, parsed: ParsedCommand) -> None:
        if self.onboarding is None:
            await self._say(req, self.tr.t(req.lang, "err.unknown_command", command="/invite"))
            return
        await self.onboarding.invite(req, parsed, self._team_of_chat)

    async def _remove(self, req: Request, parsed: ParsedCommand) -> None:
        who = parsed.arg(0)
        if self.onboarding is None:
            await self._say(req, self.tr.t(req.lang, "err.unknown_command", command="/remove"))
            return
        if not who:
            raise UsageError("usage.remove")
        team = await self._team_of_chat(req)
        await self.onboarding.remove(req, team, who)

    async def _message(self, req: Request) -> None:
        """Not a command: an answer to a form, a forwarded customer message, evidence."""
        if req.is_private and req.inbound.forwarded and self.forms is not None:
            await self.forms.start_intake(req, req.inbound.text)
            return
        if req.is_private and self.forms is not None and await self.forms.on_message(req):
            return
        if self.evidence is not None and EvidenceInbox.has_evidence(req.inbound):
            await self._attach(req)

    async def _attach(self, req: Request) -> None:
        """A photo or location replying to a case's message is evidence of that case."""
        assert self.evidence is not None and self.evidence_service is not None
        async with self.uow() as uow:
            case = await self._replied_case(uow, req)
        if case is None:
            if req.is_private:
                await self._say(req, self.tr.t(req.lang, "evidence.how"))
            return
        async with self.evidence.collected(req.inbound) as items:
            if not items:
                return
            await self.evidence_service.attach(
                AttachEvidence(
                    actor=req.actor, source=req.source, origin=req.origin, ref=case.ref, items=items
                ),
                self.uow(),
            )
        photos = sum(1 for x in items if x.kind is EvidenceKind.PHOTO)
        places = len(items) - photos
        text = self.tr.t(req.lang, "evidence.saved", ref=case.ref, photos=photos, places=places)
        await self._say(req, text)

    async def _bindteam(self, req: Request, parsed: ParsedCommand) -> None:
        if not req.actor.is_admin:
            raise NotAdmin
        if req.is_private:
            raise GroupOnly
        code = (parsed.arg(0) or "").upper()
        if not code:
            raise UsageError("usage.bindteam")
        async with self.uow() as uow:
            team = await uow.teams.get(code)
            if team is None:
                raise errors.UnknownTeam(code)
            await uow.teams.bind_chat(code, ChatBinding(req.origin.channel, req.origin.chat_id))
            await uow.commit()
        await self._say(req, self.tr.t(req.lang, "bind.done", code=team.code, name=team.name))

    async def _lang(self, req: Request, parsed: ParsedCommand) -> None:
        choice = (parsed.arg(0) or "").lower()
        if choice not in Lang._value2member_map_:
            await self._say(req, self.tr.t(req.lang, "err.bad_lang"))
            return
        lang = Lang(choice)
        if req.actor.member is not None:
            async with self.uow() as uow:
                await uow.members.set_lang(req.actor.member.uid, lang.value)
                await uow.commit()
        await self._say(req, self.tr.t(lang, "lang.set"))


@contextlib.asynccontextmanager
async def _no_evidence() -> AsyncIterator[tuple[NewEvidence, ...]]:
    yield ()
