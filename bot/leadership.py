"""Which instance runs the scheduler's passes: the one holding a database lock.

On PostgreSQL that is a session-level advisory lock, held on a connection kept open for
as long as the instance leads. When the instance dies its connection closes, the server
drops the lock, and the next instance that asks gets it. On SQLite (one instance only)
this instance always leads. The lock itself is SQL, so it lives in `storage.leadership`;
the composition root (`bot.bootstrap`) picks one for the database.

The passes themselves are safe to overlap (every change is a conditional update, every
message has a dedupe key), so a short overlap while a lock changes hands, say after a
network cut, can delay a reminder but never send it twice.
"""

from __future__ import annotations

from typing import Protocol


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...

    async def check(self) -> bool:
        """Keep or try to take the lead; True when this instance leads now."""
        ...

    async def release(self) -> None: ...


class AlwaysLead:
    """One instance (SQLite): nobody to share the scheduler with."""

    leading = True

    async def check(self) -> bool:
        return True

    async def release(self) -> None:
        return None
