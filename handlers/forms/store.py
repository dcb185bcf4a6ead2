"""Where a form keeps its place between two messages: a database row per person and
channel, with a deadline and a version.

The row survives a restart; a form not touched for `FORM_TTL` is dropped with nothing
saved, its pending photos with it. The version lets two messages handled at once
notice each other instead of overwriting each other's answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.domain.clock import Clock
from bot.services.evidence import MediaStore
from bot.services.forms import StoredForm
from bot.services.ports import UnitOfWork
from handlers.forms.machine import FormState

#: A form not touched for this long is dropped, with nothing saved.
FORM_TTL = timedelta(hours=1)


class FormStore:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        media: MediaStore,
        ttl: timedelta = FORM_TTL,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.media = media
        self.ttl = ttl

    @property
    def ttl_minutes(self) -> int:
        return int(self.ttl.total_seconds() // 60)

    def row(self, channel: str, user_id: str, state: FormState, version: int = 0) -> StoredForm:
        """The row keeping `state`, its deadline pushed on from now."""
        expires = self.clock.now() + self.ttl
        return StoredForm(channel, user_id, state.to_json(), expires, version)

    async def live(self, channel: str, user_id: str) -> tuple[StoredForm | None, bool]:
        """The person's live form, and whether an expired one was just dropped (with its
        photos)."""
        async with self.uow() as uow:
            stored = await uow.forms.get(channel, user_id)
            if stored is None:
                return None, False
            if stored.expires_at > self.clock.now():
                return stored, False
            if not await self.take(uow, stored):
                return None, False
            await uow.commit()
        await self.drop_files(stored)
        return None, True

    @staticmethod
    async def take(uow: UnitOfWork, stored: StoredForm) -> bool:
        """Remove the row if no other message moved it meanwhile: confirm or cancel once."""
        return await uow.forms.take(stored.channel, stored.user_id, stored.version)

    async def restore(self, stored: StoredForm, state: FormState) -> None:
        """Put a taken form back (its step was refused as a concurrent update)."""
        async with self.uow() as uow:
            await uow.forms.put(self.row(stored.channel, stored.user_id, state))
            await uow.commit()

    async def sweep(self) -> int:
        """Drop forms past their deadline, and their photos; nothing else changes."""
        async with self.uow() as uow:
            gone = await uow.forms.take_expired(self.clock.now())
            await uow.commit()
        for stored in gone:
            await self.drop_files(stored)
        return len(gone)

    async def drop_files(self, stored: StoredForm) -> None:
        form_id = stored.state.get("id")
        if isinstance(form_id, str) and form_id:
            await self.media.drop_pending(form_id)

    async def drop_paths(self, photos: tuple[dict[str, Any], ...]) -> None:
        for photo in photos:
            await self.media.remove(str(photo["path"]))
