"""The service policy: steps of each kind, SLA targets, reminders, calendar.

Everything a utility may want to tune without a code change lives in one TOML
file (`POLICY_FILE`), read and checked by `bot.sla.policy_file`. What it gives the
rest of the bot is the typed `Policy` below: no raw TOML leaks out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import NamedTuple

from bot.domain.model import Area, CaseKind, CaseStatus, Purpose, Workflow
from bot.sla.calendar import WorkingCalendar

#: Categories of the legal time limits drawn on the KPI chart.
LEGAL_LIMIT_CATEGORIES = ("urban_domestic", "rural_domestic", "non_domestic", "complaint", "access")

#: The built-in defaults, a TOML file shipped with the package.
DEFAULT_FILE = "default_policy.toml"
BUILTIN_SOURCE = f"(built-in {DEFAULT_FILE})"
_ZERO = timedelta(0)


class PolicyError(ValueError):
    """A policy file that cannot be used; `str()` is one line for the operator."""

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        where = f"POLICY_FILE {source}" + (f" line {line}" if line is not None else "")
        message = " ".join(f"{where}: {reason}".split())  # always a single line
        super().__init__(message)
        self.source = source
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class TargetRule:
    """One SLA rule: a target that applies when all its set conditions match."""

    work: timedelta
    area: Area | None = None
    purpose: Purpose | None = None
    needs_extra_works: bool | None = None

    @property
    def is_catch_all(self) -> bool:
        return self.area is None and self.purpose is None and self.needs_extra_works is None

    def matches(
        self, *, area: Area | None, purpose: Purpose | None, needs_extra_works: bool
    ) -> bool:
        """A condition left unset matches anything; a set one must be equal."""
        return (
            (self.area is None or self.area == area)
            and (self.purpose is None or self.purpose == purpose)
            and (self.needs_extra_works is None or self.needs_extra_works == needs_extra_works)
        )


@dataclass(frozen=True)
class ReminderRule:
    """How the scheduler nags about one kind's overdue and stuck cases."""

    #: Working time between two reminders about the same overdue case.
    interval: timedelta
    #: Reminders sent before the team lead is told privately.
    escalate_after: int
    #: Working time without progress after a claim before the case goes back
    #: to `open`; None when automatic release is off.
    stale_claim: timedelta | None


class WeeklyReport(NamedTuple):
    """When the weekly KPI report goes out (local time of the calendar)."""

    weekday: int  # 0 = Monday
    time: time


@dataclass(frozen=True)
class Policy:
    """The loaded, checked policy. Only typed values: no raw TOML leaks out."""

    calendar: WorkingCalendar
    workflow: Workflow
    targets: Mapping[CaseKind, Mapping[CaseStatus, tuple[TargetRule, ...]]]
    reminder_rules: Mapping[CaseKind, ReminderRule]
    #: Time of the morning digest, local to the calendar, on working days.
    digest_time: time
    weekly_report: WeeklyReport
    install_requires_photo: bool
    legal_limits: Mapping[str, float]
    #: The file it was read from, for messages and logs.
    source: str = BUILTIN_SOURCE

    def target(
        self,
        kind: CaseKind,
        step: CaseStatus,
        *,
        area: Area | None = None,
        purpose: Purpose | None = None,
        needs_extra_works: bool = False,
    ) -> timedelta | None:
        """Working time from intake allowed to reach `step`; None: no target.

        The kind's rules for the step are tried in file order, first match wins.
        """
        for rule in self.targets.get(kind, {}).get(step, ()):
            if rule.matches(area=area, purpose=purpose, needs_extra_works=needs_extra_works):
                return rule.work
        return None

    def case_target(
        self,
        kind: CaseKind,
        *,
        area: Area | None = None,
        purpose: Purpose | None = None,
        needs_extra_works: bool = False,
    ) -> timedelta | None:
        """The target of the kind's completion step (the one before `closed`)."""
        return self.target(
            kind,
            self.workflow.completion_step(kind),
            area=area,
            purpose=purpose,
            needs_extra_works=needs_extra_works,
        )

    def due_at(
        self,
        kind: CaseKind,
        step: CaseStatus,
        received_at: datetime,
        *,
        area: Area | None = None,
        purpose: Purpose | None = None,
        needs_extra_works: bool = False,
        paused: timedelta = _ZERO,
    ) -> datetime | None:
        """When `step` is due: intake plus the target in working time, pushed
        back by the working time the case has spent on hold (`paused`)."""
        if paused < _ZERO:
            raise ValueError("paused must not be negative")
        work = self.target(
            kind, step, area=area, purpose=purpose, needs_extra_works=needs_extra_works
        )
        if work is None:
            return None
        return self.calendar.add(received_at, work + paused)

    def reminders(self, kind: CaseKind) -> ReminderRule:
        return self.reminder_rules[kind]

    def legal_limit_days(self, category: str) -> float:
        """Legal limit in working days for a KPI category, e.g. `urban_domestic`."""
        try:
            return self.legal_limits[category]
        except KeyError:
            known = ", ".join(LEGAL_LIMIT_CATEGORIES)
            raise KeyError(f"unknown KPI category {category!r} (known: {known})") from None
