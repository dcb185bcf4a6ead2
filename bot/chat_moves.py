"""A group that became a supergroup: the team, its queue and its later posts follow it.

Either signal does it, whichever comes first: the 400 `group chat was upgraded to a
supergroup chat` with `migrate_to_chat_id` (the relay), or Telegram's service messages
`migrate_to_chat_id` / `migrate_from_chat_id` (the channel). The move is recorded and
logged once (storage.chat_moves); `dispatchbot team list` and `doctor` show it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain.clock import Clock
from storage.chat_moves import ChatMoveStore

log = logging.getLogger(__name__)


class ChatMover:
    def __init__(self, store: ChatMoveStore, clock: Clock, wake: Callable[[], None]) -> None:
        self.store = store
        self.clock = clock
        self.wake = wake

    async def __call__(self, channel: str, old: str, new: str) -> None:
        if old == new:
            return
        result = await self.store.move(channel, old, new, self.clock.now())
        if result.first:
            log.warning(
                "%s chat %s became %s (a group upgraded to a supergroup): team %s is bound to"
                " the new id, %d waiting message(s) go there; old cards are posted anew",
                channel,
                old,
                new,
                result.team_code or "(none)",
                result.messages,
            )
        if result.messages:
            self.wake()
