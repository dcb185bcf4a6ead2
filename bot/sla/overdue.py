"""When a case counts as late: one rule for reminders, `/overdue` and the digest."""

from __future__ import annotations

from datetime import datetime

from bot.domain.model import Case, CaseStatus, Workflow


def is_completed(case: Case, workflow: Workflow) -> bool:
    """Past the step the SLA measures (installed, resolved…): nothing left to chase."""
    steps = workflow.steps_of(case.kind)
    status = case.held_from if case.status is CaseStatus.ON_HOLD else case.status
    if status is None or status not in steps:
        return False
    return steps.index(status) >= steps.index(workflow.completion_step(case.kind))


def late_since(case: Case, at: datetime, workflow: Workflow) -> datetime | None:
    """The earliest deadline already missed at `at`, or None when the case is not late.

    A case on hold, finished, or past its completion step is never late: its
    clock is stopped or its measured work is done.
    """
    if not case.is_active or case.status is CaseStatus.ON_HOLD or is_completed(case, workflow):
        return None
    missed = [d for d in (case.step_due_at, case.due_at) if d is not None and d <= at]
    return min(missed) if missed else None
