"""The reminder pass: one function, run by the scheduler on each tick and by `dispatchbot remind`.

It releases stale claims, reminds about overdue cases, and posts each team's
morning digest once per working day.

Every case is handled in its own transaction: a conditional UPDATE on the
version read (through `CaseRepository.save`) comes first, then the outbox rows
with dedupe keys. Two passes at the same instant, two instances, or a restart
between passes therefore never send a reminder twice and never lose one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from bot.channels.base import Outbound
from bot.domain.events import CaseReleased
from bot.domain.model import (
    Action,
    Case,
    CaseKind,
    CaseStatus,
    HistoryEntry,
    Role,
    Source,
)
from bot.domain.people import Member, Team
from bot.domain.steps import ACTION_OF_STEP
from bot.i18n import Translator
from bot.services.ports import CaseQuery, ConcurrentUpdate, OutboxItem
from bot.sla.overdue import is_completed, late_since
from bot.sla.policy import Policy
from storage.reminder_queries import completions_between, outbox_has, stale_claim_ids
from storage.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger(__name__)

#: Who the history names for what the pass does.
SCHEDULER_ACTOR = "scheduler"
DEFAULT_BATCH = 200
#: Active cases of one team read for its digest; far above any real team's load.
DIGEST_CASE_LIMIT = 10_000
#: Late refs named in the digest; the count says how many more.
DIGEST_LATE_SHOWN = 5


class ReminderKind(StrEnum):
    REMIND = "remind"
    ESCALATE = "escalate"
    AUTO_RELEASE = "auto_release"
    DIGEST = "digest"


@dataclass(frozen=True)
class ReminderAction:
    """One message the pass sends (or, in a dry run, would send)."""

    kind: ReminderKind
    #: The case's ref; for a digest, the team's code.
    ref: str
    case_id: int | None
    channel: str
    chat_id: str
    #: Who reads it, for logs and the CLI: a team code or a lead's name; never a phone.
    to: str
    text: str
    dedupe_key: str

    def describe(self) -> str:
        return f"{self.ref} {self.kind.value} -> {self.to} ({self.channel}:{self.chat_id})"


@dataclass(frozen=True)
class ReminderDeps:
    """What the pass needs, explicitly, so the CLI and the scheduler build it the same way."""

    uow: Callable[[], SqlUnitOfWork]
    policy: Policy
    tr: Translator
    batch: int = DEFAULT_BATCH

    @classmethod
    def of(cls, container: Container) -> ReminderDeps:
        return cls(container.uow, container.policy, container.tr)


async def remind_pass(
    deps: ReminderDeps, at: datetime, *, dry_run: bool = False
) -> list[ReminderAction]:
    """Release stale claims, then remind about overdue cases, as of `at`.

    Outside working hours nothing happens: the first pass of the next working
    window catches up with one message per case, not one per missed tick.
    """
    actions = await _digests(deps, at, dry_run)
    if not deps.policy.calendar.is_working_time(at):
        return actions
    released, stale = await _release_stale(deps, at, dry_run)
    actions += stale
    actions += await _remind_overdue(deps, at, dry_run, skip=released)
    return actions


# --------------------------------------------------------------------- stale claims
async def _release_stale(
    deps: ReminderDeps, at: datetime, dry_run: bool
) -> tuple[set[int], list[ReminderAction]]:
    stale_of = {k: r.stale_claim for k, r in deps.policy.reminder_rules.items() if r.stale_claim}
    if not stale_of:
        return set(), []
    async with deps.uow() as uow:
        ids = await stale_claim_ids(uow.connection, at - min(stale_of.values()), deps.batch)
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
    cal = deps.policy.calendar
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
        if stale is None or cal.between(case.last_progress_at, at) < stale:
            return None
        previous = case.assignee
        worker = await uow.members.get(previous)
        team = await uow.teams.get(case.team_code)
        name = worker.mention if worker else previous
        hours = f"{stale.total_seconds() / 3600:g}"
        actions = [
            _action(
                ReminderKind.AUTO_RELEASE,
                case,
                channel,
                chat_id,
                case.team_code,
                deps.tr.t(lang, "remind.auto_release", ref=case.ref, name=name, hours=hours),
                f"auto_release:{case_id}:{case.version}:{channel}:{chat_id}",
            )
            for channel, chat_id, lang in _team_chats(deps, team)
        ]
        if dry_run:
            return actions
        case.status = CaseStatus.OPEN
        case.assignee = None
        case.claimed_at = None
        _clocks_after_release(deps.policy, case, at)
        await uow.cases.save(case)
        entry = HistoryEntry(
            at, Action.AUTO_RELEASE, SCHEDULER_ACTOR, case.status, previous, Source.SCHEDULER
        )
        await uow.cases.append_history(case_id, entry)
        await _post(uow, actions)
        uow.publish(CaseReleased(case, None, previous, SCHEDULER_ACTOR, automatic=True))
        await uow.commit()
    return actions


def _clocks_after_release(policy: Policy, case: Case, at: datetime) -> None:
    """Back to the claim deadline; the release notice itself is this interval's message."""
    nxt = policy.workflow.next_step(case.kind, case.status)
    case.step_due_at = (
        policy.due_at(
            case.kind,
            nxt,
            case.received_at,
            area=case.area,
            purpose=case.purpose,
            needs_extra_works=case.needs_extra_works,
            paused=case.paused,
        )
        if nxt is not None
        else None
    )
    dues = [d for d in (case.step_due_at, case.due_at) if d is not None]
    pace = policy.calendar.add(at, policy.reminders(case.kind).interval)
    case.next_check_at = max(min(dues), pace) if dues else None


