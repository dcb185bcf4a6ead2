"""What the service layer needs from storage, as Protocols, so tests can fake it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from bot.domain.events import Event
from bot.domain.model import Action, Case, CaseKind, CaseStatus, HistoryEntry
from bot.domain.people import ChatBinding, Identity, Member, Team

if TYPE_CHECKING:
    from bot.reports.timeline import CaseRecord
    from bot.services.board_links import BoardLinkRepository
    from bot.services.evidence import EvidenceRepository
    from bot.services.forms import FormRepository
    from bot.services.invites import InviteRepository


class ConcurrentUpdate(Exception):
    """Another transaction changed the case first; the user is asked to try again."""


class DuplicateExternalRef(Exception):
    """A concurrent intake stored the same external_ref first."""


@dataclass(frozen=True)
class CaseSearch:
    """What `/find` typed, read once (`bot.services.finding.read_search`): a case matches
    when every folded word is part of its search key (ref, dossier number, customer's
    name, see `bot.domain.folding.search_key`), or when its customer's number is `phone`."""

    words: tuple[str, ...] = ()
    #: A whole phone number in national form (0912345678), however it was typed.
    phone: str | None = None
    #: The ref, when the text was one (PL-17): that case comes first.
    ref: str | None = None


@dataclass(frozen=True)
class CaseQuery:
    team_code: str | None = None
    statuses: tuple[CaseStatus, ...] = ()
    assignee: str | None = None
    #: Cases whose next reminder check has come (the reminder pass's own queue).
    overdue_at: datetime | None = None
    #: Active cases with a due time at or before this instant; callers apply
    #: `bot.sla.overdue.late_since` for the rest of the rule (holds, completion).
    late_at: datetime | None = None
    active_only: bool = False
    #: Only cases of these teams (what a scoped intake token may see); None: any team.
    team_codes: frozenset[str] | None = None
    limit: int = 200
    #: Rows to skip first (a list's later pages); the order is by receipt, then id.
    offset: int = 0
    #: Cases `/find` matches (see CaseSearch).
    search: CaseSearch | None = None
    #: Cases this member filed (the actor of their intake): a clerk's `/mine`.
    filed_by: str | None = None
    #: Newest received first (a search, a clerk's list) instead of oldest first.
    newest_first: bool = False


@dataclass(frozen=True)
class StepEvent:
    """A step reached (or any recorded action), with what the digest counts it by."""

    case_id: int
    team_code: str
    kind: CaseKind
    action: Action


@dataclass(frozen=True)
class CaseTally:
    """How many cases one team has in one status."""

    team_code: str
    status: CaseStatus
    count: int


class CaseRepository(Protocol):
    async def add(self, case: Case) -> Case: ...
    async def get(self, case_id: int) -> Case | None: ...
    async def get_by_ref(self, ref: str) -> Case | None: ...
    async def get_by_external_ref(self, integration: str, external_ref: str) -> Case | None: ...
    async def save(self, case: Case) -> None: ...
    async def claim(self, case_id: int, member_uid: str, at: datetime) -> bool: ...
    async def append_history(self, case_id: int, entry: HistoryEntry) -> None: ...
    async def history(self, case_id: int) -> list[HistoryEntry]: ...
    async def next_ref(self, team_code: str) -> str: ...
    async def find(self, query: CaseQuery) -> list[Case]: ...
    async def count(self, query: CaseQuery) -> int:
        """How many cases `find` would give without its limit and offset."""
        ...

    async def case_for_message(
        self, channel: str, chat_id: str, message_id: str
    ) -> Case | None: ...

    async def stale_claims(self, cutoff: datetime, limit: int) -> list[int]:
        """Ids of claimed cases without progress since `cutoff` (wall time), oldest first.

        Wall time is at least the working time, so this is a safe pre-filter: the caller
        counts the working time itself.
        """
        ...

    async def step_events(
        self, start: datetime, end: datetime, actions: frozenset[Action]
    ) -> list[StepEvent]:
        """The history's `actions` recorded in ``[start, end)``, any order."""
        ...

    async def tally(self) -> list[CaseTally]:
        """Cases by team and status (none: no row), ordered by team, then status."""
        ...


