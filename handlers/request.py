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
from bot.domain.people import Actor, Identity
from bot.i18n import Lang, Translator
from bot.services.commands import CaseCommand
from bot.services.people import recognise
from bot.services.ports import UnitOfWork

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


class Identify:
    """Turns a message into a Request: looks the speaker up (keeping their @username
    current) and picks the language to answer in."""

    def __init__(
        self, uow: Callable[[], UnitOfWork], tr: Translator, admin_ids: frozenset[str]
    ) -> None:
        self.uow = uow
        self.tr = tr
        self.admin_ids = admin_ids

    async def __call__(self, inbound: Inbound) -> Request:
        channel = inbound.channel
        source = source_of_channel(channel)
        user = inbound.user
        member = await recognise(Identity(channel, user.id, user.username), self.uow())
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
