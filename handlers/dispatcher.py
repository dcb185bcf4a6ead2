"""From a neutral inbound message to a domain command, and its refusal to a clear answer.

Nothing here knows which chat platform the message came from.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.channels.base import ChatKind, HandleResult, Inbound, Outbound
from bot.domain import errors
from bot.domain.amounts import AmountError, parse_vnd
from bot.domain.events import Origin
from bot.domain.model import ACTION_OF_STEP, Action, Case, CaseStatus, Role, Source
from bot.domain.people import Actor, ChatBinding, Identity, Member
from bot.i18n import Lang, Translator
from bot.services import commands as c
from bot.services.cases import CaseService
from bot.services.permissions import can_view
from bot.services.ports import CaseQuery, ConcurrentUpdate, OutboxItem, UnitOfWork
from bot.sla.overdue import late_since
from handlers.callbacks import ButtonAction, decode
from handlers.notify import Notifier
from handlers.parsing import CommandName, ParsedCommand, normalize_ref, parse_command
from handlers.render import Renderer

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
SOURCE_OF_CHANNEL = {s.value: s for s in Source}


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
    ) -> None:
        self.service = service
        self.uow = uow
        self.tr = tr
        self.render = renderer
        self.notifier = notifier
        self.admin_ids = admin_ids
        self.bot_usernames: dict[str, str] = {}
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
        }
        for name in STEP_COMMANDS:
            self.commands[name] = self._step

    # ------------------------------------------------------------ entry
    async def handle(self, inbound: Inbound) -> HandleResult:
        try:
            req = await self._request(inbound)
            if req is None:
                return HandleResult()
            if inbound.callback is not None:
                return await self._press(req)
            parsed = parse_command(inbound.text, self.bot_usernames.get(inbound.channel))
            if parsed is None:
                return HandleResult()
            await self._command(req, parsed)
            return HandleResult()
        except Exception:
            log.exception("handling an update failed", extra={"channel": inbound.channel})
            return HandleResult(toast=self.tr.t(Lang.pick(inbound.user.lang), "err.internal"))

    async def _request(self, inbound: Inbound) -> Request | None:
        """Who is speaking; strangers in groups are ignored, in private told how to join."""
        channel = inbound.channel
        async with self.uow() as uow:
            member = await uow.members.by_identity(channel, inbound.user.id)
            if member is not None:
                ident = member.identity_on(channel)
                if ident is not None and ident.username != inbound.user.username:
                    await uow.members.update_identity(
                        member.uid, Identity(channel, inbound.user.id, inbound.user.username)
                    )
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
        req = Request(inbound, actor, lang, origin, SOURCE_OF_CHANNEL.get(channel, Source.SANDBOX))
        if member is None and not is_admin:
            if inbound.chat_kind is ChatKind.PRIVATE and inbound.callback is None:
                parsed = parse_command(inbound.text, self.bot_usernames.get(channel))
                if parsed is not None and parsed.name is CommandName.LANG:
                    return req
                await self._say(req, self.tr.t(lang, "start.stranger", uid=uid))
            return None
        return req

    async def _command(self, req: Request, parsed: ParsedCommand) -> None:
        handler = self.commands.get(parsed.name) if parsed.name else None
        if handler is None:
            await self._say(
                req, self.tr.t(req.lang, "err.unknown_command", command="/" + parsed.word)
            )
            return
        try:
            await handler(req, parsed)
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

    async def _press(self, req: Request) -> HandleResult:
        assert req.inbound.callback is not None
        data = decode(req.inbound.callback.data)
        if data is None:
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
        while j < len(args) and token.isdigit() and len(args[j]) == 3 and args[j].isdigit():
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
            case errors.ReleaseTooLate():
                return t(lang, "err.release_too_late", ref=e.ref)
            case errors.BadRating():
                return t(lang, "err.bad_rating")
            case AmountError():
                return t(lang, "err.bad_amount", text=e.text[:40])
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
        note = " ".join(rest).strip() or None
        if action in NOTE_REQUIRED and note is None:
            raise UsageError(usage, ref)
        await self.service.report_step(
            self._cmd(c.ReportStep, req, ref, action=action, note=note), self.uow()
        )

    async def _estimate(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.estimate")
        try:
            customer, i = self._take_amount(rest, 0)
            utility, i = self._take_amount(rest, i)
        except IndexError:
            raise UsageError("usage.estimate", ref) from None
        note = " ".join(rest[i:]).strip() or None
        await self.service.estimate(
            self._cmd(
                c.RecordEstimate, req, ref, customer_cost=customer, utility_cost=utility, note=note
            ),
            self.uow(),
        )

    async def _install(self, req: Request, parsed: ParsedCommand) -> None:
        ref, rest = await self._ref(req, parsed, "usage.install")
        if not rest or len(rest[0]) > 64:
            raise UsageError("usage.install", ref)
        reading = rest[1][:32] if len(rest) > 1 else None
        note = " ".join(rest[2:]).strip() or None
        await self.service.install(
            self._cmd(c.RecordInstall, req, ref, meter_serial=rest[0], reading=reading, note=note),
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
        if len(rest) != 1 or not rest[0].isdigit():
            raise UsageError("usage.rate", ref)
        await self.service.rate(self._cmd(c.RateCase, req, ref, score=int(rest[0])), self.uow())

    async def _case(self, req: Request, parsed: ParsedCommand) -> None:
        ref, _ = await self._ref(req, parsed, "usage.case")
        case = await self.service.view(ref, req.actor, self.uow())
        async with self.uow() as uow:
            assignee = await uow.members.get(case.assignee) if case.assignee else None
            assert case.id is not None
            history = await uow.cases.history(case.id)
        card = self.render.card(req.lang, case, assignee.mention if assignee else None)
        lines = [card.text, "", self.tr.t(req.lang, "history.title")]
        for h in history[-15:]:
            lines.append(
                self.tr.t(
                    req.lang,
                    "history.item",
                    at=self.tr.when(h.at),
                    action=self.render.status(req.lang, h.status),
                    actor=h.actor,
                )
            )
            if h.note:
                lines[-1] += f" · {h.note[:200]}"
        await self._say_message(
            req,
            Outbound(text="\n".join(lines), buttons=card.buttons, reply_to=req.origin.message_id),
        )

    async def _list(self, req: Request, cases: list[Case], empty: str, title: str) -> None:
        if not cases:
            await self._say(req, self.tr.t(req.lang, empty))
            return
        lines = [self.tr.t(req.lang, title, count=len(cases))]
        lines += [self.render.list_item(req.lang, x) for x in cases]
        await self._say(req, "\n".join(lines))

    async def _mine(self, req: Request, parsed: ParsedCommand) -> None:
        async with self.uow() as uow:
            cases = await uow.cases.find(CaseQuery(assignee=req.actor.uid, active_only=True))
        await self._list(req, cases, "list.mine_empty", "list.mine_title")

    async def _open(self, req: Request, parsed: ParsedCommand) -> None:
        team = await self._team_of_chat(req)
        if not can_view(req.actor, team):
            raise errors.NotMember(team)
        async with self.uow() as uow:
            cases = await uow.cases.find(CaseQuery(team_code=team, statuses=(CaseStatus.OPEN,)))
        await self._list(req, cases, "list.open_empty", "list.open_title")

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
        lines = [f"{team}:"] + [
            f"• {m.name} ({self.tr.t(req.lang, f'role.{m.role.value}')}) {m.mention}"
            for m in people
        ]
        await self._say(req, "\n".join(lines))

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
