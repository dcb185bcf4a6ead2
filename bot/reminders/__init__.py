"""The reminder pass: one function, run by the scheduler on each tick and by `dispatchbot remind`.

It posts each team's morning digest once per working day (`digest`), releases stale
claims (`stale_claims`), and reminds about overdue cases (`overdue_cases`). It works
on the unit of work alone, so its rules are tested on the in-memory one.

Every case is handled in its own transaction: a conditional UPDATE on the version
read (through `CaseRepository.save`) comes first, then the outbox rows with dedupe
keys. Two passes at the same instant, two instances, or a restart between passes
therefore never send a reminder twice and never lose one.
"""

from __future__ import annotations

from datetime import datetime

from bot.reminders.common import (
    SCHEDULER_ACTOR,
    AppParts,
    ReminderAction,
    ReminderDeps,
    ReminderKind,
)
from bot.reminders.digest import DigestFigures, digest_figures, digests
from bot.reminders.overdue_cases import remind_overdue
from bot.reminders.stale_claims import release_stale

__all__ = [
    "SCHEDULER_ACTOR",
    "AppParts",
    "DigestFigures",
    "ReminderAction",
    "ReminderDeps",
    "ReminderKind",
    "digest_figures",
    "remind_pass",
]


async def remind_pass(
    deps: ReminderDeps, at: datetime, *, dry_run: bool = False
) -> list[ReminderAction]:
    """The digests due, then, in working hours, stale claims released and overdue cases
    reminded, as of `at`.

    Outside working hours only the digest may go: the first pass of the next working
    window catches up with one message per case, not one per missed tick.
    """
    actions = await digests(deps, at, dry_run)
    if not deps.policy.calendar.is_working_time(at):
        return actions
    released, stale = await release_stale(deps, at, dry_run)
    actions += stale
    actions += await remind_overdue(deps, at, dry_run, skip=released)
    return actions
