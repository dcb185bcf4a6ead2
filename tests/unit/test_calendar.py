"""WorkingCalendar: office hours, Vietnam's holidays, and working-time arithmetic."""

from __future__ import annotations

import time as wallclock
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sla.calendar import DEFAULT_TZ, DaySource, SpecialDay, WorkingCalendar

VN = DEFAULT_TZ
CAL = WorkingCalendar()
H = timedelta(hours=1)


def vn(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN)


# A real, ordinary Friday: no holiday on it nor on the following Monday–Wednesday.
FRIDAY_1630 = vn(2026, 11, 27, 16, 30)


# -- days --------------------------------------------------------------------


def test_ordinary_week() -> None:
    assert FRIDAY_1630.weekday() == 4
    assert CAL.is_working_day(date(2026, 11, 27))
    assert not CAL.is_working_day(date(2026, 11, 28))  # Saturday
    assert not CAL.is_working_day(date(2026, 11, 29))  # Sunday
    assert CAL.is_working_day(date(2026, 11, 30))


def test_tet_2027_as_the_holidays_library_gives_it() -> None:
    # holidays' VN calendar for 2027: 29th of the last lunar month (Thu 4 Feb)
    # through the 5th day of the new year (Wed 10 Feb).
    tet = {date(2027, 2, d) for d in range(4, 11)}
    assert tet <= CAL.holidays_of(2027)
    for d in sorted(tet):
        assert not CAL.is_working_day(d), d
    assert CAL.is_working_day(date(2027, 2, 3))  # Wednesday before
    assert CAL.is_working_day(date(2027, 2, 11))  # Thursday after


def test_hung_kings_day_and_observed_days() -> None:
    assert not CAL.is_working_day(date(2027, 4, 16))  # Hùng Kings' day, a Friday
    assert not CAL.is_working_day(date(2026, 4, 27))  # Hùng Kings' day observed (Sun → Mon)
    assert not CAL.is_working_day(date(2026, 9, 2))  # National Day


def test_holidays_are_computed_once_per_year() -> None:
    cal = WorkingCalendar()
    assert cal.holidays_of(2027) is cal.holidays_of(2027)


def test_holidays_can_be_turned_off() -> None:
    cal = WorkingCalendar(country=None)
    assert cal.is_working_day(date(2027, 2, 8))
    assert cal.holidays_of(2027) == frozenset()


def test_is_working_day_refuses_a_datetime() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(FRIDAY_1630)


# -- instants ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (7, 29, False),
        (7, 30, True),
        (11, 29, True),
        (11, 30, False),
        (12, 59, False),
        (13, 0, True),
        (16, 59, True),
        (17, 0, False),
    ],
)
def test_windows_are_half_open(hour: int, minute: int, expected: bool) -> None:
    assert CAL.is_working_time(vn(2026, 11, 27, hour, minute)) is expected


def test_working_day_is_the_sum_of_the_windows() -> None:
    assert CAL.working_day == 8 * H
    cal = WorkingCalendar(windows=((time(8), time(12)), (time(13), time(15, 30))))
    assert cal.working_day == timedelta(hours=6, minutes=30)


def test_next_opening() -> None:
    assert CAL.next_opening(vn(2026, 11, 27, 9)) == vn(2026, 11, 27, 9)
    assert CAL.next_opening(vn(2026, 11, 27, 12)) == vn(2026, 11, 27, 13)
    assert CAL.next_opening(vn(2026, 11, 27, 17)) == vn(2026, 11, 30, 7, 30)
    assert CAL.next_opening(vn(2026, 11, 28, 10)) == vn(2026, 11, 30, 7, 30)
    assert CAL.next_opening(vn(2027, 2, 3, 18)) == vn(2027, 2, 11, 7, 30)  # over Tết


def test_two_working_hours_from_friday_afternoon_is_monday_nine() -> None:
    assert CAL.add(FRIDAY_1630, 2 * H) == vn(2026, 11, 30, 9, 0)


def test_three_working_days_from_friday_afternoon() -> None:
    # 30 min on Friday, 8 h Monday, 8 h Tuesday, 7 h 30 on Wednesday.
    assert CAL.add_working_days(FRIDAY_1630, 3) == vn(2026, 12, 2, 16, 30)
    assert CAL.working_days_between(FRIDAY_1630, vn(2026, 12, 2, 16, 30)) == 3.0


