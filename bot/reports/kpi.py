"""The KPI figures: one pure function of the case timelines, a period and an instant.

Every figure follows one rule: a case counts in the period in which it reached
the step that the figure measures (received for `received`, the completion step
for the durations, the claim for `claim_hours`). `open` and `overdue` are a
snapshot at the end of the period, or at the moment of the report if earlier.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from bot.reports.period import WEEK_DAYS, Period
from bot.reports.timeline import INSTALL_CATEGORIES, Category, Timeline
from bot.sla.policy import Policy

#: How many weeks the trend shows at least, so that a weekly report has a trend too.
TREND_WEEKS = 8


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


@dataclass(frozen=True)
class Figures:
    """Every figure of the report for one scope (all, a team, a worker)."""

    received: int = 0
    completed: int = 0
    on_time: int = 0
    open: int = 0
    overdue: int = 0
    access_days_avg: float | None = None
    install_days_avg: Mapping[Category, float | None] = field(
        default_factory=lambda: dict.fromkeys(INSTALL_CATEGORIES)
    )
    complaint_resolution_days_avg: float | None = None
    claim_hours_avg: float | None = None
    satisfaction_avg: float | None = None
    #: All kinds together: receipt to completion, for the per-worker table.
    days_avg: float | None = None

    @property
    def on_time_rate(self) -> float:
        """Share of the completed cases done by their due time; 0.0 when none completed."""
        return self.on_time / self.completed if self.completed else 0.0

    def days_of(self, category: Category) -> float | None:
        """Average working days of a chart category."""
        if category is Category.ACCESS:
            return self.access_days_avg
        if category is Category.COMPLAINT:
            return self.complaint_resolution_days_avg
        return self.install_days_avg.get(category)


def figures(cases: Sequence[Timeline], period: Period, policy: Policy, as_of: datetime) -> Figures:
    """The figures of `cases` over `period`; the snapshot is taken at min(end, as_of)."""
    begin, end = period.bounds(policy.calendar.tz)
    snapshot = min(end, as_of)

    def within(at: datetime | None) -> bool:
        return at is not None and begin <= at < end

    done = [c for c in cases if within(c.completed_at)]
    days = {id(c): c.completion_days or 0.0 for c in done}

    def avg_days(keep: Callable[[Timeline], bool]) -> float | None:
        return _mean(days[id(c)] for c in done if keep(c))

    return Figures(
        received=sum(1 for c in cases if within(c.record.received_at)),
        completed=len(done),
        on_time=sum(1 for c in done if c.on_time),
        open=sum(1 for c in cases if c.is_open_at(snapshot)),
        overdue=sum(1 for c in cases if c.is_overdue_at(snapshot)),
        access_days_avg=avg_days(lambda c: c.category is Category.ACCESS),
        install_days_avg={cat: avg_days(_in_category(cat)) for cat in INSTALL_CATEGORIES},
        complaint_resolution_days_avg=avg_days(lambda c: c.category is Category.COMPLAINT),
        claim_hours_avg=_mean(
            h for c in cases if within(c.claimed_at) and (h := c.claim_hours) is not None
        ),
        satisfaction_avg=_mean(float(s) for c in done if (s := c.record.satisfaction) is not None),
        days_avg=avg_days(lambda c: True),
    )


def _in_category(category: Category) -> Callable[[Timeline], bool]:
    return lambda c: c.category is category


def belongs(case: Timeline, period: Period, policy: Policy, as_of: datetime) -> bool:
    """Whether a case shows in the period's case list: received, claimed or completed
    in it, or open at its end."""
    begin, end = period.bounds(policy.calendar.tz)
    return any(
        at is not None and begin <= at < end
        for at in (case.record.received_at, case.claimed_at, case.completed_at)
    ) or case.is_open_at(min(end, as_of))


@dataclass(frozen=True)
class TeamFigures:
    code: str
    name: str
    figures: Figures


@dataclass(frozen=True)
class WorkerFigures:
    uid: str
    name: str
    team: str | None
    figures: Figures


@dataclass(frozen=True)
class WeekFigures:
    week: Period
    figures: Figures


@dataclass(frozen=True)
class Report:
    """One report: the figures, their breakdowns, the weekly trend and the cases behind."""

    period: Period
    team: str | None
    as_of: datetime
    figures: Figures
    teams: tuple[TeamFigures, ...]
    workers: tuple[WorkerFigures, ...]
    weeks: tuple[WeekFigures, ...]
    cases: tuple[Timeline, ...]
    legal_limits: Mapping[str, float]
    #: When `open` and `overdue` were counted: the end of the period, or `as_of`.
    snapshot: datetime
    #: The calendar's zone: dates in the report are local dates.
    tz: tzinfo
    #: The working day in hours (8 with the default calendar), for the notes.
    working_day_hours: float = 8.0


def trend_weeks(period: Period) -> list[Period]:
    """The weeks the trend shows: those of the period, and at least TREND_WEEKS back."""
    out = period.weeks()
    while len(out) < TREND_WEEKS:
        out.insert(0, Period.week_of(out[0].start - timedelta(days=WEEK_DAYS)))
    return out


def _week_figures(
    cases: Sequence[Timeline], weeks: Sequence[Period], policy: Policy, as_of: datetime
) -> tuple[WeekFigures, ...]:
    """Each week's figures, each computed over only the cases that can count in it.

    A case can count in the weeks in which it was received, claimed or completed,
    and in those at whose end (or `as_of`) it was open: a run of weeks found by
    bisection. `figures` still applies the exact rules to what it is given.
    """
    tz = policy.calendar.tz
    bounds = [w.bounds(tz) for w in weeks]
    starts = [b[0] for b in bounds]
    snapshots = [min(b[1], as_of) for b in bounds]
    first, last = starts[0], bounds[-1][1]
    buckets: list[list[Timeline]] = [[] for _ in weeks]
    for c in cases:
        found: set[int] = set()
        for at in (c.record.received_at, c.claimed_at, c.completed_at):
            if at is not None and first <= at < last:
                found.add(bisect_right(starts, at) - 1)
        closed = [at for at in (c.completed_at, c.cancelled_at) if at is not None]
        lo = bisect_right(snapshots, c.record.received_at)
        hi = bisect_right(snapshots, min(closed)) if closed else len(weeks)
        found.update(range(lo, hi))
        for i in found:
            buckets[i].append(c)
    return tuple(
        WeekFigures(w, figures(bucket, w, policy, as_of))
        for w, bucket in zip(weeks, buckets, strict=True)
    )


def build_report(
    cases: Sequence[Timeline],
    period: Period,
    policy: Policy,
    as_of: datetime,
    *,
    team: str | None,
    team_names: Mapping[str, str],
    member_names: Mapping[str, tuple[str, str | None]],
) -> Report:
    """Assemble the report of `team` (None: every team) from the cases' timelines.

    `team_names` lists the teams to show (code → name); `member_names` gives the
    name and team of each assignee (uid → (name, team)).
    """
    mine = [c for c in cases if team is None or c.record.team_code == team]
    overall = figures(mine, period, policy, as_of)

    by_team: list[TeamFigures] = []
    for code in sorted(team_names if team is None else [team]):
        own = [c for c in mine if c.record.team_code == code]
        name = team_names.get(code, code)
        by_team.append(TeamFigures(code, name, figures(own, period, policy, as_of)))

    assigned: dict[str, list[Timeline]] = {}
    for c in mine:
        if c.record.assignee is not None:
            assigned.setdefault(c.record.assignee, []).append(c)
    workers: list[WorkerFigures] = []
    for uid, own in assigned.items():
        fig = figures(own, period, policy, as_of)
        if fig.completed or fig.open or fig.claim_hours_avg is not None:
            name, member_team = member_names.get(uid, (uid, None))
            workers.append(WorkerFigures(uid, name, member_team, fig))
    workers.sort(key=lambda w: (-w.figures.completed, w.name, w.uid))

    weeks = _week_figures(mine, trend_weeks(period), policy, as_of)
    listed = tuple(
        sorted(
            (c for c in mine if belongs(c, period, policy, as_of)),
            key=lambda c: (c.record.received_at, c.record.id),
        )
    )
    return Report(
        period=period,
        team=team,
        as_of=as_of,
        figures=overall,
        teams=tuple(by_team),
        workers=tuple(workers),
        weeks=weeks,
        cases=listed,
        legal_limits=dict(policy.legal_limits),
        snapshot=min(period.bounds(policy.calendar.tz)[1], as_of),
        tz=policy.calendar.tz,
        working_day_hours=policy.calendar.working_day.total_seconds() / 3600,
    )
