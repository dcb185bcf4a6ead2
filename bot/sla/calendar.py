"""Working time: the clock every SLA, reminder and KPI of the bot runs on.

The utility's targets are stated in working hours and working days, so elapsed
wall-clock time is never compared with a target directly: it goes through a
`WorkingCalendar`, which knows the office hours, the weekend, Vietnam's public
holidays (lunar ones included, from the maintained `holidays` library), the
Saturdays the government makes working days in exchange for a bridging day off
(the library knows those too), and the policy file's own extra days off or
make-up working days, which win over the library.

Time inside a window is half-open, ``[start, end)``: at 11:30 sharp the morning
window is over, at 13:00 sharp the afternoon one has begun.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_TZ",
    "DEFAULT_WEEKDAYS",
    "DEFAULT_WINDOWS",
    "DaySource",
    "SpecialDay",
    "WorkingCalendar",
]

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_WEEKDAYS: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday .. Friday
DEFAULT_WINDOWS: tuple[tuple[time, time], ...] = (
    (time(7, 30), time(11, 30)),
    (time(13, 0), time(17, 0)),
)

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
#: A calendar without a single working day in this many days is a configuration
#: mistake (no weekdays and no make-up days); refuse instead of looping forever.
_MAX_IDLE_DAYS = 800

_Span = tuple[datetime, datetime]
#: Dates whose windows a calendar keeps (ten years of days), then it starts again.
_SPANS_KEPT = 4096


class DaySource(StrEnum):
    """What decides that a day is worked or not, when it is not an ordinary week day."""

    #: The `holidays` library: a public holiday, a substitute or bridging day off, or a
    #: weekend day the government makes a working day in exchange for a bridging day.
    LIBRARY = "holidays"
    #: The policy file's `extra_days_off` / `extra_working_days` (they win).
    POLICY = "policy"


@dataclass(frozen=True)
class SpecialDay:
    """One day of a year that the calendar does not treat as its weekday would be, so an
    admin can compare the list with the government's notice."""

    day: date
    #: Whether the calendar works that day, all rules applied.
    working: bool
    source: DaySource
    #: The library's name of the day; None for a day only the policy file knows.
    name: str | None = None
    #: A worked weekend day and the bridging day off it pays for point at each other.
    in_exchange_for: date | None = None


@dataclass(frozen=True)
class _LibraryYear:
    """What the `holidays` library says about one year."""

    days_off: frozenset[date]
    #: Weekend days that are worked in exchange for a bridging day off.
    worked: frozenset[date]


