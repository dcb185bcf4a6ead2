"""An update's speaker recognised from the process's copy of the directory, not yet checked.

Recognising a member who spoke before costs no transaction: the process's copy of the
directory (storage/directory.py) says who he is, as of a directory version. That answer
holds only if the database is still at that version, so it is checked by the update's
first unit of work, as its first statement, before anything is read or written; if the
version moved, that unit of work raises `DirectoryMoved` and so does every later one of
the update, nothing is written, and the dispatcher identifies the speaker again from the
database and handles the update again.

The assumption lives in a context variable set by the dispatcher around one update:
every unit of work the update opens sees it, whatever handler opened it, and nothing
else does (the relay, the scheduler, another update).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum


class DirectoryMoved(Exception):
    """The speaker was recognised at a directory version the database has since left.
    Raised before the unit of work read or wrote anything: the update may be handled
    again, with the speaker read from the database."""


class Check(StrEnum):
    PENDING = "pending"  # no unit of work of the update has opened yet
    HELD = "held"  # the first one found the version unmoved: the answer stands
    MOVED = "moved"  # it had moved: every unit of work of this run refuses


@dataclass
class Assumption:
    """An update's bet: the speaker is who the copy said, at directory `version`."""

    version: int
    check: Check = Check.PENDING

    def verdict(self, found: int) -> None:
        """The database's version as a unit of work read it first thing. The first
        verdict stands: once one unit of work found the answer good (and may have written),
        a later move is a change made after the update began, as when identify had a
        transaction of its own."""
        if self.check is Check.PENDING:
            self.check = Check.HELD if found == self.version else Check.MOVED
        if self.check is Check.MOVED:
            raise DirectoryMoved(f"directory version {self.version}, found {found}")


_ASSUMED: ContextVar[Assumption | None] = ContextVar("assumed_directory", default=None)


def assumed() -> Assumption | None:
    """This update's unchecked assumption about the directory; None when there is none."""
    return _ASSUMED.get()


@contextmanager
def assuming(version: int | None) -> Iterator[Assumption | None]:
    """Run the update's handling under the assumption that the directory is at `version`
    (None: the speaker was read from the database, nothing to check)."""
    assumption = Assumption(version) if version is not None else None
    token = _ASSUMED.set(assumption)
    try:
        yield assumption
    finally:
        _ASSUMED.reset(token)