def test_fractional_working_days() -> None:
    assert CAL.add_working_days(vn(2026, 11, 27, 7, 30), 0.5) == vn(2026, 11, 27, 11, 30)


def test_across_tet_2027() -> None:
    wednesday = vn(2027, 2, 3, 16, 30)
    assert CAL.add(wednesday, 2 * H) == vn(2027, 2, 11, 9, 0)
    assert CAL.between(vn(2027, 2, 3, 17), vn(2027, 2, 11, 7, 30)) == timedelta(0)
    # Mon 1, Tue 2, Wed 3, then Thu 11 and Fri 12 February: five working days.
    assert CAL.working_days_between(vn(2027, 2, 1, 7, 30), vn(2027, 2, 12, 17)) == 5.0
    assert CAL.add_working_days(vn(2027, 2, 1, 7, 30), 5) == vn(2027, 2, 12, 17)


# -- the government's worked Saturdays ---------------------------------------
# In 2026 Monday 31/8 is a bridging day off before National Day, worked in exchange on
# Saturday 22/8. The holidays library knows both; the calendar takes both.


def test_a_saturday_worked_for_a_bridging_day_is_a_working_day() -> None:
    assert CAL.worked_weekend_days_of(2026) == {date(2026, 8, 22)}
    assert CAL.is_working_day(date(2026, 8, 22))
    assert not CAL.is_working_day(date(2026, 8, 31))
    assert not CAL.is_working_day(date(2026, 8, 29))  # the next Saturday is an ordinary one
    # The library remembers worked days of other years too; each year keeps its own.
    assert all(d.year == 2025 for d in CAL.worked_weekend_days_of(2025))


def test_a_case_received_on_friday_21_8_2026_is_due_on_the_worked_saturday() -> None:
    friday = vn(2026, 8, 21, 16, 30)
    assert CAL.add(friday, 2 * H) == vn(2026, 8, 22, 9, 0)
    assert CAL.add_working_days(friday, 1) == vn(2026, 8, 22, 16, 30)
    # Sat 22 worked, Mon 24 to Fri 28, then Tue 1 and Wed 2 September are holidays.
    assert CAL.working_days_between(vn(2026, 8, 22, 7, 30), vn(2026, 9, 2, 17)) == 6.0


def test_the_policy_files_days_win_over_the_librarys_exchange() -> None:
    cal = WorkingCalendar(
        extra_days_off=frozenset({date(2026, 8, 22)}),
        extra_working_days=frozenset({date(2026, 8, 31)}),
    )
    assert not cal.is_working_day(date(2026, 8, 22))
    assert cal.is_working_day(date(2026, 8, 31))
    assert cal.add(vn(2026, 8, 21, 16, 30), 2 * H) == vn(2026, 8, 24, 9, 0)


def test_no_worked_saturdays_without_public_holidays() -> None:
    cal = WorkingCalendar(country=None)
    assert cal.worked_weekend_days_of(2026) == frozenset()
    assert not cal.is_working_day(date(2026, 8, 22))
    assert cal.special_days(2026) == ()


def test_special_days_list_a_years_days_off_and_worked_saturdays() -> None:
    cal = WorkingCalendar(extra_days_off=frozenset({date(2026, 12, 31), date(2027, 1, 4)}))
    days = {d.day: d for d in cal.special_days(2026)}
    assert days[date(2026, 8, 22)] == SpecialDay(
        day=date(2026, 8, 22),
        working=True,
        source=DaySource.LIBRARY,
        name=None,
        in_exchange_for=date(2026, 8, 31),
    )
    bridge = days[date(2026, 8, 31)]
    assert (bridge.working, bridge.in_exchange_for) == (False, date(2026, 8, 22))
    assert days[date(2026, 12, 31)] == SpecialDay(
        date(2026, 12, 31), working=False, source=DaySource.POLICY
    )
    assert date(2027, 1, 4) not in days  # another year's extra day
    tet = [d for d in cal.special_days(2027) if date(2027, 2, 4) <= d.day <= date(2027, 2, 10)]
    assert len(tet) == 7 and not any(d.working for d in tet)
    assert [d.day for d in cal.special_days(2026)] == sorted(days)
    vietnamese = {d.day: d.name for d in cal.special_days(2026, language="vi")}
    assert vietnamese[date(2026, 9, 2)] == "Quốc khánh"


