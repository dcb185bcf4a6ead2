"""What every part of the reminder pass shares: its messages, its dependencies, its chats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.channels.base import Outbound
from bot.domain.model import Case, Role
from bot.domain.people import Member, Team
from bot.i18n import Translator
from bot.services.outbox import to_chat
from bot.services.ports import UnitOfWork
from bot.sla.policy import Policy

#: Who the history names for what the pass does.
SCHEDULER_ACTOR = "scheduler"
DEFAULT_BATCH = 200


class ReminderKind(StrEnum):
    REMIND = "remind"
    ESCALATE = "escalate"
    AUTO_RELEASE = "auto_release"
    DIGEST = "digest"


@dataclass(frozen=True)
class ReminderAction:
    """One message the pass sends (or, in a dry run, would send)."""

    kind: ReminderKind
    #: The case's ref; for a digest, the team's code.
    ref: str
    case_id: int | None
    channel: str
    chat_id: str
    #: Who reads it, for logs and the CLI: a team code or a lead's name; never a phone.
    to: str
    text: str
    dedupe_key: str

    def describe(self) -> str:
        return f"{self.ref} {self.kind.value} -> {self.to} ({self.channel}:{self.chat_id})"


class AppParts(Protocol):
    """What the pass takes from the application: the bootstrap's container has it."""

    @property
    def policy(self) -> Policy: ...
    @property
    def tr(self) -> Translator: ...
    def uow(self) -> UnitOfWork: ...


@dataclass(frozen=True)
class ReminderDeps:
    """What the pass needs, explicitly, so the CLI and the scheduler build it the same way."""

    uow: Callable[[], UnitOfWork]
    policy: Policy
    tr: Translator
    batch: int = DEFAULT_BATCH

    @classmethod
    def of(cls, app: AppParts) -> ReminderDeps:
        return cls(app.uow, app.policy, app.tr)


def team_chats(deps: ReminderDeps, team: Team | None) -> list[tuple[str, str, str]]:
    """(channel, chat id, language) of each chat of the team."""
    if team is None:
        return []
    lang = deps.tr.lang(team.lang).value
    return [(chat.channel, chat.chat_id, lang) for chat in team.chats]


async def leads(
    uow: UnitOfWork, team_code: str, team: Team | None
) -> list[tuple[Member, str, str]]:
    """Each lead's private chat, on the team's own channel where they have one there."""
    preferred = team.chats[0].channel if team and team.chats else None
    out: list[tuple[Member, str, str]] = []
    for member in await uow.members.in_team(team_code):
        if member.role is not Role.LEAD:
            continue
        ident = (member.identity_on(preferred) if preferred else None) or (
            member.identities[0] if member.identities else None
        )
        if ident is not None:
            out.append((member, ident.channel, ident.external_id))
    return out


def case_action(
    kind: ReminderKind,
    case: Case,
    channel: str,
    chat_id: str,
    to: str,
    text: str,
    dedupe_key: str,
) -> ReminderAction:
    return ReminderAction(kind, case.ref, case.id, channel, chat_id, to, text, dedupe_key)


async def post(uow: UnitOfWork, actions: list[ReminderAction]) -> list[ReminderAction]:
    """Queue the messages; those the outbox took (a dedupe key queued before is skipped)."""
    written: list[ReminderAction] = []
    for action in actions:
        message = Outbound(text=action.text)
        item = to_chat(
            action.channel,
            action.chat_id,
            message,
            dedupe_key=action.dedupe_key,
            case_id=action.case_id,
        )
        if await uow.outbox.add(item):
            written.append(action)
    return written
