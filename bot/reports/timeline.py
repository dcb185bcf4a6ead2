"""One case's history turned into the instants the KPIs measure.

The figures are computed from the event history (not from the columns of the
case) so that a report of a past period stays the same whatever happened to the
case afterwards, and so that imported cases, which carry only events, count
exactly like live ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from bot.domain.model import ACTION_OF_STEP, Action, Area, CaseKind, CaseStatus, Purpose
from bot.sla.calendar import WorkingCalendar
from bot.sla.policy import Policy

_ZERO = timedelta(0)
_DAY = timedelta(days=1)
#: Days added at once when the ledger must reach further back.
_LEDGER_STEP = 64


class WorkTime:
    """Working time between any two instants in constant time, for thousands of cases.

    `WorkingCalendar.between` walks day by day, which is right but slow across a
    year of history times every case and every week of a report. This keeps, per
    local date, the working time from a base date to that day's midnight (each
    day measured once by the calendar itself), so `between` is two look-ups and
    two within-a-day calls. The results are the calendar's, to the microsecond.
    """

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self._base: date | None = None
        #: _before[i]: working time from the base date's midnight to date base+i's.
        self._before: list[timedelta] = [_ZERO]

    def _midnight(self, d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=self.calendar.tz)

    def _length(self, d: date) -> timedelta:
        return self.calendar.between(self._midnight(d), self._midnight(d + _DAY))

    def _index(self, d: date) -> int:
        if self._base is None:
            self._base = d
        if d < self._base:
            start = min(d, self._base - timedelta(days=_LEDGER_STEP))
            lengths = [
                self._length(start + timedelta(days=i)) for i in range((self._base - start).days)
            ]
            total = sum(lengths, _ZERO)
            head = [_ZERO]
            for length in lengths[:-1]:
                head.append(head[-1] + length)
            self._before = head + [total + before for before in self._before]
            self._base = start
        index = (d - self._base).days
        while len(self._before) <= index:
            last = self._base + timedelta(days=len(self._before) - 1)
            self._before.append(self._before[-1] + self._length(last))
        return index

    def _upto(self, at: datetime) -> timedelta:
        d = at.astimezone(self.calendar.tz).date()
        index = self._index(d)  # first: it may replace the list
        return self._before[index] + self.calendar.between(self._midnight(d), at)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside ``[start, end)``, as `WorkingCalendar.between` gives it."""
        if end <= start:
            return _ZERO
        before = self._upto(start)  # the earlier first: the later one only extends the ledger
        return self._upto(end) - before


class Category(StrEnum):
    """The legal-limit categories of the KPI chart (keys of [legal_limit_days])."""

    URBAN_DOMESTIC = "urban_domestic"
    RURAL_DOMESTIC = "rural_domestic"
    NON_DOMESTIC = "non_domestic"
    COMPLAINT = "complaint"
    ACCESS = "access"


#: The three install categories of new connections, in report order.
INSTALL_CATEGORIES = (Category.URBAN_DOMESTIC, Category.RURAL_DOMESTIC, Category.NON_DOMESTIC)


def category_of(kind: CaseKind, area: Area | None, purpose: Purpose | None) -> Category | None:
    """`non_domestic` is any area; a connection without area or purpose has no category."""
    if kind is CaseKind.MV_CONNECTION:
        return Category.ACCESS
    if kind is CaseKind.METER_COMPLAINT:
        return Category.COMPLAINT
    if kind is not CaseKind.NEW_CONNECTION:
        return None
    if purpose is Purpose.NON_DOMESTIC:
        return Category.NON_DOMESTIC
    if purpose is Purpose.DOMESTIC and area is Area.URBAN:
        return Category.URBAN_DOMESTIC
    if purpose is Purpose.DOMESTIC and area is Area.RURAL:
        return Category.RURAL_DOMESTIC
    return None


@dataclass(frozen=True)
class EventRecord:
    at: datetime
    action: Action
    actor: str


#: The events the figures read; reminders, evidence and the like are left in the history.
MEASURED_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.CLAIM,
        Action.ASSIGN,
        Action.SURVEY,
        Action.ESTIMATE,
        Action.AGREE,
        Action.INSTALL,
        Action.INSPECT,
        Action.RESOLVE,
        Action.CLOSE,
        Action.HOLD,
        Action.RESUME,
        Action.CANCEL,
    }
)


@dataclass(frozen=True)
class CaseRecord:
    """What the report reads of a case: its identity, its classification, its events."""

    id: int
    ref: str
    external_ref: str | None
    kind: CaseKind
    team_code: str
    status: CaseStatus
    area: Area | None
    purpose: Purpose | None
    needs_extra_works: bool
    received_at: datetime
    assignee: str | None
    satisfaction: int | None
    events: tuple[EventRecord, ...] = ()


