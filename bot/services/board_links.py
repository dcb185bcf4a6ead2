"""One-time links to the lead's board, for whoever cannot open it as a Telegram Mini App.

On Zalo (no Mini Apps) or in a browser, `/board` sends the person a link privately. It
opens one session, once: the page trades the token for a session straight away, and the
token is spent in that same UPDATE, so two tabs (or whoever copies the link later) get
nothing. It also ends after `LINK_TTL` unused. Only the token's SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final, Protocol

from bot.domain.clock import Clock
from bot.services.ports import UnitOfWork

#: A link not opened within this time is dead.
LINK_TTL: Final = timedelta(minutes=15)
#: Longest token accepted: anything longer is no token of ours.
MAX_TOKEN: Final = 128


class BoardLinkRepository(Protocol):
    async def add(self, digest: str, account: str, expires_at: datetime) -> None: ...
    async def spend(self, digest: str, at: datetime) -> str | None:
        """The account of an unspent, unexpired link, spending it; None otherwise."""
        ...


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class BoardLinks:
    def __init__(self, clock: Clock, ttl: timedelta = LINK_TTL) -> None:
        self.clock = clock
        self.ttl = ttl

    async def issue(self, account: str, uow: UnitOfWork) -> str:
        """A new token that opens the board once for `account` (`channel:id`)."""
        token = secrets.token_urlsafe(32)
        async with uow:
            await uow.board_links.add(token_digest(token), account, self.clock.now() + self.ttl)
            await uow.commit()
        return token

    async def redeem(self, token: str, uow: UnitOfWork) -> str | None:
        """The account the link was made for, the first time it is used in time."""
        if not token or len(token) > MAX_TOKEN:
            return None
        async with uow:
            account = await uow.board_links.spend(token_digest(token), self.clock.now())
            await uow.commit()
        return account
