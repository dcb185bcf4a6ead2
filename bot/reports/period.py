"""Report periods: whole local days, from the first to the last, both included.

A period is a pair of calendar dates in the utility's time zone, because that is
how people name them ("November", "last week"); the instants it covers are
computed once, at the edge, from the calendar's zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
WEEK_DAYS = 7


class PeriodError(ValueError):
    """A period typed wrong; the message says what was expected."""


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # included

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"the period ends ({self.end}) before it starts ({self.start})")

    # -- constructors ---------------------------------------------------------
    @classmethod
    def month(cls, year: int, month: int) -> Period:
        if not 1 <= month <= 12:
            raise PeriodError(f"{month} is not a month (1-12)")
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(first, following - timedelta(days=1))

    @classmethod
    def week_of(cls, day: date) -> Period:
        """Monday to Sunday around `day`."""
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=WEEK_DAYS - 1))

    @classmethod
    def last_week(cls, today: date) -> Period:
        """The whole week before the one `today` is in: what the Monday report covers."""
        return cls.week_of(today - timedelta(days=WEEK_DAYS))

    @classmethod
    def from_words(cls, word: str | None, today: date) -> Period:
        """`/report` arguments: nothing or `month` (this month so far), `week`
        (this week so far), `YYYY-MM` (that whole month)."""
        text = (word or "month").strip().lower()
        if text in ("month", "thang", "tháng"):
            return cls(today.replace(day=1), today)
        if text in ("week", "tuan", "tuần"):
            return cls(cls.week_of(today).start, today)
        found = _MONTH.fullmatch(text)
        if found is None:
            raise PeriodError(f"{word!r} is not week, month or YYYY-MM")
        return cls.month(int(found.group(1)), int(found.group(2)))

    # -- instants -------------------------------------------------------------
    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """``[start, end)`` as UTC instants: local midnight to the midnight after `end`."""
        begin = datetime.combine(self.start, time(0), tzinfo=tz).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=tz)
        return begin, after.astimezone(UTC)

    def weeks(self) -> list[Period]:
        """The Monday-to-Sunday weeks that overlap the period, oldest first."""
        out: list[Period] = []
        week = Period.week_of(self.start)
        while week.start <= self.end:
            out.append(week)
            week = Period.week_of(week.start + timedelta(days=WEEK_DAYS))
        return out

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def key(self) -> str:
        """Stable text for file names and dedupe keys: 2026-11-01_2026-11-30."""
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def label(self) -> str:
        """As people read dates in Vietnam: 01/11/2026 – 30/11/2026."""
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"


def iso_week(day: date) -> str:
    """`2026-W48`: the name of a week, for dedupe keys."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
