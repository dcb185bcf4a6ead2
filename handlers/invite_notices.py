"""What the invite rules tell people, written in the transaction that decides it.

`InviteService` (bot/services/invites.py) calls these as it opens, approves or refuses
a code: the lead is asked privately, with «Đồng ý» / «Từ chối» (or, on a channel
without buttons, what to type); the newcomer hears the answer in their private chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.channels.base import Button, Capabilities, Outbound
from bot.domain.events import Origin
from bot.domain.people import Actor, Member
from bot.i18n import Lang, Translator
from bot.services.invites import LINK_CONFIRM_TTL, Invite, InviteKind, InviteStatus, Joiner
from bot.services.ports import UnitOfWork
from handlers.callbacks import InvitePress, LinkPress
from handlers.replies import reply_to, to_chat
from handlers.request import capabilities_of

#: How a channel is named to people ("confirm on Telegram").
CHANNEL_NAMES: dict[str, str] = {"telegram": "Telegram", "zalo": "Zalo"}


def minutes(ttl: timedelta) -> int:
    return int(ttl.total_seconds() // 60)


def who(joiner: Joiner) -> str:
    return f"{joiner.name} (@{joiner.username})" if joiner.username else joiner.name


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


@dataclass(frozen=True)
class Question:
    """How an opened code is answered: its buttons, and the line to type without them."""

    press: type[InvitePress] | type[LinkPress]
    yes: str
    no: str
    typed: str


QUESTIONS: dict[InviteKind, Question] = {
    InviteKind.TEAM: Question(
        InvitePress, "invite.btn.approve", "invite.btn.refuse", "invite.decide_typed"
    ),
    InviteKind.LINK: Question(
        LinkPress, "invite.btn.link_yes", "invite.btn.link_no", "invite.link_typed"
    ),
}


class ChatInviteNotices:
    """The chat messages of `bot.services.invites.InviteNotices`."""

    def __init__(self, tr: Translator, capabilities: Mapping[str, Capabilities]) -> None:
        self.tr = tr
        self.capabilities = capabilities

    async def join_requested(
        self, uow: UnitOfWork, invite: Invite, lead: Member | None, origin: Origin | None
    ) -> None:
        """Ask the lead who made the invite, privately; tell the newcomer to wait."""
        joiner = invite.joiner
        assert joiner is not None
        channel, chat_id, lang = self._private_of(lead, invite.created_by, joiner.channel)
        t = self.tr.t
        role = t(lang, f"role.{invite.role.value}")
        text = t(lang, "invite.request", who=who(joiner), team=invite.team_code or "", role=role)
        await self._ask(uow, channel, chat_id, lang, text, invite)
        if origin is not None:
            mine = self.tr.lang(joiner.lang)
            lead_name = lead.name if lead is not None else "?"
            text = t(mine, "invite.waiting", lead=lead_name, team=invite.team_code or "")
            await uow.outbox.add(reply_to(origin, text))

    async def join_decided(
        self, uow: UnitOfWork, invite: Invite, member: Member | None, origin: Origin | None
    ) -> None:
        """The newcomer hears the answer in their private chat."""
        joiner = invite.joiner
        assert joiner is not None
        t = self.tr.t
        lang = self.tr.lang(member.lang if member else None, joiner.lang)
        if invite.status is InviteStatus.APPROVED and member is not None:
            role = t(lang, f"role.{member.role.value}")
            text = t(lang, "invite.welcome", name=member.name, role=role, team=member.team_code)
        else:
            text = t(lang, "invite.declined", team=invite.team_code or "")
        await uow.outbox.add(to_chat(joiner.channel, joiner.external_id, Outbound(text=text)))

    async def join_blocked(
        self, uow: UnitOfWork, invite: Invite, member: Member, leads: list[Member], by: Actor
    ) -> None:
        """Another team's lead agreed to take one of this team's people: its leads hear it."""
        prefer = invite.joiner.channel if invite.joiner else ""
        for lead in leads:
            channel, chat_id, lang = self._private_of(lead, lead.uid, prefer)
            text = self.tr.t(
                lang,
                "invite.wanted_elsewhere",
                lead=by.name,
                team=invite.team_code or "",
                name=member.name,
                yours=member.team_code or "",
            )
            key = f"invite:{invite.token}:blocked:{lead.uid}"
            await uow.outbox.add(to_chat(channel, chat_id, Outbound(text=text), dedupe_key=key))

    async def link_requested(
        self, uow: UnitOfWork, invite: Invite, member: Member, origin: Origin | None
    ) -> None:
        """Ask the account that made the code, privately; tell the opener to confirm there."""
        joiner = invite.joiner
        assert joiner is not None and invite.created_via is not None
        channel, _, chat_id = invite.created_via.partition(":")
        t = self.tr.t
        lang = self.tr.lang(member.lang)
        here = channel_name(joiner.channel)
        text = t(lang, "invite.link_request", who=who(joiner), channel=here)
        await self._ask(uow, channel, chat_id, lang, text, invite)
        if origin is not None:
            mine = self.tr.lang(joiner.lang)
            there = channel_name(channel)
            text = t(mine, "invite.link_waiting", channel=there, minutes=minutes(LINK_CONFIRM_TTL))
            await uow.outbox.add(reply_to(origin, text))

    async def link_decided(
        self, uow: UnitOfWork, invite: Invite, member: Member, origin: Origin | None
    ) -> None:
        """The opener hears the answer in their private chat on the new channel."""
        joiner = invite.joiner
        assert joiner is not None
        t = self.tr.t
        lang = self.tr.lang(member.lang, joiner.lang)
        if invite.status is InviteStatus.LINKED:
            role = t(lang, f"role.{member.role.value}")
            team = member.team_code or "—"
            text = t(lang, "invite.linked", name=member.name, role=role, team=team)
        else:
            text = t(lang, "invite.link_declined")
        await uow.outbox.add(to_chat(joiner.channel, joiner.external_id, Outbound(text=text)))

    async def _ask(
        self,
        uow: UnitOfWork,
        channel: str,
        chat_id: str,
        lang: Lang,
        text: str,
        invite: Invite,
    ) -> None:
        """The yes-or-no question of an opened code, in a private chat: buttons, or what
        to type where the channel has none."""
        asked = QUESTIONS[invite.kind]
        t, code = self.tr.t, invite.token
        lines = [text]
        if not capabilities_of(self.capabilities, channel).buttons:
            lines.append(t(lang, asked.typed, code=code))
        buttons = (
            Button(t(lang, asked.yes), asked.press(code, True).encode()),
            Button(t(lang, asked.no), asked.press(code, False).encode()),
        )
        message = Outbound(text="\n".join(lines), buttons=(buttons,))
        await uow.outbox.add(to_chat(channel, chat_id, message))

    def _private_of(self, lead: Member | None, uid: str, prefer: str) -> tuple[str, str, Lang]:
        """The lead's private chat (on the newcomer's channel if they have one there)."""
        if lead is not None and lead.identities:
            ident = lead.identity_on(prefer) or lead.identities[0]
            return ident.channel, ident.external_id, self.tr.lang(lead.lang)
        channel, _, external = uid.partition(":")  # an admin who is no member
        return channel, external, self.tr.lang(None)
