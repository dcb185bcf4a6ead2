"""The report's working-time ledger gives exactly what the calendar gives, only faster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.model import CaseKind, CaseStatus
from bot.reports.timeline import CaseRecord, Timeline, WorkTime
from bot.sla.calendar import WorkingCalendar
from bot.sla.policy_file import load_policy

CAL = WorkingCalendar()
START = datetime(2025, 12, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=400 * 24 * 60).map(
    lambda minutes: START + timedelta(minutes=minutes)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(instants, instants), min_size=1, max_size=6))
def test_ledger_between_equals_calendar_between(pairs: list[tuple[datetime, datetime]]) -> None:
    ledger = WorkTime(CAL)  # one ledger, asked in any order: it grows both ways
    for a, b in pairs:
        assert ledger.between(a, b) == CAL.between(a, b)


def test_ledger_across_tet_and_a_weekend() -> None:
    ledger = WorkTime(CAL)
    a = datetime(2027, 2, 3, 8, 0, tzinfo=UTC)  # Wednesday, before the Tết holidays
    b = datetime(2027, 2, 15, 3, 0, tzinfo=UTC)
    assert ledger.between(a, b) == CAL.between(a, b) > timedelta(0)
    assert ledger.between(b, a) == timedelta(0)


POLICY = load_policy()


@settings(max_examples=300, deadline=None)
@given(instants, st.integers(min_value=0, max_value=40 * 24 * 60))
def test_the_quick_overdue_test_agrees_with_counting_working_time(
    received: datetime, minutes: int
) -> None:
    record = CaseRecord(
        id=1,
        ref="PL-1",
        external_ref=None,
        kind=CaseKind.METER_COMPLAINT,
        team_code="PL",
        status=CaseStatus.CLAIMED,
        area=None,
        purpose=None,
        needs_extra_works=False,
        received_at=received,
        assignee=None,
        satisfaction=None,
    )
    case = Timeline.of(record, POLICY)
    at = received + timedelta(minutes=minutes)
    assert case.target is not None
    assert case.is_overdue_at(at) == (at > received and case.work(at) > case.target)
