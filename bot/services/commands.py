"""Commands: what a user or a system asks the service layer to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.events import Origin
from bot.domain.evidence import NewEvidence
from bot.domain.model import Action, Area, CaseKind, Customer, Purpose, Source
from bot.domain.people import Actor, Member


@dataclass(frozen=True)
class Command:
    actor: Actor
    source: Source
    origin: Origin | None


@dataclass(frozen=True)
class IntakeCase(Command):
    kind: CaseKind
    team_code: str
    customer: Customer
    description: str
    external_ref: str | None = None
    area: Area | None = None
    purpose: Purpose | None = None
    needs_extra_works: bool = False
    received_at: datetime | None = None
    #: Photos that came with it (a customer's message forwarded with its photo).
    evidence: tuple[NewEvidence, ...] = ()


@dataclass(frozen=True)
class CaseCommand(Command):
    ref: str


class ClaimCase(CaseCommand):
    """The actor takes an open case."""


@dataclass(frozen=True)
class StepReport(CaseCommand):
    """A step of the work reported: what the step records, and with every step a note
    and the photos (or location) taken there."""

    note: str | None = field(default=None, kw_only=True)
    evidence: tuple[NewEvidence, ...] = field(default=(), kw_only=True)


@dataclass(frozen=True)
class ReportStep(StepReport):
    """survey, inspect, resolve, agree, close: a step that records only its note."""

    action: Action


@dataclass(frozen=True)
class RecordEstimate(StepReport):
    customer_cost: int
    utility_cost: int


@dataclass(frozen=True)
class RecordInstall(StepReport):
    meter_serial: str
    reading: str | None = None


class ReleaseCase(CaseCommand):
    """The assignee gives the case back to the team."""


@dataclass(frozen=True)
class WithReason(CaseCommand):
    """A change people must be told the why of, in the actor's words."""

    reason: str


class HoldCase(WithReason):
    """The work waits (the customer away, material missing)."""


class ResumeCase(CaseCommand):
    """The held case goes on."""


@dataclass(frozen=True)
class ToMember(CaseCommand):
    """The case goes to another member of the team (a lead's assignment, a handover)."""

    member_uid: str


class AssignCase(ToMember):
    """A lead gives the case to a worker."""


class CancelCase(WithReason):
    """The case ends without the work."""


@dataclass(frozen=True)
class RateCase(CaseCommand):
    score: int


@dataclass(frozen=True)
class TakeOver(CaseCommand):
    """The colleague accepts a handover: the case moves from `giver` to the actor."""

    giver: Member


@dataclass(frozen=True)
class AddNote(CaseCommand):
    """A word about the case, kept in its history: "khách hẹn 2h chiều"."""

    note: str
