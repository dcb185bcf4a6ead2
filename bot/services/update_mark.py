"""A pushed update's "handled" mark, written inside the update's own commit.

A webhook update is recorded as handled (storage/updates.py) so that a redelivery, to
this instance or another, is known. Recording it in transactions of its own (a claim
before, "done" after) cost two transactions beside the command's one. Instead the mark
rides in the update's first unit of work: written as that transaction's first statement
after the directory check (bot/services/assumed.py), so it commits with the command,
its history and its outbox rows, or not at all.

- A replay after success, or a second instance handling the same update at once, meets
  the mark's unique key in its first unit of work, before that reads or writes anything:
  on PostgreSQL the INSERT waits for the other transaction and fails once it commits
  (goes through if it rolls back); on SQLite BEGIN IMMEDIATE has already put the two in
  turn. That unit of work raises `UpdateTaken` and the handling stops there; what
  handlers do before their first unit of work already bears a repeat (the same rule as
  a moved directory's).
- A crash before the commit leaves no mark: the platform's retry handles the update.
- An update whose handling opens several units of work is marked by the first one that
  commits (a read-only one before it leaves no mark). The trade-off: a crash between
  two commits loses what the later ones would have done, where the older claim let a
  stale retry repeat the earlier ones. Handlers already treat their first commit as
  the point of no return (a form confirmed is not confirmed twice), and only the mark
  in the first commit keeps a second instance out of it.
- An update that commits nothing is recorded by the webhook afterwards, in a small
  transaction of its own (as before).

The mark lives in a context variable set by the webhook around one update, so handlers
know nothing of it: every unit of work the update opens sees it, nothing else does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class UpdateTaken(BaseException):
    """The update was recorded as handled by another delivery (a replay, or another
    instance) when this one's unit of work tried to record it; nothing of this delivery
    was written. A BaseException, as CancelledError: the handling is called off, not
    failed, and no handler's `except Exception` may answer it as an error."""


@dataclass
class UpdateMark:
    """Which update a unit of work should record as handled, and whether one has."""

    channel: str
    update_id: str
    #: The unit of work whose open transaction holds the mark (not yet committed).
    holder: object | None = None
    #: A unit of work committed the mark: the update is recorded.
    written: bool = False
    #: The webhook's handling is over: a task that inherited the context leaves it alone.
    closed: bool = False

    def due(self) -> bool:
        """Whether a unit of work opening now should write the mark."""
        return not (self.written or self.closed or self.holder is not None)


_MARK: ContextVar[UpdateMark | None] = ContextVar("update_mark", default=None)


def update_mark() -> UpdateMark | None:
    """The mark of the pushed update being handled; None outside one (polling, the relay)."""
    return _MARK.get()


@contextmanager
def marking(channel: str, update_id: str) -> Iterator[UpdateMark]:
    """Handle one pushed update with its mark to be written by its first commit."""
    mark = UpdateMark(channel, update_id)
    token = _MARK.set(mark)
    try:
        yield mark
    finally:
        mark.closed = True
        _MARK.reset(token)
