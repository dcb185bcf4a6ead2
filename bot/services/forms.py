"""Where a guided form in a private chat keeps its place between two messages.

The state is the handler's business (handlers/forms/machine.py); storage only keeps it,
keyed by the person on a channel, with a deadline after which it is dropped, and a
version so two messages handled at once cannot overwrite each other's answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredForm:
    channel: str
    user_id: str
    state: dict[str, Any]
    expires_at: datetime
    version: int = 0


class FormRepository(Protocol):
    async def get(self, channel: str, user_id: str) -> StoredForm | None: ...

    async def put(self, form: StoredForm) -> bool:
        """Insert (version 0) or replace the row still at `form.version`; False if it moved."""
        ...

    async def delete(self, channel: str, user_id: str) -> None: ...

    async def take(self, channel: str, user_id: str, version: int) -> bool:
        """Remove the form if it is still at `version` (confirming or cancelling it once)."""
        ...

    async def take_expired(self, now: datetime, limit: int = 100) -> list[StoredForm]:
        """Remove forms past their deadline and return them (to clean up their files)."""
        ...