class TeamRepository(Protocol):
    async def get(self, code: str) -> Team | None: ...
    async def add(self, team: Team) -> None: ...
    async def bind_chat(self, code: str, chat: ChatBinding) -> None: ...
    async def unbind_chat(self, code: str, chat: ChatBinding) -> bool:
        """Take the chat off the team; False when it was not the team's."""
        ...

    async def by_chat(self, channel: str, chat_id: str) -> Team | None: ...
    async def all(self) -> list[Team]: ...


class MemberRepository(Protocol):
    async def get(self, uid: str) -> Member | None: ...
    async def by_identity(self, channel: str, external_id: str) -> Member | None: ...
    async def by_username(self, username: str) -> Member | None:
        """The active member holding @username; raises AmbiguousMember when several do."""
        ...

    async def release_username(self, identity: Identity) -> int:
        """Clear the identity's username from any other identity on its channel."""
        ...

    async def add(self, member: Member) -> None: ...
    async def enrol(self, member: Member) -> bool:
        """Make someone who is no active member one; False, changing nothing, if they
        are one already (another lead was quicker)."""
        ...

    async def set_lang(self, uid: str, lang: str) -> None: ...
    async def update_identity(self, uid: str, identity: Identity) -> None: ...
    async def in_team(self, team_code: str) -> list[Member]: ...


@dataclass(frozen=True)
class Remembered:
    """What this process's copy of the directory holds for an account: its member (None:
    nobody's), as of directory `version`."""

    member: Member | None
    version: int


@dataclass(frozen=True)
class RememberedChat:
    """What this process's copy of the directory holds for a chat: the team it shows
    (None: none), as of directory `version`."""

    team_code: str | None
    version: int


class DirectoryMemory(Protocol):
    """The process's copy of the directory, asked without a transaction. Its answers hold
    only at their version: whoever acts on one has it checked (bot/services/assumed.py)."""

    def account(self, channel: str, external_id: str) -> Remembered | None:
        """The copy's member behind an account; None when the copy has not read it."""
        ...

    def username_sole(self, identity: Identity, version: int) -> bool:
        """Whether nobody else on the channel held the identity's @username at `version`,
        as the copy knows (False: it does not know)."""
        ...

    def chat_team(self, channel: str, chat_id: str) -> RememberedChat | None:
        """The team the chat shows as the copy holds it; None when the copy has not read it."""
        ...


@dataclass(frozen=True)
class OutboxItem:
    """One message or card edit waiting to be delivered, in a channel-neutral form."""

    channel: str
    chat_id: str
    payload: dict[str, Any]
    card_key: str | None = None
    dedupe_key: str | None = None
    case_id: int | None = None


class Outbox(Protocol):
    async def add(self, item: OutboxItem) -> bool:
        """Queue `item`; False, queueing nothing, when its dedupe key was queued before
        (by anyone, ever: rows are kept)."""
        ...

    async def queued(self, dedupe_keys: Iterable[str]) -> set[str]:
        """Which of `dedupe_keys` were queued before: the check that spares a pass its work."""
        ...

    async def waiting(self, channel: str, chat_id: str) -> int:
        """How many messages wait to be delivered to the chat."""
        ...

    async def drop_waiting(self, channel: str, chat_id: str, reason: str) -> int:
        """Never deliver the messages waiting for the chat (kept, marked, with `reason`);
        how many they were."""
        ...


class ReportReads(Protocol):
    """What the KPI report reads: whole periods at once, never case by case."""

    async def case_records(
        self, since: datetime, until: datetime, team: str | None
    ) -> list[CaseRecord]:
        """Every case the period ``[since, until)`` can count, with its measured events."""
        ...

    async def team_names(self) -> dict[str, str]: ...
    async def member_names(self) -> dict[str, tuple[str, str | None]]:
        """uid → (name, team) of every member, active or not: past work keeps its author."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Events collected from cases are turned into outbox rows at commit."""

    @property
    def cases(self) -> CaseRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def members(self) -> MemberRepository: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def evidence(self) -> EvidenceRepository: ...
    @property
    def forms(self) -> FormRepository: ...
    @property
    def invites(self) -> InviteRepository: ...
    @property
    def reports(self) -> ReportReads: ...
    @property
    def board_links(self) -> BoardLinkRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    def publish(self, event: Event) -> None: ...
    async def ping(self) -> None:
        """One round trip to the store (the health check); raises when it does not answer."""
        ...


class EventSink(Protocol):
    """Called inside the transaction at commit: writes what the events mean for chats."""

    async def __call__(self, events: Sequence[Event], uow: UnitOfWork) -> None: ...