@dataclass(frozen=True)
class Timeline:
    """The instants of one case, and working time on its own clock (holds left out)."""

    record: CaseRecord
    policy: Policy
    steps: dict[CaseStatus, datetime]
    claimed_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    #: Hold spans; the end is None while the case is still on hold.
    holds: tuple[tuple[datetime, datetime | None], ...]
    category: Category | None
    target: timedelta | None
    clock: WorkTime
    _work_cache: dict[datetime, timedelta] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )
    _late: list[datetime] = field(default_factory=list, repr=False, compare=False, hash=False)

    @classmethod
    def of(cls, record: CaseRecord, policy: Policy, clock: WorkTime | None = None) -> Timeline:
        steps: dict[CaseStatus, datetime] = {}
        claimed_at: datetime | None = None
        cancelled_at: datetime | None = None
        holds: list[tuple[datetime, datetime | None]] = []
        held_since: datetime | None = None
        wanted = {ACTION_OF_STEP[s]: s for s in policy.workflow.steps_of(record.kind)[1:]}
        for event in record.events:
            step = wanted.get(event.action)
            if step is not None:
                steps.setdefault(step, event.at)
            if event.action in (Action.CLAIM, Action.ASSIGN) and claimed_at is None:
                claimed_at = event.at
            elif event.action is Action.HOLD and held_since is None:
                held_since = event.at
            elif event.action in (Action.RESUME, Action.CANCEL) and held_since is not None:
                holds.append((held_since, event.at))
                held_since = None
            if event.action is Action.CANCEL and cancelled_at is None:
                cancelled_at = event.at
        if held_since is not None:
            holds.append((held_since, None))
        if claimed_at is not None:
            steps.setdefault(CaseStatus.CLAIMED, claimed_at)
        done = policy.workflow.completion_step(record.kind)
        return cls(
            record=record,
            policy=policy,
            steps=steps,
            claimed_at=claimed_at,
            completed_at=steps.get(done),
            cancelled_at=cancelled_at,
            holds=tuple(holds),
            category=category_of(record.kind, record.area, record.purpose),
            target=policy.case_target(
                record.kind,
                area=record.area,
                purpose=record.purpose,
                needs_extra_works=record.needs_extra_works,
            ),
            clock=clock or WorkTime(policy.calendar),
        )

    # -- working time ---------------------------------------------------------
    def held(self, until: datetime) -> timedelta:
        """Working time spent on hold before `until`."""
        total = _ZERO
        for start, end in self.holds:
            if start >= until:
                continue
            stop = until if end is None or end > until else end
            total += self.clock.between(start, stop)
        return total

    def work(self, until: datetime) -> timedelta:
        """The case's own working time from receipt to `until`, holds left out."""
        cached = self._work_cache.get(until)
        if cached is None:
            spent = self.clock.between(self.record.received_at, until)
            cached = max(_ZERO, spent - self.held(until))
            self._work_cache[until] = cached
        return cached

    def days(self, until: datetime) -> float:
        return self.work(until) / self.policy.calendar.working_day

    # -- figures of one case --------------------------------------------------
    @property
    def completion_days(self) -> float | None:
        """Working days from receipt to the completion step (energised / resolved)."""
        return self.days(self.completed_at) if self.completed_at is not None else None

    @property
    def claim_hours(self) -> float | None:
        if self.claimed_at is None:
            return None
        return self.work(self.claimed_at) / timedelta(hours=1)

    @property
    def on_time(self) -> bool | None:
        """Completed within the target; a kind without a target is never late."""
        if self.completed_at is None:
            return None
        return self.target is None or self.work(self.completed_at) <= self.target

    @property
    def target_days(self) -> float | None:
        if self.target is None:
            return None
        return self.target / self.policy.calendar.working_day

    def due_at(self, until: datetime) -> datetime | None:
        """The due time as the SLA engine sets it: target plus the hold time so far."""
        if self.target is None:
            return None
        return self.policy.calendar.add(self.record.received_at, self.target + self.held(until))

    def is_open_at(self, at: datetime) -> bool:
        """Received, and neither completed nor cancelled, before `at`."""
        return (
            self.record.received_at < at
            and (self.completed_at is None or self.completed_at >= at)
            and (self.cancelled_at is None or self.cancelled_at >= at)
        )

    def is_overdue_at(self, at: datetime) -> bool:
        """Open at `at` with more of its own working time spent than its target."""
        if self.target is None or not self.is_open_at(at):
            return False
        if self.holds:
            return self.work(at) > self.target
        return at > self._late_from()

    def _late_from(self) -> datetime:
        """Without holds, a case is late at every instant after this one: the first
        working moment after its target is used up (one calendar walk per case)."""
        if not self._late:
            assert self.target is not None
            cal = self.policy.calendar
            self._late.append(cal.next_opening(cal.add(self.record.received_at, self.target)))
        return self._late[0]

    def on_hold_at(self, at: datetime) -> bool:
        return any(s < at and (e is None or e > at) for s, e in self.holds)


def timelines(records: Sequence[CaseRecord], policy: Policy) -> list[Timeline]:
    """Every case's timeline, sharing one working-time ledger."""
    clock = WorkTime(policy.calendar)
    return [Timeline.of(r, policy, clock) for r in records]
