"""Who wrote and where: the speaker as a member, an admin or a stranger, and the chat.

Every handler gets a `Request` and nothing else of the message's origin: the actor
the service layer checks, the language to answer in, and the `Origin` the answer and
the history point back to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.channels.base import Capabilities, ChatKind, Inbound
from bot.domain.events import Origin
from bot.domain.model import Source
from bot.domain.people import Actor, Identity, Member
from bot.i18n import Lang, Translator
from bot.services.commands import CaseCommand
from bot.services.people import recognise, recognise_remembered
from bot.services.ports import DirectoryMemory, UnitOfWork

CommandT = TypeVar("CommandT", bound=CaseCommand)

#: The history's source of each chat channel, by the name its adapter gives. The sandbox is no
#: channel of its own: it stands in for Telegram or Zalo, and its messages arrive under theirs.
SOURCE_OF_CHANNEL: Mapping[str, Source] = {s.value: s for s in (Source.TELEGRAM, Source.ZALO)}


#: What a channel can show when its adapter did not say (a test feeding the router directly).
DEFAULT_CAPABILITIES = Capabilities()


def capabilities_of(capabilities: Mapping[str, Capabilities], channel: str) -> Capabilities:
    return capabilities.get(channel, DEFAULT_CAPABILITIES)


class UnknownChannel(LookupError):
    """A message under a channel name with no source: an adapter wired in without one."""


def source_of_channel(channel: str) -> Source:
    try:
        return SOURCE_OF_CHANNEL[channel]
    except KeyError:
        raise UnknownChannel(channel) from None


@dataclass(frozen=True)
class Request:
    inbound: Inbound
    actor: Actor
    lang: Lang
    origin: Origin
    source: Source

    @property
    def is_private(self) -> bool:
        return self.inbound.chat_kind is ChatKind.PRIVATE

    @property
    def is_stranger(self) -> bool:
        """Neither a member nor an admin: nobody the bot works for."""
        return self.actor.member is None and not self.actor.is_admin

    def command(self, kind: type[CommandT], ref: str, **values: Any) -> CommandT:
        """A command about case `ref`, by this speaker, from this chat."""
        return kind(actor=self.actor, source=self.source, origin=self.origin, ref=ref, **values)


@dataclass(frozen=True)
class Identified:
    """A request, and the directory version its speaker was recognised at from the
    process's copy (None: read from the database, nothing to check)."""

    request: Request
    assumed_version: int | None = None


class Identify:
    """Turns a message into a Request: looks the speaker up (keeping their @username
    current) and picks the language to answer in.

    A member the process's copy of the directory knows is recognised without a
    transaction (`memory`); that answer is checked by the update's first unit of work
    (bot/services/assumed.py, the dispatcher sets it up)."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        tr: Translator,
        admin_ids: frozenset[str],
        memory: DirectoryMemory | None = None,
    ) -> None:
        self.uow = uow
        self.tr = tr
        self.admin_ids = admin_ids
        self.memory = memory

    async def __call__(self, inbound: Inbound) -> Request:
        """The speaker as the database says, in a transaction of its own."""
        user = inbound.user
        account = Identity(inbound.channel, user.id, user.username)
        return self._request(inbound, await recognise(account, self.uow()))

    async def speaker(self, inbound: Inbound, *, from_copy: bool) -> Identified:
        """From the process's copy when `from_copy` and it knows the speaker (an answer to
        be checked), else from the database."""
        if from_copy and self.memory is not None:
            user = inbound.user
            account = Identity(inbound.channel, user.id, user.username)
            found = recognise_remembered(account, self.memory)
            if found is not None and found.member is not None:
                return Identified(self._request(inbound, found.member), found.version)
        return Identified(await self(inbound))

    def _request(self, inbound: Inbound, member: Member | None) -> Request:
        channel = inbound.channel
        source = source_of_channel(channel)
        user = inbound.user
        uid = user.uid(channel)
        is_admin = uid in self.admin_ids or (member is not None and member.uid in self.admin_ids)
        lang = self.tr.lang(member.lang if member else None, user.lang)
        actor = Actor(
            uid=member.uid if member else uid,
            name=member.name if member else user.name,
            member=member,
            is_admin=is_admin,
            lang=lang.value,
        )
        origin = Origin(
            channel=channel,
            chat_id=inbound.address.chat_id,
            message_id=inbound.message_id,
            lang=lang.value,
            is_private=inbound.chat_kind is ChatKind.PRIVATE,
            via_button=inbound.callback is not None,
        )
        return Request(inbound, actor, lang, origin, source)