def _require_aware(value: datetime, name: str) -> datetime:
    """Reject naive datetimes: a naive time in a deadline is a silent bug."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class WorkingCalendar:
    """Office hours of one utility: which instants count as working time.

    All arithmetic happens in UTC on window bounds computed from local dates,
    so the result is right even in a zone with daylight saving time; every
    instant returned is in the calendar's `tz`.
    """

    tz: tzinfo = DEFAULT_TZ
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS
    windows: tuple[tuple[time, time], ...] = DEFAULT_WINDOWS
    #: ISO country code for public holidays (``holidays`` library); None: no holidays.
    country: str | None = "VN"
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    _holiday_cache: dict[int, _LibraryYear] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _span_cache: dict[date, tuple[_Span, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        # Accept any iterable for the sets so callers may pass lists; store frozensets.
        for name in ("weekdays", "extra_days_off", "extra_working_days"):
            value: Iterable[object] = getattr(self, name)
            if not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(value))
        object.__setattr__(self, "windows", tuple(tuple(w) for w in self.windows))
        if not isinstance(self.tz, tzinfo):
            raise TypeError("tz must be a tzinfo, e.g. ZoneInfo('Asia/Ho_Chi_Minh')")
        if any(not isinstance(d, int) or not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekdays must be integers 0 (Monday) to 6 (Sunday)")
        if not self.windows:
            raise ValueError("at least one daily working window is needed")
        previous_end: time | None = None
        for start, end in self.windows:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("window times are local times, without a timezone")
            if not start < end:
                raise ValueError(f"window {start:%H:%M}-{end:%H:%M} must end after it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError("windows must be in order of the day and must not overlap")
            previous_end = end
        both = self.extra_days_off & self.extra_working_days
        if both:
            day = min(both)
            raise ValueError(f"{day.isoformat()} is both an extra day off and a working day")
        if self.country is not None and self.country not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays are known for country {self.country!r}")

    # -- days ----------------------------------------------------------------

    def _library_year(self, year: int) -> _LibraryYear:
        """The library's days off and worked weekend days of `year`, computed once."""
        cached = self._holiday_cache.get(year)
        if cached is None:
            if self.country is None:
                cached = _LibraryYear(frozenset(), frozenset())
            else:
                found = holidays.country_holidays(self.country, years=year)
                # The library keeps worked weekend days of every year it has seen.
                worked = getattr(found, "weekend_workdays", None) or set()
                cached = _LibraryYear(
                    days_off=frozenset(found.keys()),
                    worked=frozenset(d for d in worked if d.year == year),
                )
            self._holiday_cache[year] = cached
        return cached

    def holidays_of(self, year: int) -> frozenset[date]:
        """Public holidays and the library's other days off of `year`."""
        return self._library_year(year).days_off

    def worked_weekend_days_of(self, year: int) -> frozenset[date]:
        """Weekend days of `year` the government makes working days, in exchange for a
        bridging day off (e.g. Saturday 22/8/2026 for Monday 31/8/2026)."""
        return self._library_year(year).worked

    def is_working_day(self, d: date) -> bool:
        """Extra days off win, then make-up days, then the library's worked weekend
        days, then weekday and public holidays."""
        if isinstance(d, datetime):
            raise TypeError("is_working_day takes a date; use is_working_time for an instant")
        if d in self.extra_days_off:
            return False
        if d in self.extra_working_days:
            return True
        library = self._library_year(d.year)
        if d in library.worked:
            return True
        return d.weekday() in self.weekdays and d not in library.days_off

    def special_days(self, year: int, *, language: str | None = None) -> tuple[SpecialDay, ...]:
        """Every day of `year` that is not simply its weekday: the library's days off and
        worked weekend days, and the policy file's extra days, in date order.

        `language` names the days in one of the library's languages (e.g. ``"vi"``).
        """
        names: dict[date, str] = {}
        exchanges: dict[date, date] = {}
        if self.country is not None:
            found = holidays.country_holidays(self.country, years=year, language=language)
            names = {d: str(name) for d, name in found.items()}
            exchanges = _exchanges(found, self.worked_weekend_days_of(year))
        library = self._library_year(year)
        policy = {d for d in self.extra_days_off | self.extra_working_days if d.year == year}
        return tuple(
            SpecialDay(
                day=d,
                working=self.is_working_day(d),
                source=DaySource.POLICY if d in policy else DaySource.LIBRARY,
                name=names.get(d),
                in_exchange_for=exchanges.get(d),
            )
            for d in sorted(library.days_off | library.worked | policy)
        )

    @property
    def working_day(self) -> timedelta:
        """Length of one ordinary working day: the sum of the daily windows (8 h)."""
        total = _ZERO
        for start, end in self.windows:
            total += datetime.combine(date.min, end) - datetime.combine(date.min, start)
        return total

    def _spans(self, d: date) -> tuple[_Span, ...]:
        """The working windows of local date `d`, as UTC instants (none if off). Kept per
        date: every step of every case asks for the same few days, and the calendar
        never changes once built."""
        found = self._span_cache.get(d)
        if found is not None:
            return found
        if not self.is_working_day(d):
            found = ()
        else:
            found = tuple(
                (
                    datetime.combine(d, start, tzinfo=self.tz).astimezone(UTC),
                    datetime.combine(d, end, tzinfo=self.tz).astimezone(UTC),
                )
                for start, end in self.windows
            )
        if len(self._span_cache) >= _SPANS_KEPT:
            self._span_cache.clear()
        self._span_cache[d] = found
        return found

    def _local_date(self, at_utc: datetime) -> date:
        return at_utc.astimezone(self.tz).date()

    def _days_from(self, d: date) -> Iterable[tuple[date, tuple[_Span, ...]]]:
        """Local dates from `d` on with their windows; stops a runaway calendar."""
        idle = 0
        while True:
            spans = self._spans(d)
            if spans:
                idle = 0
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise ValueError(
                        f"the calendar has no working day in the {_MAX_IDLE_DAYS} days "
                        f"after {d - timedelta(days=_MAX_IDLE_DAYS)}"
                    )
            yield d, spans
            d += _ONE_DAY

    # -- instants ------------------------------------------------------------

    def is_working_time(self, at: datetime) -> bool:
        """True when `at` lies inside a window of a working day."""
        at_utc = _require_aware(at, "at")
        return any(ws <= at_utc < we for ws, we in self._spans(self._local_date(at_utc)))

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when it is working time, else the start of the next window."""
        at_utc = _require_aware(at, "at")
        for _, spans in self._days_from(self._local_date(at_utc)):
            for ws, we in spans:
                if we > at_utc:
                    return max(ws, at_utc).astimezone(self.tz)
        raise AssertionError("unreachable")  # pragma: no cover - _days_from never ends

    def add(self, start: datetime, work: timedelta) -> datetime:
        """The instant at which `work` of working time has elapsed after `start`.

        A start outside working hours counts from the next opening. Adding zero
        returns the next opening (`start` itself when it is working time), so a
        deadline is never placed in the middle of a night. A span ending exactly
        at the close of a window returns that close (17:00), not the next morning.
        Whole days cost one step each, so spans of weeks are cheap.
        """
        start_utc = _require_aware(start, "start")
        if work < _ZERO:
            raise ValueError("work must not be negative")
        if work == _ZERO:
            return self.next_opening(start)
        remaining = work
        for _, spans in self._days_from(self._local_date(start_utc)):
            for ws, we in spans:
                if we <= start_utc:
                    continue
                begin = max(ws, start_utc)
                available = we - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.tz)
                remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover - _days_from never ends

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside ``[start, end)``; zero when `end` is not after `start`."""
        start_utc = _require_aware(start, "start")
        end_utc = _require_aware(end, "end")
        if end_utc <= start_utc:
            return _ZERO
        total = _ZERO
        d = self._local_date(start_utc)
        last = self._local_date(end_utc)
        while d <= last:
            for ws, we in self._spans(d):
                overlap = min(we, end_utc) - max(ws, start_utc)
                if overlap > _ZERO:
                    total += overlap
            d += _ONE_DAY
        return total

    # -- in working days -----------------------------------------------------

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """`add` with a count of working days (fractions allowed: 0.5 is 4 h)."""
        if days < 0:
            raise ValueError("days must not be negative")
        return self.add(start, self.working_day * days)

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """`between` expressed in working days, as the KPI report shows it."""
        return self.between(start, end) / self.working_day


def _exchanges(found: holidays.HolidayBase, worked: frozenset[date]) -> dict[date, date]:
    """Worked weekend day <-> the day off it pays for, both ways. The library links them
    only in the day off's label ("Day off (substituted from 08/22/2026)"), written with
    its own date format, so the link is read back with that same format."""
    pattern = found.tr(found.substituted_date_format)
    result: dict[date, date] = {}
    for day in worked:
        mark = day.strftime(pattern)
        for off, name in sorted(found.items()):
            if off != day and mark in str(name):
                result[day], result[off] = off, day
                break
    return result
