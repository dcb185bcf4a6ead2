"""A case's clocks: its due times and when the reminder pass looks at it next.

One rule, read by every path that changes a case: the case service at each move,
the reminder pass when it releases a stale claim, and the importer when it replays
a case from its timestamps. So a case has the same clocks however it got its state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.model import Case, CaseStatus
from bot.sla.overdue import is_completed
from bot.sla.policy import Policy


@dataclass(frozen=True)
class DueClocks:
    #: When the kind's completion step is due (the case's SLA deadline).
    due_at: datetime | None
    #: When the next step is due; none on hold, when finished, or when only closing is left.
    step_due_at: datetime | None
    #: When the reminder pass looks at the case next; none when there is nothing to chase.
    next_check_at: datetime | None

    def set_on(self, case: Case) -> None:
        case.due_at = self.due_at
        case.step_due_at = self.step_due_at
        case.next_check_at = self.next_check_at


def deadlines(case: Case) -> list[datetime]:
    """The due times the case has (the step's, the case's); late means one is past."""
    return [d for d in (case.step_due_at, case.due_at) if d is not None]


def due_clocks(case: Case, policy: Policy, *, not_before: datetime | None = None) -> DueClocks:
    """The clocks of `case` in its present state, counted in working time from receipt
    and pushed back by the working time it spent on hold.

    The next check is the nearest deadline, but never before `not_before`. Without
    `not_before`, a case already being reminded keeps the time of its next reminder:
    progress on a case still late must not bring that reminder forward, or every step
    would trigger one.
    """

    def due(step: CaseStatus) -> datetime | None:
        return policy.due_at(
            case.kind,
            step,
            case.received_at,
            area=case.area,
            purpose=case.purpose,
            needs_extra_works=case.needs_extra_works,
            paused=case.paused,
        )

    workflow = policy.workflow
    due_at = due(workflow.completion_step(case.kind))
    nxt = workflow.next_step(case.kind, case.status)  # None on hold and once finished
    step_due_at = due(nxt) if nxt is not None and nxt is not CaseStatus.CLOSED else None
    if case.status.is_terminal or case.status is CaseStatus.ON_HOLD or is_completed(case, workflow):
        return DueClocks(due_at, step_due_at, None)
    dues = [d for d in (step_due_at, due_at) if d is not None]
    check = min(dues) if dues else None
    if not_before is None and case.reminder_count:
        not_before = case.next_check_at
    if check is not None and not_before is not None:
        check = max(check, not_before)
    return DueClocks(due_at, step_due_at, check)


def refresh_clocks(case: Case, policy: Policy, *, not_before: datetime | None = None) -> None:
    """Set the clocks of `case` after a change of its state (see `due_clocks`)."""
    due_clocks(case, policy, not_before=not_before).set_on(case)