def test_extra_day_off() -> None:
    cal = WorkingCalendar(extra_days_off=frozenset({date(2026, 11, 30)}))
    assert not cal.is_working_day(date(2026, 11, 30))
    assert cal.add(FRIDAY_1630, 2 * H) == vn(2026, 12, 1, 9, 0)


def test_make_up_saturday() -> None:
    cal = WorkingCalendar(extra_working_days=frozenset({date(2026, 11, 28)}))
    assert cal.is_working_day(date(2026, 11, 28))
    assert cal.add(FRIDAY_1630, 2 * H) == vn(2026, 11, 28, 9, 0)


def test_make_up_day_on_a_holiday_is_worked() -> None:
    cal = WorkingCalendar(extra_working_days=frozenset({date(2027, 2, 10)}))
    assert cal.is_working_day(date(2027, 2, 10))


def test_a_day_both_off_and_worked_is_refused() -> None:
    day = frozenset({date(2026, 11, 28)})
    with pytest.raises(ValueError, match="both"):
        WorkingCalendar(extra_days_off=day, extra_working_days=day)


def test_utc_input_gives_the_same_instant_in_the_calendar_zone() -> None:
    in_utc = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    in_plus7 = datetime(2026, 11, 27, 16, 30, tzinfo=timezone(timedelta(hours=7)))
    assert in_utc == in_plus7 == FRIDAY_1630
    for start in (in_utc, in_plus7):
        due = CAL.add(start, 2 * H)
        assert due == vn(2026, 11, 30, 9, 0)
        assert due.tzinfo is VN
    assert CAL.between(in_utc, vn(2026, 11, 30, 9)) == CAL.between(in_plus7, vn(2026, 11, 30, 9))
    assert CAL.next_opening(datetime(2026, 11, 27, 10, 0, tzinfo=UTC)).tzinfo is VN


def test_add_zero() -> None:
    inside = vn(2026, 11, 27, 9, 15)
    assert CAL.add(inside, timedelta(0)) == inside
    # Outside working time, zero work lands on the next opening.
    assert CAL.add(vn(2026, 11, 27, 11, 30), timedelta(0)) == vn(2026, 11, 27, 13)
    assert CAL.add(vn(2026, 11, 27, 20), timedelta(0)) == vn(2026, 11, 30, 7, 30)


def test_work_ending_at_a_window_close_returns_the_close() -> None:
    assert CAL.add(vn(2026, 11, 27, 9, 30), 2 * H) == vn(2026, 11, 27, 11, 30)
    assert CAL.add(vn(2026, 11, 27, 7, 30), 8 * H) == vn(2026, 11, 27, 17, 0)


def test_start_outside_hours_counts_from_next_opening() -> None:
    assert CAL.add(vn(2026, 11, 27, 12, 0), H) == vn(2026, 11, 27, 14, 0)
    assert CAL.add(vn(2026, 11, 28, 10, 0), H) == vn(2026, 11, 30, 8, 30)


def test_between_basics() -> None:
    assert CAL.between(vn(2026, 11, 27, 11), vn(2026, 11, 27, 14)) == timedelta(hours=1, minutes=30)
    assert CAL.between(vn(2026, 11, 27, 14), vn(2026, 11, 27, 11)) == timedelta(0)
    assert CAL.between(FRIDAY_1630, FRIDAY_1630) == timedelta(0)


