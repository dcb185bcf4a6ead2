"""Stale claims: a case claimed and then left untouched goes back to the team.

The policy's `stale_claim_hours` of working time without progress releases the
claim: the team's chats are told, and the case is open for anyone to claim again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain.events import CaseReleased
from bot.domain.model import Action, CaseKind, CaseStatus, HistoryEntry, Source
from bot.reminders.common import (
    SCHEDULER_ACTOR,
    ReminderAction,
    ReminderDeps,
    ReminderKind,
    case_action,
    post,
    team_chats,
)
from bot.services.ports import ConcurrentUpdate
from bot.sla.clocks import refresh_clocks

log = logging.getLogger(__name__)


async def release_stale(
    deps: ReminderDeps, at: datetime, dry_run: bool
) -> tuple[set[int], list[ReminderAction]]:
    """The ids of the cases released, and what was said about them."""
    stale_of = {k: r.stale_claim for k, r in deps.policy.reminder_rules.items() if r.stale_claim}
    if not stale_of:
        return set(), []
    async with deps.uow() as uow:
        ids = await uow.cases.stale_claims(at - min(stale_of.values()), deps.batch)
    released: set[int] = set()
    actions: list[ReminderAction] = []
    for case_id in ids:
        try:
            done = await _release_one(deps, case_id, stale_of, at, dry_run)
        except ConcurrentUpdate:
            log.info("case %s changed during the reminder pass; left for the next one", case_id)
            continue
        if done is not None:
            released.add(case_id)
            actions += done
    return released, actions


async def _release_one(
    deps: ReminderDeps,
    case_id: int,
    stale_of: dict[CaseKind, timedelta],
    at: datetime,
    dry_run: bool,
) -> list[ReminderAction] | None:
    policy = deps.policy
    async with deps.uow() as uow:
        case = await uow.cases.get(case_id)
        if (
            case is None
            or case.status is not CaseStatus.CLAIMED
            or case.assignee is None
            or case.last_progress_at is None
        ):
            return None
        stale = stale_of.get(case.kind)
        if stale is None or policy.calendar.between(case.last_progress_at, at) < stale:
            return None
        previous = case.assignee
        worker = await uow.members.get(previous)
        team = await uow.teams.get(case.team_code)
        name = worker.mention if worker else previous
        hours = f"{stale.total_seconds() / 3600:g}"
        actions = [
            case_action(
                ReminderKind.AUTO_RELEASE,
                case,
                channel,
                chat_id,
                case.team_code,
                deps.tr.t(lang, "remind.auto_release", ref=case.ref, name=name, hours=hours),
                f"auto_release:{case_id}:{case.version}:{channel}:{chat_id}",
            )
            for channel, chat_id, lang in team_chats(deps, team)
        ]
        if dry_run:
            return actions
        case.status = CaseStatus.OPEN
        case.assignee = None
        case.claimed_at = None
        # Back to the claim deadline; the release notice itself is this interval's message.
        pace = policy.calendar.add(at, policy.reminders(case.kind).interval)
        refresh_clocks(case, policy, not_before=pace)
        await uow.cases.save(case)
        entry = HistoryEntry(
            at, Action.AUTO_RELEASE, SCHEDULER_ACTOR, case.status, previous, Source.SCHEDULER
        )
        await uow.cases.append_history(case_id, entry)
        await post(uow, actions)
        uow.publish(CaseReleased(case, None, previous, SCHEDULER_ACTOR, automatic=True))
        await uow.commit()
    return actions
