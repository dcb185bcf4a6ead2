"""Building a report from the unit of work and turning it into chat messages and files.

Used by `/report`, by the weekly pass and by `dispatchbot report`, so the three
always show the same figures.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bot.channels.base import Outbound
from bot.config import Settings
from bot.domain import errors
from bot.domain.clock import Clock
from bot.domain.model import Role
from bot.domain.people import Actor
from bot.i18n import Lang, Translator
from bot.reports.kpi import Report, build_report, trend_weeks
from bot.reports.period import Period
from bot.reports.text import summary, titled
from bot.reports.timeline import timelines
from bot.services.permissions import require_lead
from bot.services.ports import UnitOfWork
from bot.sla.policy import Policy

#: Sub-folder of MEDIA_DIR where charts and workbooks are written before sending.
REPORTS_DIR = "reports"


class AppParts(Protocol):
    """What reports take from the application: the bootstrap's container has it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def tr(self) -> Translator: ...
    @property
    def clock(self) -> Clock: ...
    def uow(self) -> UnitOfWork: ...


@dataclass(frozen=True)
class ReportDeps:
    """What building and sending a report needs, built the same way by every caller."""

    uow: Callable[[], UnitOfWork]
    policy: Policy
    tr: Translator
    clock: Clock
    media_dir: Path
    admin_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, app: AppParts) -> ReportDeps:
        settings = app.settings
        return cls(app.uow, app.policy, app.tr, app.clock, settings.media_dir, settings.admin_set)


@dataclass(frozen=True)
class ReportFiles:
    chart: Path
    workbook: Path


def authorize_report(actor: Actor, team: str | None) -> None:
    """A lead sees their own team; only an admin sees every team."""
    if actor.is_admin or actor.is_system:
        return
    if team is None:
        raise errors.Forbidden((Role.LEAD,))
    require_lead(actor, team)


async def build(deps: ReportDeps, period: Period, team: str | None, as_of: datetime) -> Report:
    """Read what the period (and its weekly trend) needs, and compute the report."""
    tz = deps.policy.calendar.tz
    since = Period(min(period.start, trend_weeks(period)[0].start), period.end).bounds(tz)[0]
    until = period.bounds(tz)[1]
    async with deps.uow() as uow:
        records = await uow.reports.case_records(since, until, team)
        teams = await uow.reports.team_names()
        members = await uow.reports.member_names()
    # Pure computation, but a year of cases takes a while: off the event loop.
    return await asyncio.to_thread(
        lambda: build_report(
            timelines(records, deps.policy),
            period,
            deps.policy,
            as_of,
            team=team,
            team_names=teams,
            member_names=members,
        )
    )


def render_files(report: Report, tr: Translator, lang: Lang, folder: Path) -> ReportFiles:
    """Chart and workbook under `folder`, with names no other report can take.

    CPU-bound and blocking: callers in the event loop run it in a thread.
    """
    from bot.reports.chart import draw_chart  # heavy imports, only when drawing
    from bot.reports.workbook import write_workbook

    stem = f"kpi-{report.team or 'ALL'}-{report.period.key}-{lang.value}-{secrets.token_hex(4)}"
    return ReportFiles(
        chart=draw_chart(report, tr, lang, folder / f"{stem}.png"),
        workbook=write_workbook(report, tr, lang, folder / f"{stem}.xlsx"),
    )


def messages(report: Report, tr: Translator, lang: Lang, files: ReportFiles) -> list[Outbound]:
    """Three messages, each delivered (and retried) on its own: the summary, the chart,
    the workbook."""
    return [
        Outbound(text=summary(report, tr, lang)),
        Outbound(
            text=titled(tr, lang, report, "report.chart_caption"), photo_path=str(files.chart)
        ),
        Outbound(
            text=titled(tr, lang, report, "report.workbook_caption"),
            document_path=str(files.workbook),
        ),
    ]


class ReportService:
    """`/report` in a chat: the report of a period for a team (None: every team)."""

    def __init__(self, deps: ReportDeps) -> None:
        self.deps = deps

    async def messages(
        self, actor: Actor, period: Period, team: str | None, lang: Lang
    ) -> list[Outbound]:
        authorize_report(actor, team)
        report = await build(self.deps, period, team, self.deps.clock.now())
        folder = self.deps.media_dir / REPORTS_DIR
        files = await asyncio.to_thread(render_files, report, self.deps.tr, lang, folder)
        return messages(report, self.deps.tr, lang, files)
