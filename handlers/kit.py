"""What the command handlers share: built once by bootstrap, handed to each of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.i18n import Translator
from bot.services.assumed import Check, assumed
from bot.services.cases import CaseService
from bot.services.ports import UnitOfWork
from handlers.lookup import Lookup
from handlers.render import Renderer
from handlers.replies import Replies


@dataclass(frozen=True)
class CommandKit:
    """The case service, units of work, words, cards, the finding of a case and the
    answering: every handler of a person's message works with these same ones."""

    service: CaseService
    uow: Callable[[], UnitOfWork]
    tr: Translator
    render: Renderer
    lookup: Lookup
    replies: Replies


class OnKit:
    """A handler built on the kit; its parts read as `self.tr`, `self.uow`, …"""

    def __init__(self, kit: CommandKit) -> None:
        self.service = kit.service
        self.uow = kit.uow
        self.tr = kit.tr
        self.render = kit.render
        self.lookup = kit.lookup
        self.replies = kit.replies

    async def speaker_checked(self) -> None:
        """Before changing what a repeat of the update would see (state kept in memory):
        have the speaker, if recognised from the process's copy of the directory, checked
        now by a unit of work of its own (bot/services/assumed.py). Raises DirectoryMoved
        when that answer no longer holds; costs nothing when it was checked already."""
        assumption = assumed()
        if assumption is not None and assumption.check is Check.PENDING:
            async with self.uow():
                pass
