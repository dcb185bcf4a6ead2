"""Onboarding without ids: `/invite`, `/start CODE`, the lead's «Đồng ý» and `/remove`.

A lead types `/invite worker`; the bot answers with a one-time Telegram deep link
(`t.me/<bot>?start=CODE`) and the plain `/start CODE` (Zalo has no deep links). The
answer goes to the lead's private chat, also when typed in the group: a group is no
place for a code. The person who opens it is not a member yet: the lead who made the
invite gets a private message with «Đồng ý» / «Từ chối» (or, on a channel without
buttons, what to type).

`/invite link` is a member's own code, made and shown only in the private chat. Opened
on their other channel (`/start CODE`), it asks the account that made it, privately,
"was it you?"; only that account's «Đúng, là tôi» (or `/invite ok CODE`) attaches the
new account to the same member, with the same name, role and team.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.channels.base import Button, Capabilities, HandleResult, Outbound
from bot.domain.events import Origin
from bot.domain.model import Role
from bot.domain.people import Actor, Identity, Member
from bot.i18n import Lang, Translator
from bot.services.invites import (
    LINK_CONFIRM_TTL,
    LINK_TTL,
    Invite,
    InviteInvalid,
    InviteKind,
    InviteProblem,
    InviteService,
    InviteStatus,
    Joiner,
    normalize_code,
)
from bot.services.ports import OutboxItem, UnitOfWork
from handlers.callbacks import InvitePress, LinkPress
from handlers.parsing import ParsedCommand

if TYPE_CHECKING:
    from handlers.dispatcher import Request

#: How a person opens a code in one tap, where the channel has deep links.
DEEP_LINKS: dict[str, str] = {"telegram": "https://t.me/{bot}?start={code}"}
ROLES = {r.value: r for r in Role}
DEFAULT_CAPABILITIES = Capabilities(buttons=True, edits=True, max_text=4096)
#: How a channel is named to people ("confirm on Telegram").
CHANNEL_NAMES: dict[str, str] = {"telegram": "Telegram", "zalo": "Zalo"}
#: `/invite ok CODE` and `/invite no CODE`: a typed yes or no to an opened code.
ANSWERS = {"ok": True, "no": False}


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


class InviteUsage(Exception):
    """`/invite` typed without a known word after it."""


class LinkPrivateOnly(Exception):
    """`/invite link` typed in a group: a link code is shown in the private chat only."""


def _minutes(ttl: timedelta) -> int:
    return int(ttl.total_seconds() // 60)


def _who(joiner: Joiner) -> str:
    return f"{joiner.name} (@{joiner.username})" if joiner.username else joiner.name


def _account(req: Request) -> Identity:
    """The channel account that sent this: what a link code is made by and confirmed by."""
    user = req.inbound.user
    return Identity(req.inbound.channel, user.id, user.username)


class Onboarding:
    """Invites and removals as chat messages; the rules are in InviteService."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        tr: Translator,
        bot_usernames: Mapping[str, str],
        capabilities: Mapping[str, Capabilities] | None = None,
    ) -> None:
        self.uow = uow
        self.tr = tr
        self.bot_usernames = bot_usernames
        self.capabilities: Mapping[str, Capabilities] = capabilities or {}
        self.service: InviteService | None = None

    def bind(self, service: InviteService) -> None:
        self.service = service

    def _service(self) -> InviteService:
        assert self.service is not None, "Onboarding.bind(service) first"
        return self.service

    # ------------------------------------------------------------ commands

    async def invite(
        self,
        req: Request,
        parsed: ParsedCommand,
        team_of_chat: Callable[[Request], Awaitable[str]],
    ) -> None:
        word = (parsed.arg(0) or "").lower()
        if word in ROLES:
            team = await team_of_chat(req)
            invite = await self._service().create(req.actor, team, ROLES[word], self.uow())
            text = self._invite_text(req.lang, invite)
            if req.is_private:
                await self._say(req, text)
            else:
                await self._say_privately(req, text, f"/invite {word}")
        elif word == "link":
            if not req.is_private:
                raise LinkPrivateOnly()
            invite = await self._service().create_link(req.actor, _account(req), self.uow())
            await self._say(req, self._link_text(req.lang, invite))
        elif word in ANSWERS:
            code = normalize_code(parsed.arg(1) or "")
            if code is None:
                raise InviteUsage()
            invite, member = await self._service().answer(
                req.actor, _account(req), code, ANSWERS[word], req.origin, self.uow()
            )
            await self._say(req, self._answered_text(req.lang, invite, member))
        else:
            raise InviteUsage()

    async def start(self, req: Request, code_text: str) -> None:
        """`/start CODE`: a deep link opened, or the code typed (Zalo)."""
        code = normalize_code(code_text)
        if code is None:
            raise InviteInvalid(InviteProblem.UNKNOWN)
        user = req.inbound.user
        joiner = Joiner(req.inbound.channel, user.id, user.name, user.username, user.lang)
        await self._service().open(code, joiner, req.origin, self.uow())

    async def press(self, req: Request, press: InvitePress | LinkPress) -> HandleResult:
        """«Đồng ý» on a join request, or «Đúng, là tôi» on an opened link code."""
        kind = InviteKind.LINK if isinstance(press, LinkPress) else InviteKind.TEAM
        invite, member = await self._service().answer(
            req.actor, _account(req), press.code, press.approve, req.origin, self.uow(), kind
        )
        return HandleResult(toast=self._answered_text(req.lang, invite, member))

    async def remove(self, req: Request, team: str, who: str) -> None:
        member, cases = await self._service().remove(req.actor, team, who, self.uow())
        text = self.tr.t(req.lang, "member.removed", name=member.name, team=team)
        if cases:
            refs = ", ".join(x.ref for x in cases[:10])
            text += "\n" + self.tr.t(req.lang, "member.removed_cases", count=len(cases), refs=refs)
        await self._say(req, text)

    # ------------------------------------------------------------ texts

    def _links(self, lang: Lang, code: str) -> list[str]:
        lines: list[str] = []
        for channel, pattern in DEEP_LINKS.items():
            bot = self.bot_usernames.get(channel)
            if bot:
                link = pattern.format(bot=bot, code=code)
                lines.append(self.tr.t(lang, "invite.deep_link", link=link))
        lines.append(self.tr.t(lang, "invite.typed", code=code))
        return lines

    def _invite_text(self, lang: Lang, invite: Invite) -> str:
        t = self.tr.t
        role = t(lang, f"role.{invite.role.value}")
        until = self.tr.when(invite.expires_at)
        head = t(lang, "invite.created", team=invite.team_code or "", role=role, until=until)
        return "\n".join([head, *self._links(lang, invite.token), t(lang, "invite.how")])

    def _link_text(self, lang: Lang, invite: Invite) -> str:
        t = self.tr.t
        head = t(lang, "invite.link_created", until=self.tr.when(invite.expires_at))
        how = t(lang, "invite.link_how", minutes=_minutes(LINK_TTL))
        return "\n".join([head, *self._links(lang, invite.token), how])

    def _answered_text(self, lang: Lang, invite: Invite, member: Member | None) -> str:
        """What the person who said yes or no reads back."""
        t = self.tr.t
        joiner = invite.joiner
        if invite.kind is InviteKind.LINK:
            if invite.status is InviteStatus.LINKED and joiner is not None:
                channel = CHANNEL_NAMES.get(joiner.channel, joiner.channel)
                return t(lang, "invite.link_confirmed", who=_who(joiner), channel=channel)
            return t(lang, "invite.link_refused")
        if invite.status is InviteStatus.APPROVED and member is not None:
            return t(lang, "invite.approved", name=member.name, team=invite.team_code)
        return t(lang, "invite.refused", name=joiner.name if joiner else "?")

    # ------------------------------------------------------------ InviteNotices

    async def join_requested(
        self, uow: UnitOfWork, invite: Invite, lead: Member | None, origin: Origin | None
    ) -> None:
        """Ask the lead who made the invite, privately; tell the newcomer to wait."""
        joiner = invite.joiner
        assert joiner is not None
        channel, chat_id, lang = self._private_of(lead, invite.created_by, joiner.channel)
        t = self.tr.t
        role = t(lang, f"role.{invite.role.value}")
        text = t(lang, "invite.request", who=_who(joiner), team=invite.team_code or "", role=role)
        await self._ask(uow, channel, chat_id, lang, text, invite)
        if origin is not None:
            mine = self.tr.lang(joiner.lang)
            lead_name = lead.name if lead is not None else "?"
            text = t(mine, "invite.waiting", lead=lead_name, team=invite.team_code or "")
            await self._reply(uow, origin, text)

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
        message = Outbound(text=text)
        await uow.outbox.add(OutboxItem(joiner.channel, joiner.external_id, message.to_json()))

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
            await uow.outbox.add(
                OutboxItem(
                    channel,
                    chat_id,
                    Outbound(text=text).to_json(),
                    dedupe_key=f"invite:{invite.token}:blocked:{lead.uid}",
                )
            )

    async def link_requested(
        self, uow: UnitOfWork, invite: Invite, member: Member, origin: Origin | None
    ) -> None:
        """Ask the account that made the code, privately; tell the opener to confirm there."""
        joiner = invite.joiner
        assert joiner is not None and invite.created_via is not None
        channel, _, chat_id = invite.created_via.partition(":")
        t = self.tr.t
        lang = self.tr.lang(member.lang)
        here = CHANNEL_NAMES.get(joiner.channel, joiner.channel)
        text = t(lang, "invite.link_request", who=_who(joiner), channel=here)
        await self._ask(uow, channel, chat_id, lang, text, invite)
        if origin is not None:
            mine = self.tr.lang(joiner.lang)
            there = CHANNEL_NAMES.get(channel, channel)
            minutes = _minutes(LINK_CONFIRM_TTL)
            await self._reply(
                uow, origin, t(mine, "invite.link_waiting", channel=there, minutes=minutes)
            )

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
        message = Outbound(text=text)
        await uow.outbox.add(OutboxItem(joiner.channel, joiner.external_id, message.to_json()))

    # ------------------------------------------------------------ helpers

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
        if not self.capabilities.get(channel, DEFAULT_CAPABILITIES).buttons:
            lines.append(t(lang, asked.typed, code=code))
        buttons = (
            Button(t(lang, asked.yes), asked.press(code, True).encode()),
            Button(t(lang, asked.no), asked.press(code, False).encode()),
        )
        message = Outbound(text="\n".join(lines), buttons=(buttons,))
        await uow.outbox.add(OutboxItem(channel, chat_id, message.to_json()))

    def _private_of(self, lead: Member | None, uid: str, prefer: str) -> tuple[str, str, Lang]:
        """The lead's private chat (on the newcomer's channel if they have one there)."""
        if lead is not None and lead.identities:
            ident = lead.identity_on(prefer) or lead.identities[0]
            return ident.channel, ident.external_id, self.tr.lang(lead.lang)
        channel, _, external = uid.partition(":")  # an admin who is no member
        return channel, external, self.tr.lang(None)

    @staticmethod
    async def _reply(uow: UnitOfWork, origin: Origin, text: str) -> None:
        message = Outbound(text=text, reply_to=origin.message_id)
        await uow.outbox.add(OutboxItem(origin.channel, origin.chat_id, message.to_json()))

    async def _say(self, req: Request, text: str) -> None:
        async with self.uow() as uow:
            await self._reply(uow, req.origin, text)
            await uow.commit()

    async def _say_privately(self, req: Request, text: str, command: str) -> None:
        """`text` to the sender's private chat; the group only hears that it went there."""
        private = Outbound(text=text)
        sent = self.tr.t(req.lang, "invite.sent_privately", command=command)
        async with self.uow() as uow:
            channel = req.inbound.channel
            await uow.outbox.add(OutboxItem(channel, req.inbound.user.id, private.to_json()))
            await self._reply(uow, req.origin, sent)
            await uow.commit()
