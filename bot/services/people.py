"""Use cases about people and chats rather than cases: who is writing, which group
shows a team, which language a member reads.

Chats trigger them (`/bindteam`, `/lang`, any message of a member), but the rules are
here, run through the unit of work like every other use case and tested on the
in-memory one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.domain import errors
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.services.permissions import require_admin, require_lead
from bot.services.ports import DirectoryMemory, Remembered, UnitOfWork


@dataclass(frozen=True)
class ChatCommand:
    """Someone changes which group chat shows a team."""

    actor: Actor
    team_code: str
    chat: ChatBinding


class BindChat(ChatCommand):
    """Show a team's cases in a group chat: its cards, answers and digests go there."""


class UnbindChat(ChatCommand):
    """Take a group off a team (a mistaken id, an abandoned group)."""


@dataclass(frozen=True)
class Unbound:
    """The team as it is now, and how many messages for the chat will never be sent."""

    team: Team
    dropped: int


@dataclass(frozen=True)
class TeamRoster:
    """A team with its chats and its active people: what `team list` and the doctor read."""

    team: Team
    people: tuple[Member, ...]


@dataclass(frozen=True)
class SetLanguage:
    member_uid: str
    lang: str


async def bind_chat(cmd: BindChat, uow: UnitOfWork) -> Team:
    """Only an administrator binds: a group bound to a team sees its customers' cases."""
    require_admin(cmd.actor)
    code = cmd.team_code.upper()
    async with uow:
        team = await uow.teams.get(code)
        if team is None:
            raise errors.UnknownTeam(code)
        await uow.teams.bind_chat(code, cmd.chat)
        await uow.commit()
    return team


async def unbind_chat(cmd: UnbindChat, uow: UnitOfWork) -> Unbound:
    """The chat stops showing the team; what still waits for it is never sent.

    Every card and digest of a team goes to each of its chats, so where the team keeps
    another chat the messages waiting for this one have their twins there, and the rest
    answered people in a group that no longer shows the team. The team's only chat is
    kept while messages wait for it: the admin binds the new group first.

    An admin may, and the team's lead (`/unbindteam` in a group bound by mistake).
    """
    code = cmd.team_code.upper()
    require_lead(cmd.actor, code)
    chat = cmd.chat
    async with uow:
        team = await uow.teams.get(code)
        if team is None:
            raise errors.UnknownTeam(code)
        if chat not in team.chats:
            other = await uow.teams.by_chat(chat.channel, chat.chat_id)
            raise errors.ChatNotOfTeam(
                code, chat.channel, chat.chat_id, other.code if other else None
            )
        remaining = tuple(c for c in team.chats if c != chat)
        if not remaining:
            waiting = await uow.outbox.waiting(chat.channel, chat.chat_id)
            if waiting:
                raise errors.LastChatBusy(code, chat.channel, chat.chat_id, waiting)
        await uow.teams.unbind_chat(code, chat)
        dropped = await uow.outbox.drop_waiting(
            chat.channel, chat.chat_id, f"chat unbound from team {code}"
        )
        await uow.commit()
    return Unbound(replace(team, chats=remaining), dropped)


async def team_rosters(uow: UnitOfWork) -> list[TeamRoster]:
    """Every team, by code, with its chats and its people."""
    async with uow:
        teams = await uow.teams.all()
        return [TeamRoster(t, tuple(await uow.members.in_team(t.code))) for t in teams]


async def set_language(cmd: SetLanguage, uow: UnitOfWork) -> None:
    async with uow:
        await uow.members.set_lang(cmd.member_uid, cmd.lang)
        await uow.commit()


async def recognise(account: Identity, uow: UnitOfWork) -> Member | None:
    """The active member behind a channel account (None: a stranger), @username kept current.

    A member's @username is theirs alone from then on: whoever else still holds it
    renamed since, so `/assign @name` finds the person who has the name today. The
    member is returned as found, before the refresh.
    """
    async with uow:
        member = await uow.members.by_identity(account.channel, account.external_id)
        if member is None or not member.active:
            return None  # removed from the team: a stranger again
        known = member.identity_on(account.channel)
        changed = known is not None and known.username != account.username
        if changed:
            await uow.members.update_identity(member.uid, account)
        if await uow.members.release_username(account) or changed:
            await uow.commit()
    return member


def recognise_remembered(account: Identity, memory: DirectoryMemory) -> Remembered | None:
    """The active member behind `account` as the process's copy holds him, when `recognise`
    would read nothing and write nothing else: the account is known, its @username
    unchanged and checked as nobody else's at the copy's version. None: ask the database
    (a stranger too, so that someone added elsewhere counts from his first message).

    The answer holds at its version only: the caller has it checked (bot/services/assumed.py).
    """
    found = memory.account(account.channel, account.external_id)
    if found is None or found.member is None or not found.member.active:
        return None
    known = found.member.identity_on(account.channel)
    if known is None or known != account:
        return None  # another account of his, or a new @username to write
    if account.username and not memory.username_sole(account, found.version):
        return None
    return found


async def actor_of_account(
    account: str, uow: UnitOfWork, admin_ids: frozenset[str], lang: str | None = None
) -> Actor | None:
    """The actor behind a chat account (`telegram:123`) that is not in a chat: the lead's
    board. A member (active), or an admin of ADMIN_IDS; None for anyone else."""
    channel, _, external_id = account.partition(":")
    async with uow:
        member = await uow.members.by_identity(channel, external_id)
    if member is not None and not member.active:
        member = None
    is_admin = account in admin_ids or (member is not None and member.uid in admin_ids)
    if member is None and not is_admin:
        return None
    return Actor(
        uid=member.uid if member else account,
        name=member.name if member else account,
        member=member,
        is_admin=is_admin,
        lang=(member.lang if member else None) or lang,
    )
