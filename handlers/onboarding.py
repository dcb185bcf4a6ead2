"""Onboarding without ids: `/invite`, `/start CODE`, the lead's «Đồng ý» and `/remove`.

A lead types `/invite worker`; the bot answers with a one-time Telegram deep link
(`t.me/<bot>?start=CODE`) and the plain `/start CODE` (Zalo has no deep links). The
person who opens it is not a member yet: the lead who made the invite gets a private
message with «Đồng ý» / «Từ chối» (or, on a channel without buttons, what to type).

`/invite link` is a member's own code: opened on their other channel (`/start CODE`),
it attaches that account to the same member, with the same name, role and team.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from bot.channels.base import Button, Capabilities, HandleResult, Outbound
from bot.domain.events import Origin
from bot.domain.model import Role
from bot.domain.people import Member
from bot.i18n import Lang, Translator
from bot.services.invites import (
    Invite,
    InviteInvalid,
    InviteProblem,
    InviteService,
    InviteStatus,
    Joiner,
    normalize_code,
)
from bot.services.ports import OutboxItem, UnitOfWork
from handlers.callbacks import InvitePress
from handlers.parsing import ParsedCommand

if TYPE_CHECKING:
    from handlers.dispatcher import Request

#: How a person opens a code in one tap, where the channel has deep links.
DEEP_LINKS: dict[str, str] = {"telegram": "https://t.me/{bot}?start={code}"}
ROLES = {r.value: r for r in Role}
DEFAULT_CAPABILITIES = Capabilities(buttons=True, edits=True, max_text=4096)


class InviteUsage(Exception):
    """`/invite` typed without a known word after it."""


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
            await self._say(req, self._invite_text(req.lang, invite))
        elif word == "link":
            invite = await self._service().create_link(req.actor, self.uow())
            await self._say(req, self._link_text(req.lang, invite))
        elif word in ("ok", "no"):
            code = normalize_code(parsed.arg(1) or "")
            if code is None:
                raise InviteUsage()
            invite, member = await self._service().decide(
                req.actor, code, word == "ok", req.origin, self.uow()
            )
            await self._say(req, self._decided_text(req.lang, invite, member))
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

    async def press(self, req: Request, press: InvitePress) -> HandleResult:
        invite, member = await self._service().decide(
            req.actor, press.code, press.approve, req.origin, self.uow()
        )
        return HandleResult(toast=self._decided_text(req.lang, invite, member))

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
        return "\n".join([head, *self._links(lang, invite.token), t(lang, "invite.link_how")])

    def _decided_text(self, lang: Lang, invite: Invite, member: Member | None) -> str:
        name = invite.joiner.name if invite.joiner else "?"
        if invite.status is InviteStatus.APPROVED and member is not None:
            return self.tr.t(lang, "invite.approved", name=member.name, team=invite.team_code)
        return self.tr.t(lang, "invite.refused", name=name)

    # ------------------------------------------------------------ InviteNotices

    async def join_requested(
        self, uow: UnitOfWork, invite: Invite, lead: Member | None, origin: Origin | None
    ) -> None:
        """Ask the lead who made the invite, privately; tell the newcomer to wait."""
        joiner = invite.joiner
        assert joiner is not None
        channel, chat_id, lang = self._private_of(lead, invite.created_by, joiner.channel)
        t = self.tr.t
        who = f"{joiner.name} (@{joiner.username})" if joiner.username else joiner.name
        role = t(lang, f"role.{invite.role.value}")
        lines = [t(lang, "invite.request", who=who, team=invite.team_code or "", role=role)]
        caps = self.capabilities.get(channel, DEFAULT_CAPABILITIES)
        if not caps.buttons:
            lines.append(t(lang, "invite.decide_typed", code=invite.token))
        buttons = (
            (
                Button(t(lang, "invite.btn.approve"), InvitePress(invite.token, True).encode()),
                Button(t(lang, "invite.btn.refuse"), InvitePress(invite.token, False).encode()),
            ),
        )
        message = Outbound(text="\n".join(lines), buttons=buttons)
        await uow.outbox.add(OutboxItem(channel, chat_id, message.to_json()))
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

    async def linked(
        self, uow: UnitOfWork, invite: Invite, member: Member, origin: Origin | None
    ) -> None:
        if origin is None:
            return
        t = self.tr.t
        lang = self.tr.lang(member.lang, invite.joiner.lang if invite.joiner else None)
        role = t(lang, f"role.{member.role.value}")
        text = t(lang, "invite.linked", name=member.name, role=role, team=member.team_code or "—")
        await self._reply(uow, origin, text)

    # ------------------------------------------------------------ helpers

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
