"""Onboarding without ids: `/invite`, `/start CODE`, the lead's «Đồng ý» and `/remove`.

A lead types `/invite worker`; the bot answers with a one-time Telegram deep link
(`t.me/<bot>?start=CODE`) and the plain `/start CODE` (Zalo has no deep links). The
answer goes to the lead's private chat, also when typed in the group: a group is no
place for a code. The person who opens it is not a member yet: the lead who made the
invite gets a private message with «Đồng ý» / «Từ chối» (handlers/invite_notices.py).

`/invite link` is a member's own code, made and shown only in the private chat. Opened
on their other channel (`/start CODE`), it asks the account that made it, privately,
"was it you?"; only that account's «Đúng, là tôi» (or `/invite ok CODE`) attaches the
new account to the same member, with the same name, role and team.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.channels.base import HandleResult, Outbound
from bot.domain.folding import fold
from bot.domain.model import Role
from bot.domain.people import Identity, Member
from bot.i18n import Lang
from bot.services.invites import (
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
from handlers.callbacks import InvitePress, LinkPress
from handlers.invite_notices import channel_name, minutes, who
from handlers.kit import CommandKit
from handlers.parsing import ParsedCommand
from handlers.refusals import InviteUsage, LinkPrivateOnly, Offer
from handlers.replies import reply_to, to_chat
from handlers.request import Request

#: How a person opens a code in one tap, where the channel has deep links.
DEEP_LINKS: dict[str, str] = {"telegram": "https://t.me/{bot}?start={code}"}
#: What may follow `/invite`, in either language; diacritics, spaces and case optional
#: (`/invite nhân viên`, `/invite doi truong`, `/invite worker`).
ROLES: dict[str, Role] = {
    **{r.value: r for r in Role},
    "nhanvien": Role.WORKER,
    "doitruong": Role.LEAD,
    "giaodichvien": Role.CLERK,
}
LINK_WORDS = frozenset({"link", "lienket"})
#: `/invite ok CODE` and `/invite không CODE`: a typed yes or no to an opened code.
ANSWERS = {"ok": True, "co": True, "no": False, "khong": False}


def _word(text: str) -> str:
    """What a person typed, as the tables above spell it: "Nhân viên" -> "nhanvien"."""
    return fold(text).replace(" ", "").replace("_", "")


def _account(req: Request) -> Identity:
    """The channel account that sent this: what a link code is made by and confirmed by."""
    user = req.inbound.user
    return Identity(req.inbound.channel, user.id, user.username)


class Onboarding:
    """Invites and removals as chat messages; the rules are in InviteService."""

    def __init__(
        self, kit: CommandKit, *, service: InviteService, bot_usernames: Mapping[str, str]
    ) -> None:
        """`service` is the invites' own, not the kit's case service."""
        self.service = service
        self.uow = kit.uow
        self.tr = kit.tr
        self.replies = kit.replies
        self.lookup = kit.lookup
        #: Filled by the runner as each channel learns its bot's name (for deep links).
        self.bot_usernames = bot_usernames

    # ------------------------------------------------------------ commands

    async def invite(self, req: Request, parsed: ParsedCommand) -> None:
        word, whole = _word(parsed.arg(0) or ""), _word(parsed.rest)
        role = ROLES.get(whole)
        if role is not None:
            team = await self.lookup.team_of_chat(req)
            invite = await self.service.create(req.actor, team, role, self.uow())
            text = self._invite_text(req.lang, invite)
            if req.is_private:
                await self.replies.say(req, text)
            else:
                await self._say_privately(req, text, f"/invite {parsed.rest.strip()}")
        elif whole in LINK_WORDS:
            if not req.is_private:
                raise LinkPrivateOnly()
            invite = await self.service.create_link(req.actor, _account(req), self.uow())
            await self.replies.say(req, self._link_text(req.lang, invite))
        elif word in ANSWERS:
            code = normalize_code(parsed.arg(1) or "")
            if code is None:
                raise InviteUsage()
            invite, member = await self.service.answer(
                req.actor, _account(req), code, ANSWERS[word], req.origin, self.uow()
            )
            await self.replies.say(req, self._answered_text(req.lang, invite, member))
        else:  # its roles as buttons (and, in private, a link code)
            words = [*ROLES, "link"] if req.is_private else list(ROLES)
            keys = {
                w: f"role.{ROLES[w].value}" if w in ROLES else "pick.invite_link" for w in words
            }
            raise InviteUsage(tuple(Offer(keys[w], f"invite {w}") for w in words))

    async def start(self, req: Request, code_text: str) -> None:
        """`/start CODE`: a deep link opened, or the code typed (Zalo)."""
        code = normalize_code(code_text)
        if code is None:
            raise InviteInvalid(InviteProblem.UNKNOWN)
        user = req.inbound.user
        joiner = Joiner(req.inbound.channel, user.id, user.name, user.username, user.lang)
        await self.service.open(code, joiner, req.origin, self.uow())

    async def press(self, req: Request, press: InvitePress | LinkPress) -> HandleResult:
        """«Đồng ý» on a join request, or «Đúng, là tôi» on an opened link code."""
        kind = InviteKind.LINK if isinstance(press, LinkPress) else InviteKind.TEAM
        invite, member = await self.service.answer(
            req.actor, _account(req), press.code, press.approve, req.origin, self.uow(), kind
        )
        return HandleResult(toast=self._answered_text(req.lang, invite, member))

    async def remove(self, req: Request, team: str, who_text: str) -> Member:
        """Take the person out; the lead is answered, and the person returned to be told."""
        member, cases = await self.service.remove(req.actor, team, who_text, self.uow())
        text = self.tr.t(req.lang, "member.removed", name=member.name, team=team)
        if cases:
            refs = ", ".join(x.ref for x in cases[:10])
            text += "\n" + self.tr.t(req.lang, "member.removed_cases", count=len(cases), refs=refs)
        await self.replies.say(req, text)
        return member

    # ------------------------------------------------------------ texts

    def deep_link(self, channel: str, word: str) -> str | None:
        """The link that opens the bot's private chat with `/start WORD`, where the
        channel has such links and its bot's name is known."""
        pattern = DEEP_LINKS.get(channel)
        bot = self.bot_usernames.get(channel)
        return pattern.format(bot=bot, code=word) if pattern and bot else None

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
        how = t(lang, "invite.link_how", minutes=minutes(LINK_TTL))
        return "\n".join([head, *self._links(lang, invite.token), how])

    def _answered_text(self, lang: Lang, invite: Invite, member: Member | None) -> str:
        """What the person who said yes or no reads back."""
        t = self.tr.t
        joiner = invite.joiner
        if invite.kind is InviteKind.LINK:
            if invite.status is InviteStatus.LINKED and joiner is not None:
                channel = channel_name(joiner.channel)
                return t(lang, "invite.link_confirmed", who=who(joiner), channel=channel)
            return t(lang, "invite.link_refused")
        if invite.status is InviteStatus.APPROVED and member is not None:
            return t(lang, "invite.approved", name=member.name, team=invite.team_code)
        return t(lang, "invite.refused", name=joiner.name if joiner else "?")

    async def _say_privately(self, req: Request, text: str, command: str) -> None:
        """`text` to the sender's private chat; the group only hears that it went there."""
        sent = self.tr.t(req.lang, "invite.sent_privately", command=command)
        await self.replies.send(
            to_chat(req.inbound.channel, req.inbound.user.id, Outbound(text=text)),
            reply_to(req.origin, sent),
        )
