"""The case and its workflow: plain Python, no chats, no SQL.

One status enum and one transition table per kind, so the state of a case is
never spread over booleans and every move can be checked in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain import errors


class CaseKind(StrEnum):
    NEW_CONNECTION = "new_connection"
    METER_COMPLAINT = "meter_complaint"
    METER_RELOCATION = "meter_relocation"
    CONTRACT_CHANGE = "contract_change"
    MV_CONNECTION = "mv_connection"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    SURVEYED = "surveyed"
    ESTIMATED = "estimated"
    AGREED = "agreed"
    INSTALLED = "installed"
    INSPECTED = "inspected"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"

    @property
    def is_terminal(self) -> bool:
        return self in (CaseStatus.CLOSED, CaseStatus.CANCELLED)


class Area(StrEnum):
    URBAN = "urban"
    RURAL = "rural"


class Purpose(StrEnum):
    DOMESTIC = "domestic"
    NON_DOMESTIC = "non_domestic"


#: Kinds whose SLA (3, 5 or 7 working days) depends on the area and the purpose.
KINDS_WITH_AREA = frozenset({CaseKind.NEW_CONNECTION})


def needs_area_and_purpose(kind: CaseKind) -> bool:
    """A new case of `kind` must say its area and purpose: guessing gives the wrong clock.

    Read by the intake API's validator and by the clerk's guided form alike.
    """
    return kind in KINDS_WITH_AREA


class Role(StrEnum):
    CLERK = "clerk"
    WORKER = "worker"
    LEAD = "lead"


class Source(StrEnum):
    """Where an action came from, recorded in the history for audits."""

    API = "api"
    TELEGRAM = "telegram"
    ZALO = "zalo"
    CLI = "cli"
    SCHEDULER = "scheduler"
    IMPORT = "import"
    WEBAPP = "webapp"  # the lead's board (bot/webapp)


class Action(StrEnum):
    INTAKE = "intake"
    CLAIM = "claim"
    SURVEY = "survey"
    ESTIMATE = "estimate"
    AGREE = "agree"
    INSTALL = "install"
    INSPECT = "inspect"
    RESOLVE = "resolve"
    CLOSE = "close"
    RELEASE = "release"
    HOLD = "hold"
    RESUME = "resume"
    ASSIGN = "assign"
    CANCEL = "cancel"
    RATE = "rate"
    EVIDENCE = "evidence"
    REMIND = "remind"
    ESCALATE = "escalate"
    AUTO_RELEASE = "auto_release"
    #: A word about the case kept in its history (a reply to its card), no step taken.
    NOTE = "note"


#: From the site visit to the energised meter: a new connection, or a meter moved.
_SITE_WORK = (
    CaseStatus.OPEN,
    CaseStatus.CLAIMED,
    CaseStatus.SURVEYED,
    CaseStatus.ESTIMATED,
    CaseStatus.AGREED,
    CaseStatus.INSTALLED,
    CaseStatus.CLOSED,
)
DEFAULT_STEPS: dict[CaseKind, tuple[CaseStatus, ...]] = {
    CaseKind.NEW_CONNECTION: _SITE_WORK,
    CaseKind.METER_COMPLAINT: (
        CaseStatus.OPEN,
        CaseStatus.CLAIMED,
        CaseStatus.INSPECTED,
        CaseStatus.RESOLVED,
        CaseStatus.CLOSED,
    ),
    CaseKind.METER_RELOCATION: _SITE_WORK,
    CaseKind.CONTRACT_CHANGE: (
        CaseStatus.OPEN,
        CaseStatus.CLAIMED,
        CaseStatus.RESOLVED,
        CaseStatus.CLOSED,
    ),
    CaseKind.MV_CONNECTION: tuple(s for s in _SITE_WORK if s is not CaseStatus.ESTIMATED),
}

#: The step that completes a kind for the KPIs: energised, or resolved.
COMPLETION_STEPS = (CaseStatus.INSTALLED, CaseStatus.RESOLVED)


@dataclass(frozen=True)
class Workflow:
    """The ordered steps of every kind; built from the policy, defaults above."""

    steps: dict[CaseKind, tuple[CaseStatus, ...]] = field(
        default_factory=lambda: dict(DEFAULT_STEPS)
    )

    def steps_of(self, kind: CaseKind) -> tuple[CaseStatus, ...]:
        return self.steps[kind]

    def next_step(self, kind: CaseKind, status: CaseStatus) -> CaseStatus | None:
        steps = self.steps[kind]
        if status not in steps:
            return None
        i = steps.index(status)
        return steps[i + 1] if i + 1 < len(steps) else None

    def completion_step(self, kind: CaseKind) -> CaseStatus:
        """The step before `closed`: the one measured by the KPIs and the SLA."""
        steps = self.steps[kind]
        return steps[-2] if steps[-1] is CaseStatus.CLOSED else steps[-1]

    def can_move(self, kind: CaseKind, status: CaseStatus, target: CaseStatus) -> bool:
        return self.next_step(kind, status) is target


@dataclass(frozen=True)
class Customer:
    name: str
    phone: str
    address: str


@dataclass(frozen=True)
class Estimate:
    customer_cost: int
    utility_cost: int


@dataclass(frozen=True)
class Meter:
    serial: str
    reading: str | None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    action: Action
    actor: str
    status: CaseStatus
    note: str | None
    source: Source


@dataclass
class Case:
    """A customer's case. Mutated only through `Workflow`-checked moves."""

    id: int | None
    ref: str
    external_ref: str | None
    kind: CaseKind
    team_code: str
    status: CaseStatus
    customer: Customer
    area: Area | None
    purpose: Purpose | None
    description: str
    received_at: datetime
    needs_extra_works: bool = False
    assignee: str | None = None
    held_from: CaseStatus | None = None
    due_at: datetime | None = None
    step_due_at: datetime | None = None
    estimate: Estimate | None = None
    meter: Meter | None = None
    satisfaction: int | None = None
    held_at: datetime | None = None
    paused: timedelta = timedelta(0)
    claimed_at: datetime | None = None
    last_progress_at: datetime | None = None
    reminder_count: int = 0
    next_check_at: datetime | None = None
    #: Who filed it under `external_ref` (the intake's actor: `api:desk`, `import`); an
    #: external_ref is unique per integration, not across them.
    integration: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    version: int = 0

    @property
    def is_active(self) -> bool:
        return not self.status.is_terminal

    def require_active(self) -> None:
        if self.status.is_terminal:
            raise errors.CaseFinished(self.ref, self.status)

    def advance(self, workflow: Workflow, target: CaseStatus) -> None:
        """Move one step along the kind's path, or refuse without changing anything."""
        self.require_active()
        if self.status is CaseStatus.ON_HOLD:
            raise errors.CaseOnHold(self.ref)
        if not workflow.can_move(self.kind, self.status, target):
            raise errors.IllegalTransition(
                self.ref, self.status, target, workflow.next_step(self.kind, self.status)
            )
        self.status = target
