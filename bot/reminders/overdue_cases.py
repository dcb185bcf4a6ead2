"""Overdue cases: a reminder to the team at the policy's pace, and once to the leads.

A case is looked at when its `next_check_at` comes (set by `bot.sla.clocks`). Each
reminder moves that time on by the kind's interval; the reminder that reaches the
kind's `escalate_after` also goes to each lead in private, once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.model import Action, CaseStatus, HistoryEntry, Source
from bot.reminders.common import (
    SCHEDULER_ACTOR,
    ReminderAction,
    ReminderDeps,
    ReminderKind,
    case_action,
    leads,
    post,
    team_chats,
)
from bot.services.ports import CaseQuery, ConcurrentUpdate
from bot.sla.clocks import deadlines

log = logging.getLogger(__name__)


async def remind_overdue(
    deps: ReminderDeps, at: datetime, dry_run: bool, *, skip: set[int]
) -> list[ReminderAction]:
    """Every case whose check time has come, but those in `skip` (released just now)."""
    async with deps.uow() as uow:
        due = await uow.cases.find(CaseQuery(overdue_at=at, active_only=True, limit=deps.batch))
    actions: list[ReminderAction] = []
    for seen in due:
        if seen.id is None or seen.id in skip:
            continue
        try:
            actions += await _remind_one(deps, seen.id, at, dry_run)
        except ConcurrentUpdate:
            log.info("case %s changed during the reminder pass; left for the next one", seen.ref)
    return actions


async def _remind_one(
    deps: ReminderDeps, case_id: int, at: datetime, dry_run: bool
) -> list[ReminderAction]:
    tr = deps.tr
    async with deps.uow() as uow:
        case = await uow.cases.get(case_id)
        if (
            case is None
            or case.next_check_at is None
            or case.next_check_at > at
            or not case.is_active
            or case.status is CaseStatus.ON_HOLD
        ):
            return []  # another pass got here first, or the case moved on
        late = [d for d in deadlines(case) if d <= at]
        if not late:
            # A check time that is no deadline (say, a claim being watched): move on quietly.
            if not dry_run:
                ahead = deadlines(case)
                case.next_check_at = min(ahead) if ahead else None
                await uow.cases.save(case)
                await uow.commit()
            return []
        rule = deps.policy.reminders(case.kind)
        count = case.reminder_count + 1
        team = await uow.teams.get(case.team_code)
        assignee = await uow.members.get(case.assignee) if case.assignee else None
        since = tr.when(min(late))

        def who(lang: str) -> str:
            return assignee.mention if assignee else tr.t(lang, "remind.unclaimed")

        def status(lang: str) -> str:
            return tr.t(lang, f"status.{case.status.value}")

        actions = [
            case_action(
                ReminderKind.REMIND,
                case,
                channel,
                chat_id,
                case.team_code,
                tr.t(
                    lang,
                    "remind.overdue",
                    ref=case.ref,
                    due=since,
                    status=status(lang),
                    who=who(lang),
                ),
                f"remind:{case_id}:{count}:{channel}:{chat_id}",
            )
            for channel, chat_id, lang in team_chats(deps, team)
        ]
        if count == rule.escalate_after:
            for lead, channel, chat_id in await leads(uow, case.team_code, team):
                lang = tr.lang(lead.lang, team.lang if team else None).value
                text = tr.t(
                    lang,
                    "remind.escalate",
                    ref=case.ref,
                    team=case.team_code,
                    count=count,
                    due=since,
                    status=status(lang),
                    who=who(lang),
                )
                key = f"escalate:{case_id}:{lead.uid}"
                actions.append(
                    case_action(ReminderKind.ESCALATE, case, channel, chat_id, lead.name, text, key)
                )
        escalate = any(a.kind is ReminderKind.ESCALATE for a in actions)
        if dry_run:
            return actions
        case.reminder_count = count
        case.next_check_at = deps.policy.calendar.add(at, rule.interval)
        await uow.cases.save(case)
        if escalate:
            entry = HistoryEntry(
                at, Action.ESCALATE, SCHEDULER_ACTOR, case.status, str(count), Source.SCHEDULER
            )
            await uow.cases.append_history(case_id, entry)
        await post(uow, actions)
        await uow.commit()
    return actions
