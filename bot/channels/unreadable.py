"""Updates the bot cannot read, and how polling lives with them.

One malformed update once made the Telegram poller ask for it again at once, and again:
5,249 tries and 77 MB of log in ten seconds, with every later update stuck behind it.
Now an update that cannot be read is asked for again a few times, with a growing pause
(a hiccup may pass), then skipped so the updates behind it get through; and what is
said about it is said at most once a minute, however often it happens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

#: Reads of one update before it is skipped.
TRIES: Final = 3
#: Pause after the first failed read; it doubles after each further one.
FIRST_PAUSE: Final = 0.5
#: Longest pause (reached only by an update that has no id to skip it by).
MAX_PAUSE: Final = 60.0
#: At most one line about unreadable updates in this many seconds.
LOG_EVERY: Final = 60.0


@dataclass(frozen=True)
class Verdict:
    """What to do after a failed read: wait `pause` seconds and ask again, or skip it."""

    pause: float
    skip: bool


class UnreadableUpdates:
    """Counts failed reads of the update in front of the queue and decides what comes next.

    The key is the update's id (None when even that cannot be read: it can then never be
    skipped by id, so it is asked for again at the longest pause).
    """

    def __init__(
        self, *, tries: int = TRIES, first_pause: float = FIRST_PAUSE, max_pause: float = MAX_PAUSE
    ) -> None:
        self.tries = tries
        self.first_pause = first_pause
        self.max_pause = max_pause
        self._key: Hashable | None = None
        self._failures = 0
        self.skipped = 0

    def failed(self, key: Hashable | None) -> Verdict:
        if key != self._key:
            self._key, self._failures = key, 0
        self._failures += 1
        if key is not None and self._failures >= self.tries:
            self._key, self._failures = None, 0
            self.skipped += 1
            return Verdict(0.0, skip=True)
        pause = self.first_pause * 2 ** (self._failures - 1)
        return Verdict(min(pause, self.max_pause), skip=False)

    @property
    def failures(self) -> int:
        """Failed reads of the update now in front (0 once it was read or skipped)."""
        return self._failures

    def read(self) -> None:
        """The update in front was read after all."""
        self._key, self._failures = None, 0


class LogEvery:
    """A warning at most once per `seconds`; the next one says how many were held back."""

    def __init__(
        self,
        logger: logging.Logger,
        seconds: float = LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.seconds = seconds
        self.clock = clock
        self._last: float | None = None
        self._held = 0

    def warning(self, message: str, *args: object, trace: bool = False) -> None:
        """Log it unless a line was logged less than `seconds` ago; `trace` adds the
        exception being handled."""
        now = self.clock()
        if self._last is not None and now - self._last < self.seconds:
            self._held += 1
            return
        if self._held:
            message += " (%d more such events in the last %.0f seconds)"
            args = (*args, self._held, now - self._last if self._last is not None else 0.0)
        self.logger.warning(message, *args, exc_info=trace)
        self._last, self._held = now, 0
