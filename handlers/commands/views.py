"""The commands that only read: a case's card with its history, the lists, the team,
the KPI report. Each answers in the chat it was asked in, and shows a team's cases in
that team's chats (or privately) only."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from bot.channels.base import Outbound
from bot.domain import errors
from bot.domain.model import Case, CaseStatus
from bot.domain.people import Actor
from bot.i18n import Lang
from bot.reports.period import Period, PeriodError
from bot.services.finding import mine_query
from bot.services.permissions import can_view
from bot.services.ports import CaseQuery
from bot.sla.overdue import late_since
from handlers.callbacks import ListKind
from handlers.commands import CommandTable
from handlers.kit import CommandKit, OnKit
from handlers.parsing import CommandName, ParsedCommand
from handlers.refusals import OtherTeamsChat, UsageError
from handlers.render import PAGE_SIZE, page_window
from handlers.request import Request


class ReportMaker(Protocol):
    """Builds the KPI report of a period as messages (text, chart, workbook).

    `team` None means every team. Raises a DomainError when `actor` may not see it.
    """

    async def messages(
        self, actor: Actor, period: Period, team: str | None, lang: Lang
    ) -> list[Outbound]: ...


class ViewCommands(OnKit):
    def __init__(self, kit: CommandKit, *, reports: ReportMaker) -> None:
        super().__init__(kit)
        self.reports = reports

    def table(self) -> CommandTable:
        return {
            CommandName.CASE: self.case,
            CommandName.MINE: self.mine,
            CommandName.OPEN: self.open,
            CommandName.OVERDUE: self.overdue,
            CommandName.MEMBERS: self.members,
            CommandName.REPORT: self.report,
        }

    async def case(self, req: Request, parsed: ParsedCommand) -> None:
        ref, _ = await self.lookup.ref(req, parsed, "usage.case")
        await self.show_case(req, ref)

    async def show_case(self, req: Request, ref: str) -> None:
        """One card: the case, its history and its evidence, each naming who and when.

        Only in the case's own team's chats, or privately: a member of two worlds (a
        clerk, a worker added to another team's group) must not post it elsewhere.
        """
        case = await self.service.view(ref, req.actor, self.uow())
        assert case.id is not None
        if not req.is_private and await self.lookup.team_shown_here(req) != case.team_code:
            raise OtherTeamsChat
        async with self.uow() as uow:
            assignee = await uow.members.get(case.assignee) if case.assignee else None
            history = await uow.cases.history(case.id)
            evidence = await uow.evidence.for_case(case.id)
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
        message = Outbound(text="\n".join(lines), buttons=buttons, reply_to=req.origin.message_id)
        await self.replies.show(req, message)

    async def mine(self, req: Request, parsed: ParsedCommand) -> None:
        await self.page(req, ListKind.MINE, 1)

    async def open(self, req: Request, parsed: ParsedCommand) -> None:
        await self.page(req, ListKind.OPEN, 1)

    async def page(self, req: Request, kind: ListKind, page: int) -> None:
        """A page of ten: short lines and a button per case (it shows the case)."""
        if kind is ListKind.MINE:
            query = mine_query(req.actor)  # a clerk's: the cases she filed
            filed = query.filed_by is not None
            empty = "list.filed_empty" if filed else "list.mine_empty"
            title = "list.filed_title" if filed else "list.mine_title"
        else:
            team = await self._viewable_team(req)
            query = CaseQuery(team_code=team, statuses=(CaseStatus.OPEN,))
            empty, title = "list.open_empty", "list.open_title"
        async with self.uow() as uow:
            total = await uow.cases.count(query)
            page, offset = page_window(page, total)
            shown = await uow.cases.find(replace(query, offset=offset, limit=PAGE_SIZE))
        if not shown:
            await self.replies.say(req, self.tr.t(req.lang, empty))
            return
        message = self.render.list_page(req.lang, kind, shown, page, total, title)
        await self.replies.show(req, replace(message, reply_to=req.origin.message_id))

    async def overdue(self, req: Request, parsed: ParsedCommand) -> None:
        """The team's late cases, oldest deadline first.

        Judged on the due times, not on `next_check_at`: once reminded, a case's
        next check moves ahead, yet it is still late.
        """
        team = await self._viewable_team(req)
        now = self.service.clock.now()
        async with self.uow() as uow:
            due = await uow.cases.find(CaseQuery(team_code=team, late_at=now, limit=1000))
        workflow = self.service.policy.workflow
        late = sorted(
            ((since, x) for x in due if (since := late_since(x, now, workflow)) is not None),
            key=lambda pair: (pair[0], pair[1].ref),
        )
        await self._list(req, [x for _, x in late], "list.overdue_empty", "list.overdue_title")

    async def _list(self, req: Request, cases: list[Case], empty: str, title: str) -> None:
        if not cases:
            await self.replies.say(req, self.tr.t(req.lang, empty))
            return
        lines = [self.tr.t(req.lang, title, count=len(cases))]
        lines += [self.render.list_item(req.lang, x) for x in cases]
        await self.replies.say(req, "\n".join(lines))

    async def members(self, req: Request, parsed: ParsedCommand) -> None:
        team = await self._viewable_team(req)
        async with self.uow() as uow:
            people = await uow.members.in_team(team)
        t, lang = self.tr.t, req.lang
        lines = [t(lang, "members.title", team=team, count=len(people))]
        for m in people:
            role = t(lang, f"role.{m.role.value}")
            key = "members.item" if m.mention != m.name else "members.item_plain"
            lines.append(t(lang, key, name=m.name, role=role, mention=m.mention))
        await self.replies.say(req, "\n".join(lines))

    async def _viewable_team(self, req: Request) -> str:
        """The chat's team, if the speaker may see its cases."""
        team = await self.lookup.team_of_chat(req)
        if not can_view(req.actor, team):
            raise errors.NotMember(team)
        return team

    async def report(self, req: Request, parsed: ParsedCommand) -> None:
        """The KPI report, answered where it was asked: summary, chart, workbook."""
        policy = self.service.policy
        today = self.service.clock.now().astimezone(policy.calendar.tz).date()
        try:
            period = Period.from_words(parsed.arg(0), today)
        except PeriodError:
            raise UsageError("usage.report") from None
        team = await self.lookup.report_team(req)
        messages = await self.reports.messages(req.actor, period, team, req.lang)
        if messages:
            messages[0] = replace(messages[0], reply_to=req.origin.message_id)
        await self.replies.show(req, *messages)
