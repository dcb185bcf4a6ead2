"""The relay's options, a worker's state for one chat, how its work ends early (bot.relay)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.relay_setbacks import GiveUpRule
from storage.outbox_store import ChatClaim, OutboxRow

log = logging.getLogger("bot.relay")

MAX_BACKOFF = 300.0
#: A chat leased again while its worker's lease had this long left (seconds) was given
#: back by that worker's last record (see `Worker.leased_again`).
RETAKE_MARGIN = 1.0


@dataclass(frozen=True)
class RelayOptions:
    concurrency: int = 32
    lease_seconds: float = 15.0
    base_backoff: float = 1.0
    max_backoff: float = MAX_BACKOFF
    idle_poll: float = 1.0
    batch: int = 50
    give_up: GiveUpRule = field(default_factory=GiveUpRule)


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
    #: Leased here again while on the chat: the claim, with the queue read then.
    retaken: ChatClaim | None = None
    #: The message whose record gave the chat back.
    gave_back: int | None = None
    #: The record under way gives the chat back (`gives_back`).
    giving: bool = False

    def leased_again(self, claim: ChatClaim, now: float, lease_seconds: float) -> None:
        """This relay leased the chat again (a claim, or a commit) while this worker is on it.
        Either its lease lapsed while the database was slow to renew it, and the worker
        goes on; or it gave the chat back with its last record and has not ended yet. Either
        way it must give the chat back again when it ends, unless it goes on (`goes_on`).
        Only a lease taken while ours had not run out (by our own reckoning, which the
        database's never trails) was one given back: that claim is kept for `goes_on`."""
        self.retaken = claim if now + RETAKE_MARGIN < self.lease_deadline else None
        self.lease_deadline = now + lease_seconds
        self.claimed_again = True

    def goes_on(self, batch: int) -> tuple[OutboxRow, ...] | None:
        """After its last record gave the chat back: the chat's queue, if leased here again
        since that record committed; the worker keeps the chat. Besides the lease (see
        `leased_again`), the queue read with it must be whole (shorter than `batch`) and
        lack the message that record sent; else it may have been read before that record,
        and the worker gives the chat back (None)."""
        claim = self.retaken
        if not self.released or claim is None or len(claim.queue) >= batch:
            return None
        if any(row.id == self.gave_back for row in claim.queue):
            return None
        self.retaken = None
        self.released = self.claimed_again = False
        return claim.queue

    def gives_back(self) -> bool:
        """Asked in the transaction of the visit's last record, as late as can be: it gives
        the chat back unless rows came for it since its queue was read (`more`), so a
        commit while the record waited its turn costs no release and claim. Once yes, yes
        (in a retry): the try that said yes may have committed."""
        self.giving = self.giving or not self.more
        return self.giving

    def renewal(self, kept: bool, until: float) -> None:
        """After its lease was renewed: its new deadline; or, `kept` False, the lease is
        lost (another instance may have the chat) unless the chat was given back."""
        if kept:
            self.lease_deadline = until
        elif not self.released:
            self.lost = True
            log.warning("relay: lease on %s lost; another instance has it", self.claim.key)

    def has_started(self, row: OutboxRow) -> bool:
        return self.started is not None and self.started.id == row.id


def startable(row: OutboxRow | None) -> OutboxRow | None:
    """`row`, if its start may be written before its turn: a plain post, not one
    interrupted before (noted as such first) nor an edit (which may write none)."""
    if row is None or row.sending_at is not None or row.card_message is not None:
        return None
    return row
