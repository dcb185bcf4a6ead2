"""Which webhook updates were already handled, so a redelivery is handled once.

Telegram and Zalo deliver an update again until they get a 2xx, and with several
instances behind one URL a redelivery may reach another instance while the first is
still at work. An update is recorded (`processed_updates`, unique per channel and id)
in the same commit as what handling it wrote: the mark is the first statement of the
update's first unit of work (`write_mark`, called by storage/uow.py; the why is in
bot/services/update_mark.py), or, when handling committed nothing, a small transaction
after it (`ProcessedUpdates.record`). Whoever meets the row already there was second.

Rows in state "processing" are claims written by the versions before, which claimed an
update in a transaction of its own before handling it: while fresh, its instance is at
work (come back later); once `stale_after` old, it was left by a crash and is dropped,
so the next delivery handles the update.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.services.update_mark import UpdateMark, UpdateTaken
from storage import tables
from storage.tables import PROCESSED_UPDATES


class UpdateState(StrEnum):
    PROCESSING = "processing"  # an older version's claim (see the module's docstring)
    DONE = "done"


class Seen(StrEnum):
    """What to answer a delivery that found its update recorded."""

    DUPLICATE = "duplicate"  # handled before: answer 200, nothing was done
    BUSY = "busy"  # being handled elsewhere: answer non-2xx so it comes back


_KEY = (
    PROCESSED_UPDATES.channel == sa.bindparam("channel"),
    PROCESSED_UPDATES.update_id == sa.bindparam("update_id"),
)
# Built once: SQLAlchemy's statement construction costs more than the statement.
_MARK = sa.insert(tables.processed_updates).values(
    channel=sa.bindparam("channel"),
    update_id=sa.bindparam("update_id"),
    at=sa.bindparam("at"),
    state=UpdateState.DONE.value,
)
_FOUND = sa.select(PROCESSED_UPDATES.state, PROCESSED_UPDATES.at).where(*_KEY)
_DROP_STALE = sa.delete(tables.processed_updates).where(
    *_KEY,
    PROCESSED_UPDATES.state == UpdateState.PROCESSING.value,
    PROCESSED_UPDATES.at == sa.bindparam("claimed_at"),
)

#: How many recorded updates an instance remembers, to drop its own replays unhandled.
REMEMBERED = 4096


async def write_mark(conn: AsyncConnection, mark: UpdateMark, at: datetime) -> None:
    """Record `mark`'s update as handled in `conn`'s open transaction; raises UpdateTaken
    when it is recorded already (on PostgreSQL after the transaction holding it commits)."""
    params = {"channel": mark.channel, "update_id": mark.update_id, "at": at}
    try:
        await conn.execute(_MARK, params)
    except IntegrityError as e:
        raise UpdateTaken(f"{mark.channel} update {mark.update_id} is recorded") from e


class ProcessedUpdates:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()

    def known(self, channel: str, update_id: str) -> bool:
        """Recorded by this instance lately: a replay, answered without handling it."""
        return (channel, update_id) in self._recent

    def remember(self, channel: str, update_id: str) -> None:
        """The update's record is committed (only then: a known key is never handled)."""
        self._recent[(channel, update_id)] = None
        if len(self._recent) > REMEMBERED:
            self._recent.popitem(last=False)

    async def record(self, channel: str, update_id: str, at: datetime) -> bool:
        """Record an update whose handling committed nothing; False: recorded already."""
        try:
            async with self.engine.begin() as conn:
                await write_mark(conn, UpdateMark(channel, update_id), at)
        except UpdateTaken:
            return False
        self.remember(channel, update_id)
        return True

    async def seen(
        self, channel: str, update_id: str, at: datetime, stale_after: timedelta
    ) -> Seen:
        """What a delivery that met its update's record answers (see the module's docstring)."""
        key = {"channel": channel, "update_id": update_id}
        async with self.engine.begin() as conn:
            row = (await conn.execute(_FOUND, key)).first()
            if row is None:  # an older version's claim, abandoned meanwhile: come back
                return Seen.BUSY
            if row.state != UpdateState.PROCESSING.value:
                self.remember(channel, update_id)
                return Seen.DUPLICATE
            if row.at <= at - stale_after:
                await conn.execute(_DROP_STALE, {**key, "claimed_at": row.at})
            return Seen.BUSY