@pytest.mark.parametrize(
    "call",
    [
        lambda n: CAL.add(n, H),
        lambda n: CAL.between(n, vn(2026, 12, 1)),
        lambda n: CAL.between(vn(2026, 11, 1), n),
        CAL.is_working_time,
        CAL.next_opening,
        lambda n: CAL.add_working_days(n, 1),
        lambda n: CAL.working_days_between(n, vn(2026, 12, 1)),
    ],
)
def test_naive_datetimes_are_refused(call: object) -> None:
    naive = datetime(2026, 11, 27, 16, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        call(naive)  # type: ignore[operator]


def test_negative_work_is_refused() -> None:
    with pytest.raises(ValueError):
        CAL.add(FRIDAY_1630, -H)
    with pytest.raises(ValueError):
        CAL.add_working_days(FRIDAY_1630, -1)


def test_long_spans_are_fast() -> None:
    began = wallclock.perf_counter()
    due = CAL.add_working_days(vn(2026, 1, 2, 8), 500)
    assert CAL.working_days_between(vn(2026, 1, 2, 8), due) == 500.0
    assert wallclock.perf_counter() - began < 2.0


def test_a_calendar_without_working_days_fails_instead_of_looping() -> None:
    cal = WorkingCalendar(weekdays=frozenset())
    with pytest.raises(ValueError, match="no working day"):
        cal.add(FRIDAY_1630, H)


@pytest.mark.parametrize(
    "windows",
    [
        (),
        ((time(9), time(8)),),
        ((time(8), time(12)), (time(11), time(15))),
        ((time(13), time(17)), (time(7, 30), time(11, 30))),
    ],
)
def test_bad_windows_are_refused(windows: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(windows=windows)


def test_unknown_country_is_refused() -> None:
    with pytest.raises(ValueError, match="country"):
        WorkingCalendar(country="XX")


def test_zone_with_daylight_saving_counts_real_hours() -> None:
    # Berlin moves to summer time on Sunday 29 March 2026 at 02:00.
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    cal = WorkingCalendar(
        tz=berlin, weekdays=frozenset(range(7)), windows=((time(0), time(6)),), country=None
    )
    day = datetime(2026, 3, 29, 0, 0, tzinfo=berlin)
    assert cal.between(day, day + timedelta(days=1)) == 5 * H


# -- properties --------------------------------------------------------------

ZONES = st.sampled_from([VN, UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5))])
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=ZONES
)
work = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=15))


@given(start=instants, w=work)
def test_between_inverts_add(start: datetime, w: timedelta) -> None:
    due = CAL.add(start, w)
    assert CAL.between(start, due) == w
    assert due >= start
    if w > timedelta(0):
        # ... and `add` gives the earliest such instant.
        assert CAL.between(start, due - timedelta(microseconds=1)) < w
    else:
        assert CAL.is_working_time(due)


@given(start=instants, w1=work, w2=work)
def test_add_is_monotonic_in_work(start: datetime, w1: timedelta, w2: timedelta) -> None:
    low, high = sorted((w1, w2))
    assert CAL.add(start, low) <= CAL.add(start, high)


@given(a=instants, b=instants, c=instants)
def test_between_is_additive_and_bounded(a: datetime, b: datetime, c: datetime) -> None:
    s, m, e = sorted((a, b, c))
    whole = CAL.between(s, e)
    assert whole == CAL.between(s, m) + CAL.between(m, e)
    assert timedelta(0) <= whole <= e - s
    assert CAL.between(e, s) == timedelta(0)


@given(at=instants)
def test_next_opening_is_open_and_not_earlier(at: datetime) -> None:
    opening = CAL.next_opening(at)
    assert opening >= at
    assert CAL.is_working_time(opening)
    assert CAL.between(at, opening) == timedelta(0)
    assert (opening == at) is CAL.is_working_time(at)


def test_windows_kept_per_date_give_the_same_answers_and_stay_bounded() -> None:
    """Asked again, a date's windows come from the calendar's own store; across a
    daylight-saving change they still match a calendar that never saw them, and the
    store starts again instead of growing without end."""
    from zoneinfo import ZoneInfo

    from bot.sla import calendar as module

    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, 15, 0, tzinfo=berlin)  # the clocks change on the 29th
    warm = WorkingCalendar(tz=berlin, country=None)
    first = [warm.add(start, timedelta(hours=h)) for h in range(0, 40, 3)]
    again = [warm.add(start, timedelta(hours=h)) for h in range(0, 40, 3)]
    fresh = [
        WorkingCalendar(tz=berlin, country=None).add(start, timedelta(hours=h))
        for h in range(0, 40, 3)
    ]
    assert first == again == fresh
    assert first[-1].utcoffset() == timedelta(hours=2)  # summer time by then
    CAL.working_days_between(vn(2026, 1, 2, 8), vn(2026, 1, 2, 8) + timedelta(days=12_000))
    assert 0 < len(CAL._span_cache) <= module._SPANS_KEPT