# ------------------------------------------------------------------ overdue cases
async def _remind_overdue(
    deps: ReminderDeps, at: datetime, dry_run: bool, *, skip: set[int]
) -> list[ReminderAction]:
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
        late = [d for d in (case.step_due_at, case.due_at) if d is not None and d <= at]
        if not late:
            # A check time that is no deadline (say, a claim being watched): move on quietly.
            if not dry_run:
                ahead = [d for d in (case.step_due_at, case.due_at) if d is not None]
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
            _action(
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
            for channel, chat_id, lang in _team_chats(deps, team)
        ]
        if count == rule.escalate_after:
            for lead, channel, chat_id in await _leads(uow, case.team_code, team):
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
                    _action(ReminderKind.ESCALATE, case, channel, chat_id, lead.name, text, key)
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
        await _post(uow, actions)
        await uow.commit()
    return actions


# ------------------------------------------------------------------- daily digest
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


async def _digests(deps: ReminderDeps, at: datetime, dry_run: bool) -> list[ReminderAction]:
    """Once per working day, from the policy's digest time on, one message per team chat.

    The dedupe key carries the date: a restart, a second pass or a second
    instance finds the key taken and sends nothing. A bot started late still
    sends that day's digest at its first pass.
    """
    cal = deps.policy.calendar
    local = at.astimezone(cal.tz)
    today = local.date()
    if not cal.is_working_day(today) or local.time() < deps.policy.digest_time:
        return []
    previous = _previous_working_day(deps, today)
    start = datetime.combine(previous, time(0), cal.tz)
    async with deps.uow() as uow:
        teams = [team for team in await uow.teams.all() if team.chats]
        done_rows = await completions_between(
            uow.connection, start, start + timedelta(days=1), _completion_actions(deps.policy)
        )
    completed: dict[str, set[int]] = {}
    for team_code, kind, action, case_id in done_rows:
        workflow = deps.policy.workflow
        if action == ACTION_OF_STEP[workflow.completion_step(CaseKind(kind))].value:
            completed.setdefault(team_code, set()).add(case_id)
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
        wanted = []
        for channel, chat_id, lang in _team_chats(deps, team):
            key = f"digest:{team.code}:{today}:{channel}:{chat_id}"
            if not await outbox_has(uow.connection, key):
                wanted.append((channel, chat_id, lang, key))
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
                _digest_text(deps.tr, lang, team, at, previous, figures),
                key,
            )
            for channel, chat_id, lang, key in wanted
        ]
        if dry_run:
            return actions
        try:
            await _post(uow, actions)
            # Another pass may have queued some of them since the check above:
            # report only what this pass wrote.
            written = {row.dedupe_key for row in uow.outbox.written}
            actions = [a for a in actions if a.dedupe_key in written]
            await uow.commit()
        except IntegrityError:
            log.info("digest for team %s already queued by another pass", team.code)
            return []
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


def _digest_text(
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


def _previous_working_day(deps: ReminderDeps, today: date) -> date:
    day = today - timedelta(days=1)
    for _ in range(60):  # Tết plus weekends is the longest run of days off
        if deps.policy.calendar.is_working_day(day):
            return day
        day -= timedelta(days=1)
    return today - timedelta(days=1)


def _completion_actions(policy: Policy) -> frozenset[str]:
    return frozenset(
        ACTION_OF_STEP[policy.workflow.completion_step(kind)].value for kind in CaseKind
    )


# ------------------------------------------------------------------------ helpers
def _team_chats(deps: ReminderDeps, team: Team | None) -> list[tuple[str, str, str]]:
    if team is None:
        return []
    lang = deps.tr.lang(team.lang).value
    return [(chat.channel, chat.chat_id, lang) for chat in team.chats]


async def _leads(
    uow: SqlUnitOfWork, team_code: str, team: Team | None
) -> list[tuple[Member, str, str]]:
    """Each lead's private chat, on the team's own channel where they have one there."""
    preferred = team.chats[0].channel if team and team.chats else None
    out: list[tuple[Member, str, str]] = []
    for m in await uow.members.in_team(team_code):
        if m.role is not Role.LEAD:
            continue
        ident = (m.identity_on(preferred) if preferred else None) or (
            m.identities[0] if m.identities else None
        )
        if ident is not None:
            out.append((m, ident.channel, ident.external_id))
    return out


def _action(
    kind: ReminderKind,
    case: Case,
    channel: str,
    chat_id: str,
    to: str,
    text: str,
    dedupe_key: str,
) -> ReminderAction:
    return ReminderAction(kind, case.ref, case.id, channel, chat_id, to, text, dedupe_key)


async def _post(uow: SqlUnitOfWork, actions: list[ReminderAction]) -> None:
    for a in actions:
        await uow.outbox.add(
            OutboxItem(
                channel=a.channel,
                chat_id=a.chat_id,
                payload=Outbound(text=a.text).to_json(),
                dedupe_key=a.dedupe_key,
                case_id=a.case_id,
            )
        )
