"""The Monday report: last week's figures to every team chat, all teams to the admins.

Every message carries a dedupe key made of the week and the recipient, and the
outbox refuses a key it already holds, so two passes (a restart, two instances,
a catch-up run) never send a report twice. A recipient already served is found
before any chart is drawn, so a repeated pass costs one query.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.base import Outbound
from bot.i18n import Lang
from bot.reports.period import Period
from bot.reports.service import REPORTS_DIR, ReportDeps, build, messages, render_files
from bot.services.outbox import to_chat
from bot.sla.policy import Policy

log = logging.getLogger(__name__)

#: The parts of one report, each its own outbox row (and its own dedupe key).
PARTS = ("text", "chart", "workbook")


@dataclass(frozen=True)
class Recipient:
    """A chat that gets a weekly report: a team's group, or an admin's private chat."""

    team: str | None  # None: the all-teams report
    channel: str
    chat_id: str
    lang: Lang

    def dedupe_key(self, week: Period, part: str) -> str:
        who = self.team or "ALL"
        return f"weekly_report:{week.start.isoformat()}:{who}:{self.channel}:{self.chat_id}:{part}"


def report_week(policy: Policy, at: datetime) -> Period:
    """The week a pass at `at` reports: the whole week before the local date of `at`."""
    return Period.last_week(at.astimezone(policy.calendar.tz).date())


def is_weekly_report_due(policy: Policy, at: datetime) -> bool:
    """True from this week's report time on ([report] weekday and time of the policy),
    so a scheduler that ran late, or a pass on every tick, still sends each week once."""
    local = at.astimezone(policy.calendar.tz)
    weekday, when = policy.weekly_report
    monday = local.date() - timedelta(days=local.weekday())
    due = datetime.combine(monday + timedelta(days=weekday), when, tzinfo=policy.calendar.tz)
    return local >= due


async def _recipients(deps: ReportDeps) -> list[Recipient]:
    out: list[Recipient] = []
    async with deps.uow() as uow:
        for team in await uow.teams.all():
            lang = deps.tr.lang(team.lang)
            out += [Recipient(team.code, c.channel, c.chat_id, lang) for c in team.chats]
        for uid in sorted(deps.admin_ids):
            channel, _, chat_id = uid.partition(":")
            member = await uow.members.get(uid)
            lang = deps.tr.lang(member.lang if member else None)
            out.append(Recipient(None, channel, chat_id, lang))
    return out


async def weekly_report_pass(deps: ReportDeps, at: datetime) -> list[Recipient]:
    """Queue last week's report for every team chat and every admin; return who got one.

    Safe to call again for the same week: recipients already served are skipped.
    """
    week = report_week(deps.policy, at)
    recipients = await _recipients(deps)
    async with deps.uow() as uow:
        done = await uow.outbox.queued(r.dedupe_key(week, PARTS[0]) for r in recipients)
    todo = [r for r in recipients if r.dedupe_key(week, PARTS[0]) not in done]
    folder = deps.media_dir / REPORTS_DIR
    sent: list[Recipient] = []
    for team in dict.fromkeys(r.team for r in todo):
        report = await build(deps, week, team, at)
        group = [r for r in todo if r.team == team]
        for lang in dict.fromkeys(r.lang for r in group):
            files = await asyncio.to_thread(render_files, report, deps.tr, lang, folder)
            parts = messages(report, deps.tr, lang, files)
            for r in (r for r in group if r.lang is lang):
                if await _queue(deps, r, week, parts):
                    sent.append(r)
    return sent


async def _queue(deps: ReportDeps, r: Recipient, week: Period, parts: list[Outbound]) -> bool:
    """One recipient's three messages, in one transaction: all of them or none."""
    async with deps.uow() as uow:
        written = [
            await uow.outbox.add(
                to_chat(r.channel, r.chat_id, message, dedupe_key=r.dedupe_key(week, part))
            )
            for part, message in zip(PARTS, parts, strict=True)
        ]
        if not all(written):  # another pass queued it since our check
            log.info("weekly report for %s:%s already queued", r.channel, r.chat_id)
            return False
        await uow.commit()
    return True


async def weekly_report_tick(deps: ReportDeps, at: datetime) -> list[Recipient]:
    """The scheduler's call, on every tick: the report goes out on its day, from its time on.

    Only on that day: a bot down all Monday skips that week's automatic report
    (`/report week` still gives it), and a first start mid-week sends nothing old.
    The pass itself makes repeated ticks of the same day harmless.
    """
    weekday, _when = deps.policy.weekly_report
    local = at.astimezone(deps.policy.calendar.tz)
    if local.weekday() != weekday or not is_weekly_report_due(deps.policy, at):
        return []
    return await weekly_report_pass(deps, at)
