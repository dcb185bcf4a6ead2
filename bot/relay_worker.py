"""A relay worker's state for one chat, and how its work ends early (bot.relay)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from storage.outbox_store import ChatClaim, OutboxRow


class Halted(Exception):
    """The worker must stop: shutting down, or its lease on the chat is gone."""


class Deferred(Exception):
    """The chat cannot send again before `until` (epoch seconds), past the flush."""

    def __init__(self, until: float) -> None:
        super().__init__(until)
        self.until = until


@dataclass
class Worker:
    claim: ChatClaim
    lease_deadline: float
    task: asyncio.Task[None] | None = None
    lost: bool = False
    #: The chat was given back with the record of the visit's last message.
    released: bool = False
    #: Claimed here again while this worker had it: it must give it back at the end.
    claimed_again: bool = False
    #: `Relay._claims` when this worker started (see `Relay._work`'s end).
    claims_seen: int = 0
    #: The chat's next send, its start written with the last record and its tokens taken.
    started: OutboxRow | None = None
    #: Rows for the chat were committed since its queue was read (`Relay.wake`): it reads
    #: the queue again before giving the chat back, rather than a claim taking it anew.
    more: bool = False
