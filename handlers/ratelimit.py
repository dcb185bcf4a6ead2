"""A per-person limit on commands and button presses, so one flood cannot busy the bot.

Each person (per channel identity) may send `count` commands or presses in any
`seconds`; past that the first one is answered politely and the rest are ignored
until a slot frees up. Counted in this process's memory: with several instances
each counts what it handles, so the limit is per instance (see docs/operations.md).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, auto

from bot.domain.clock import Clock

#: People remembered at most; the least recently seen are forgotten first.
MAX_PEOPLE = 50_000


class Verdict(Enum):
    ALLOW = auto()
    WARN = auto()  # over the limit: say so, once
    QUIET = auto()  # still over the limit and already told: ignore


@dataclass
class _Recent:
    """The times of a person's accepted commands still inside the window."""

    times: deque[datetime] = field(default_factory=deque)
    warned: bool = False


class CommandLimiter:
    """A sliding window per person: at most `count` accepted in any `seconds`.

    Refused commands do not count, so a person who keeps trying gets back in as
    soon as the oldest accepted one leaves the window.
    """

    def __init__(
        self, count: int, seconds: float, clock: Clock, max_people: int = MAX_PEOPLE
    ) -> None:
        if count < 1 or seconds <= 0:
            raise ValueError("a limit needs count >= 1 and seconds > 0")
        self.count = count
        self.window = timedelta(seconds=seconds)
        self.clock = clock
        self.max_people = max_people
        self._people: OrderedDict[str, _Recent] = OrderedDict()

    def check(self, who: str) -> Verdict:
        """Count one command of `who` if there is room; otherwise say whether to warn."""
        now = self.clock.now()
        cutoff = now - self.window
        recent = self._people.get(who)
        if recent is None:
            recent = self._people[who] = _Recent()
        self._people.move_to_end(who)
        while recent.times and recent.times[0] <= cutoff:
            recent.times.popleft()
        self._forget_idle(cutoff)
        if len(recent.times) < self.count:
            recent.times.append(now)
            recent.warned = False
            return Verdict.ALLOW
        if recent.warned:
            return Verdict.QUIET
        recent.warned = True
        return Verdict.WARN

    def wait_seconds(self, who: str) -> int:
        """Whole seconds until `who` may send again (at least 1, at most the window)."""
        recent = self._people.get(who)
        window = self.window.total_seconds()
        if recent is None or len(recent.times) < self.count:
            return 1
        left = (recent.times[0] + self.window - self.clock.now()).total_seconds()
        return max(1, min(math.ceil(left), math.ceil(window)))

    def _forget_idle(self, cutoff: datetime) -> None:
        """Drop people whose whole window has passed, least recently seen first."""
        while self._people:
            who, oldest = next(iter(self._people.items()))
            idle = not oldest.times or oldest.times[-1] <= cutoff
            if not idle and len(self._people) <= self.max_people:
                return
            if len(self._people) == 1:
                return  # the one just checked
            del self._people[who]

    def __len__(self) -> int:
        return len(self._people)
