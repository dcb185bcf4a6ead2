"""A process's copy of the directory: members, their accounts, teams and which chat shows
which team. Every update asks who is speaking and which team the chat shows; the answers
change a few times a week.

The copy is trusted only while the database's directory version (migration 0011: moved
by triggers in the same transaction as any write to those tables, from any process) is
where it was. A unit of work reads the version once, before its first look-up; if it
moved, the copy is dropped. What a transaction reads is kept only if the version it read
is still the copy's and the transaction wrote nothing to the directory itself, so the
copy never holds a row older than its version: a member removed by the command line or
another instance is read afresh at his next update.

`CopyMemory` answers who is speaking from the copy without any transaction; such an
answer is checked by the update's first unit of work (bot/services/assumed.py).
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.people import Identity, Member, Team
from bot.services.ports import Remembered, RememberedChat
from storage import tables
from storage.sqlite_driver import quick

#: Past this many entries the copy starts again (strangers writing in a group add one
#: entry each): memory stays bounded whatever arrives.
MOST_ENTRIES = 20_000


class DirectoryCopy:
    """What this process read of the directory, all of it as of `version` or later."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.members: dict[str, Member | None] = {}
        self.accounts: dict[tuple[str, str], str | None] = {}
        self.teams: dict[str, Team | None] = {}
        self.bindings: dict[tuple[str, str], str | None] = {}
        #: Accounts whose @username nobody else on the channel held at `version`.
        self.sole_usernames: set[tuple[str, str, str]] = set()

    def meet(self, version: int) -> None:
        """A transaction read `version`: a copy of another version is dropped."""
        if version != self.version:
            self.clear()
            self.version = version

    def clear(self) -> None:
        for kept in (self.members, self.accounts, self.teams, self.bindings):
            kept.clear()
        self.sole_usernames.clear()

    def size(self) -> int:
        return (
            len(self.members)
            + len(self.accounts)
            + len(self.teams)
            + len(self.bindings)
            + len(self.sole_usernames)
        )


_COPIES: weakref.WeakKeyDictionary[AsyncEngine, DirectoryCopy] = weakref.WeakKeyDictionary()


def copy_of(engine: AsyncEngine) -> DirectoryCopy:
    """The copy shared by every unit of work on `engine` in this process."""
    copy = _COPIES.get(engine)
    if copy is None:
        copy = _COPIES[engine] = DirectoryCopy()
    return copy


class CopyMemory:
    """The copy asked without a transaction (bot.services.ports.DirectoryMemory): what it
    holds, and the version it is of. Only as good as that version; the caller has it
    checked."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.copy = copy_of(engine)

    def account(self, channel: str, external_id: str) -> Remembered | None:
        copy = self.copy
        if copy.version is None or (channel, external_id) not in copy.accounts:
            return None
        uid = copy.accounts[(channel, external_id)]
        if uid is None:
            return Remembered(None, copy.version)
        if uid not in copy.members:
            return None
        return Remembered(copy.members[uid], copy.version)

    def username_sole(self, identity: Identity, version: int) -> bool:
        if self.copy.version != version or not identity.username:
            return False
        sole = (identity.channel, identity.external_id, identity.username.lower())
        return sole in self.copy.sole_usernames

    def chat_team(self, channel: str, chat_id: str) -> RememberedChat | None:
        copy = self.copy
        if copy.version is None or (channel, chat_id) not in copy.bindings:
            return None
        return RememberedChat(copy.bindings[(channel, chat_id)], copy.version)


#: Built once: every unit of work of an update reads it (storage/prepared.py says why).
_VERSION = sa.select(tables.directory_version.c.version).where(tables.directory_version.c.id == 1)
quick(_VERSION)


async def directory_version(conn: AsyncConnection) -> int:
    return int((await conn.execute(_VERSION)).scalar_one())


class DirectoryView:
    """One transaction's access to the process's copy (shared by its team and member
    repositories)."""

    def __init__(self, conn: AsyncConnection, copy: DirectoryCopy) -> None:
        self.conn = conn
        self.copy = copy
        self._seen: int | None = None
        self._wrote = False

    async def usable(self) -> DirectoryCopy | None:
        """The copy, when it holds what this transaction would read; None: read the
        database (the transaction wrote to the directory, or the version moved)."""
        if self._wrote:
            return None
        if self._seen is None:
            self._seen = await directory_version(self.conn)
            self.copy.meet(self._seen)
        return self.copy if self.copy.version == self._seen else None

    def saw(self, version: int) -> None:
        """The unit of work read the version already (checking an update's assumption,
        bot/services/assumed.py): no second read before the first look-up."""
        if self._seen is None:
            self._seen = version
            self.copy.meet(version)

    def keep(self, kept: dict[Any, Any], key: Any, value: Any) -> None:
        """Keep what this transaction read, if the copy is still of the version it saw.

        Whatever ran in between, a copy still of that version holds nothing older than
        the read; one that moved on (another transaction saw a newer version) refuses
        it, as the read may have been made before that change committed."""
        if self._wrote or self._seen is None or self.copy.version != self._seen:
            return
        if self.copy.size() >= MOST_ENTRIES:
            self.copy.clear()
        kept[key] = value

    def keep_sole(self, entry: tuple[str, str, str]) -> None:
        if not self._wrote and self._seen is not None and self.copy.version == self._seen:
            self.copy.sole_usernames.add(entry)

    def wrote(self) -> None:
        """This transaction changed the directory: from now on it reads the database
        (its own changes), and keeps nothing (they may yet be rolled back)."""
        self._wrote = True

    def ended(self) -> None:
        """The transaction committed or rolled back: the next one reads the version again."""
        self._seen = None
        self._wrote = False
