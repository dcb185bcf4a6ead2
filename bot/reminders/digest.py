"""The morning digest: each team's numbers, once per working day, to each of its chats.

The dedupe key carries the date: a restart, a second pass or a second instance finds
the key taken and sends nothing. A bot started late still sends that day's digest at
its first pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.domain.model import Action, Case, CaseKind, CaseStatus
from bot.domain.people import Team
from bot.domain.steps import ACTION_OF_STEP
from bot.i18n import Translator
from bot.reminders.common import ReminderAction, ReminderDeps, ReminderKind, post, team_chats
from bot.services.ports import CaseQuery
from bot.sla.overdue import is_completed, late_since
from bot.sla.policy import Policy

log = logging.getLogger(__name__)

#: Active cases of one team read for its digest; far above any real team's load.
DIGEST_CASE_LIMIT = 10_000
#: Late refs named in the digest; the count says how many more.
DIGEST_LATE_SHOWN = 5
#: Days looked back for the previous working day: Tết plus weekends is the longest run off.
LONGEST_BREAK_DAYS = 60


@dataclass(frozen=True)
class DigestFigures:
    """One team's morning numbers."""

    open: int
    unclaimed: int
    due_today: int
    overdue: int
    completed: int
    #: Refs of the late cases, oldest deadline first.
    late_refs: tuple[str, ...]


async def digests(deps: ReminderDeps, at: datetime, dry_run: bool) -> list[ReminderAction]:
    """From the policy's digest time on, on working days, the digests not sent yet."""
    cal = deps.policy.calendar
    local = at.astimezone(cal.tz)
    today = local.date()
    if not cal.is_working_day(today) or local.time() < deps.policy.digest_time:
        return []
    previous = previous_working_day(deps.policy, today)
    start = datetime.combine(previous, time(0), cal.tz)
    async with deps.uow() as uow:
        teams = [team for team in await uow.teams.all() if team.chats]
        steps = await uow.cases.step_events(
            start, start + timedelta(days=1), completion_actions(deps.policy)
        )
    completed: dict[str, set[int]] = {}
    for step in steps:
        if step.action is ACTION_OF_STEP[deps.policy.workflow.completion_step(step.kind)]:
            completed.setdefault(step.team_code, set()).add(step.case_id)
    actions: list[ReminderAction] = []
    for team in teams:
        actions += await _digest_one(
            deps, team, at, previous, len(completed.get(team.code, ())), dry_run
        )
    return actions


async def _digest_one(
    deps: ReminderDeps, team: Team, at: datetime, previous: date, completed: int, dry_run: bool
) -> list[ReminderAction]:
    today = at.astimezone(deps.policy.calendar.tz).date().isoformat()
    async with deps.uow() as uow:
        chats = [
            (channel, chat_id, lang, f"digest:{team.code}:{today}:{channel}:{chat_id}")
            for channel, chat_id, lang in team_chats(deps, team)
        ]
        sent = await uow.outbox.queued(key for *_, key in chats)
        wanted = [chat for chat in chats if chat[3] not in sent]
        if not wanted:
            return []
        active = await uow.cases.find(
            CaseQuery(team_code=team.code, active_only=True, limit=DIGEST_CASE_LIMIT)
        )
        figures = digest_figures(deps.policy, active, at, completed)
        actions = [
            ReminderAction(
                ReminderKind.DIGEST,
                team.code,
                None,
                channel,
                chat_id,
                team.code,
                digest_text(deps.tr, lang, team, at, previous, figures),
                key,
            )
            for channel, chat_id, lang, key in wanted
        ]
        if dry_run:
            return actions
        # Another pass may have queued some of them since the check above:
        # report only what this pass wrote.
        actions = await post(uow, actions)
        if not actions:
            log.info("digest for team %s already queued by another pass", team.code)
            return []
        await uow.commit()
    return actions


def digest_figures(
    policy: Policy, active: list[Case], at: datetime, completed: int
) -> DigestFigures:
    """Counted on the same rule as reminders and `/overdue`: late means a missed deadline."""
    cal = policy.calendar
    today = at.astimezone(cal.tz).date()
    working = [x for x in active if not is_completed(x, policy.workflow)]
    late = sorted(
        (since, x.ref) for x in working if (since := late_since(x, at, policy.workflow)) is not None
    )
    return DigestFigures(
        open=len(working),
        unclaimed=sum(1 for x in working if x.status is CaseStatus.OPEN),
        due_today=sum(
            1
            for x in working
            if x.due_at is not None
            and x.due_at > at
            and x.due_at.astimezone(cal.tz).date() == today
            and x.status is not CaseStatus.ON_HOLD
        ),
        overdue=len(late),
        completed=completed,
        late_refs=tuple(ref for _, ref in late),
    )


def digest_text(
    tr: Translator,
    lang: str,
    team: Team,
    at: datetime,
    previous: date,
    figures: DigestFigures,
) -> str:
    lines = [
        tr.t(lang, "digest.title", team=team.name or team.code, day=tr.day(at)),
        tr.t(lang, "digest.open", open=figures.open, unclaimed=figures.unclaimed),
        tr.t(lang, "digest.due", due_today=figures.due_today, overdue=figures.overdue),
        tr.t(lang, "digest.completed", day=previous.strftime("%d/%m"), count=figures.completed),
    ]
    if figures.late_refs:
        shown = ", ".join(figures.late_refs[:DIGEST_LATE_SHOWN])
        more = len(figures.late_refs) - DIGEST_LATE_SHOWN
        lines.append(
            tr.t(lang, "digest.late_refs", refs=shown + (f" (+{more})" if more > 0 else ""))
        )
    return "\n".join(lines)


def previous_working_day(policy: Policy, today: date) -> date:
    day = today - timedelta(days=1)
    for _ in range(LONGEST_BREAK_DAYS):
        if policy.calendar.is_working_day(day):
            return day
        day -= timedelta(days=1)
    return today - timedelta(days=1)


def completion_actions(policy: Policy) -> frozenset[Action]:
    """The actions that complete some kind: what the digest counts as done."""
    return frozenset(ACTION_OF_STEP[policy.workflow.completion_step(kind)] for kind in CaseKind)
