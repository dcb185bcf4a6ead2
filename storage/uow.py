"""The SQL unit of work: one connection, one transaction, outbox rows at commit.

In a pushed update's handling, the first unit of work also records the update as handled
in its own transaction (bot/services/update_mark.py), so the webhook needs none of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.clock import Clock
from bot.domain.events import Event
from bot.services.assumed import Check, DirectoryMoved, assumed
from bot.services.ports import EventSink
from bot.services.update_mark import UpdateMark, update_mark
from storage.board_links_store import SqlBoardLinkRepository
from storage.directory import DirectoryView, copy_of, directory_version
from storage.evidence_store import SqlEvidenceRepository
from storage.forms_store import SqlFormRepository
from storage.invites_store import SqlInviteRepository
from storage.outbox_handoff import Taker, Terms, take, taker_of
from storage.outbox_model import ChatClaim, ChatKey
from storage.outbox_rows import SqlOutbox
from storage.outbox_wakeup import announce, announces
from storage.quick_execute import give_back, lend
from storage.report_queries import SqlReportReads
from storage.repository import (
    SqlCaseRepository,
    SqlMemberRepository,
    SqlTeamRepository,
)
from storage.updates import write_mark


class SqlUnitOfWork:
    cases: SqlCaseRepository
    teams: SqlTeamRepository
    members: SqlMemberRepository
    outbox: SqlOutbox
    evidence: SqlEvidenceRepository
    forms: SqlFormRepository
    invites: SqlInviteRepository
    reports: SqlReportReads
    board_links: SqlBoardLinkRepository

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        sink: EventSink | None = None,
        on_outbox: Callable[[Collection[ChatKey]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.sink = sink
        self.on_outbox = on_outbox
        self._conn: AsyncConnection | None = None
        self._events: list[Event] = []
        self._view: DirectoryView | None = None
        #: The pushed update's mark, while this unit of work's open transaction holds it.
        self._mark: UpdateMark | None = None

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None, "use the unit of work inside `async with`"
        return self._conn

    async def __aenter__(self) -> Self:
        assumption = assumed()
        if assumption is not None and assumption.check is Check.MOVED:
            raise DirectoryMoved("the update's speaker was read at an older directory version")
        conn = await lend(self.engine)
        try:
            await conn.begin()
            view = DirectoryView(conn, copy_of(self.engine))
            if assumption is not None and assumption.check is Check.PENDING:
                # The update's speaker came from the copy: before anything else, check the
                # version it was of (bot/services/assumed.py). Raises DirectoryMoved.
                found = await directory_version(conn)
                view.saw(found)
                assumption.verdict(found)
            # A pushed update is recorded by its first commit; a delivery that finds it
            # recorded stops here, before reading anything (raises UpdateTaken).
            await self._hold_mark(conn)
        except BaseException:
            self._let_go_of_mark()
            await conn.close()  # rolls the transaction back: nothing was written
            raise
        self._conn = conn
        now = self.clock.now()
        self.cases = SqlCaseRepository(conn, now)
        self._view = view
        self.teams = SqlTeamRepository(conn, now, self._view)
        self.members = SqlMemberRepository(conn, now, self._view)
        self.outbox = SqlOutbox(conn, now)
        self.evidence = SqlEvidenceRepository(conn, now)
        self.forms = SqlFormRepository(conn, now)
        self.invites = SqlInviteRepository(conn, now)
        self.reports = SqlReportReads(conn)
        self.board_links = SqlBoardLinkRepository(conn, now)
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        self._let_go_of_mark()
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        except BaseException:
            await conn.close()
            raise
        await give_back(self.engine, conn)

    async def _hold_mark(self, conn: AsyncConnection) -> None:
        mark = update_mark()
        if mark is not None and mark.due():
            mark.holder = self
            self._mark = mark
            await write_mark(conn, mark, self.clock.now())

    def _let_go_of_mark(self) -> None:
        """The transaction that held the mark ended uncommitted: the next one writes it."""
        mark, self._mark = self._mark, None
        if mark is not None and mark.holder is self:
            mark.holder = None

    def publish(self, event: Event) -> None:
        self._events.append(event)

    async def ping(self) -> None:
        await self.connection.execute(sa.text("SELECT 1"))

    async def commit(self) -> None:
        """Write what the events mean for the chats, then commit it all at once."""
        while self._events and self.sink is not None:
            batch, self._events = self._events, []
            await self.sink(batch, self)
        if self._mark is None:  # rolled back since it opened: write the mark again
            await self._hold_mark(self.connection)
        handed = await self._hand_over() if self.outbox.added else None
        rest = set(self.outbox.chats)
        if handed is not None:
            rest.difference_update(claim.key for claim in handed[2])
        if rest and announces(self.connection):
            await announce(self.connection)  # the other instances' relays, at the commit
        await self.connection.commit()
        mark, self._mark = self._mark, None
        if mark is not None:
            mark.written, mark.holder = True, None
        if self._view is not None:
            self._view.ended()
        self.outbox.added = 0
        self.outbox.chats.clear()
        if handed is not None:
            taker, terms, claims = handed
            taker.taken(terms, claims)
        if rest and self.on_outbox is not None:
            self.on_outbox(frozenset(rest))

    async def _hand_over(self) -> tuple[Taker, Terms, list[ChatClaim]] | None:
        """Lease the chats written to that this process's relay takes, in this transaction
        (storage/outbox_handoff.py): they need no claim of their own."""
        taker = taker_of(self.engine)
        terms = taker.terms(self.outbox.chats) if taker is not None else None
        if taker is None or terms is None or not terms.chats:
            return None
        claims = await take(self.connection, terms)
        return (taker, terms, claims) if claims else None

    async def rollback(self) -> None:
        await self.connection.rollback()
        self._let_go_of_mark()
        self._events = []
        if self._view is not None:
            self._view.ended()


def uow_factory(
    engine: AsyncEngine,
    clock: Clock,
    sink: EventSink | None = None,
    on_outbox: Callable[[Collection[ChatKey]], None] | None = None,
) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, clock, sink, on_outbox)
