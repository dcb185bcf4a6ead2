"""Attaching evidence outside a step: a photo or a location sent as a reply to a case.

Evidence sent *with* a step (a form, or a step command in a photo's caption) goes
through `CaseService` with the step, in its transaction; this is the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bot.domain import errors
from bot.domain.clock import Clock
from bot.domain.evidence import Evidence, NewEvidence
from bot.domain.model import Action, Case, Source
from bot.domain.people import Actor
from bot.services.commands import CaseCommand
from bot.services.finding import visible_case
from bot.services.permissions import authorize
from bot.services.ports import UnitOfWork


class EvidenceRepository(Protocol):
    async def add(
        self, case_id: int, item: NewEvidence, actor: str, at: datetime, source: Source
    ) -> int: ...
    async def for_case(self, case_id: int) -> list[Evidence]: ...
    async def get(self, case_id: int, evidence_id: int) -> Evidence | None: ...
    async def has_photo(self, case_id: int) -> bool: ...
    async def last_locations(self, case_ids: Sequence[int]) -> dict[int, Evidence]:
        """Each of the cases' latest location with coordinates (none: no entry)."""
        ...


#: Fetch a file a person sent: (channel, the platform's file id, byte limit) -> bytes.
Download = Callable[[str, str, int], Awaitable[bytes]]


class MediaError(Exception):
    """A file that is not kept: too big, not an image, or a path outside MEDIA_DIR."""


class TooBig(MediaError):
    pass


class NotAnImage(MediaError):
    pass


class MediaStore(Protocol):
    """Photo files under MEDIA_DIR; paths handed out are relative to it."""

    max_bytes: int

    def resolve(self, relative: str) -> Path: ...
    async def save_pending(self, form_id: str, data: bytes) -> tuple[str, str]: ...
    async def save_final(self, data: bytes, at: datetime) -> tuple[str, str]: ...
    async def promote(self, relative: str, at: datetime) -> str: ...
    async def demote(self, relative: str, form_id: str) -> str: ...
    async def remove(self, relative: str) -> None: ...
    async def drop_pending(self, form_id: str) -> None: ...


@dataclass(frozen=True)
class AttachEvidence(CaseCommand):
    items: tuple[NewEvidence, ...] = ()


class EvidenceService:
    """Who may attach (the assignee or a lead) and to what (an active case)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def attach(self, cmd: AttachEvidence, uow: UnitOfWork) -> Case:
        now = self.clock.now()
        async with uow:
            case = await uow.cases.get_by_ref(cmd.ref)
            if case is None or case.id is None:
                raise errors.CaseNotFound(cmd.ref)
            try:
                authorize(cmd.actor, Action.EVIDENCE, case)
            except errors.NotAssignee as e:
                owner = await uow.members.get(case.assignee) if case.assignee else None
                raise errors.NotAssignee(e.ref, e.owner, owner.name if owner else None) from None
            case.require_active()
            for item in cmd.items:
                await uow.evidence.add(case.id, item, cmd.actor.uid, now, cmd.source)
            await uow.commit()
        return case

    async def of_case(self, ref: str, actor: Actor, uow: UnitOfWork) -> tuple[Case, list[Evidence]]:
        async with uow:
            case = await visible_case(uow, actor, ref)
            assert case.id is not None
            return case, await uow.evidence.for_case(case.id)
