"""Teams and the people in them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.folding import fold
from bot.domain.model import Role

#: What a team code may look like: it starts every case ref (`PL-17`), so a letter first,
#: then letters and digits, at most 16 in all.
TEAM_CODE_PATTERN = r"[A-Za-z][A-Za-z0-9]{0,15}"
_TEAM_CODE = re.compile(TEAM_CODE_PATTERN)


def is_team_code(text: str) -> bool:
    return _TEAM_CODE.fullmatch(text) is not None


#: The commonest Vietnamese family names, folded (nine in ten people carry one of them).
FAMILY_NAMES = frozenset(
    [
        "nguyen",
        "tran",
        "le",
        "pham",
        "hoang",
        "huynh",
        "phan",
        "vu",
        "vo",
        "dang",
        "bui",
        "do",
        "ho",
        "ngo",
        "duong",
        "ly",
        "dinh",
        "truong",
        "lam",
        "mai",
        "trinh",
        "doan",
        "cao",
        "luu",
        "ha",
        "ta",
        "chu",
        "kieu",
        "quach",
        "ton",
        "thai",
        "lai",
        "luong",
        "to",
        "trieu",
        "la",
        "vuong",
        "tang",
        "phung",
        "dao",
        "hua",
        "giang",
        "tieu",
        "khuc",
        "thach",
        "mac",
    ]
)


def person_name(first: str, last: str | None, lang: str | None = None) -> str:
    """A person's name as a Vietnamese team says it: "Nguyễn Văn Tâm", family name first.

    Telegram keeps a first and a last name and joins them as "first last", so someone who
    typed "Tâm" and "Nguyễn Văn" reads "Tâm Nguyễn Văn". The last name goes first when the
    account speaks Vietnamese or the last name starts with a Vietnamese family name.
    """
    first, last = first.strip(), (last or "").strip()
    if not last:
        return first
    if not first:
        return last
    family = fold(last).split()[0]
    vietnamese = (lang or "").lower().startswith("vi") or family in FAMILY_NAMES
    return f"{last} {first}" if vietnamese else f"{first} {last}"


@dataclass(frozen=True, order=True)
class ChatAddress:
    """A chat on one channel: where a message came from, the group a team is bound to, the
    queue the relay delivers in order. One type, so each is the other without copying."""

    channel: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id}"


#: A group chat on one channel that shows a team's cases.
ChatBinding = ChatAddress


def account_uid(channel: str, external_id: str) -> str:
    """A member's uid, as `ADMIN_IDS` and the CLI write it: `telegram:123`."""
    return f"{channel}:{external_id}"


@dataclass(frozen=True)
class Team:
    code: str
    name: str
    chats: tuple[ChatBinding, ...] = ()
    lang: str | None = None


@dataclass(frozen=True)
class Identity:
    channel: str
    external_id: str
    username: str | None = None

    @property
    def uid(self) -> str:
        return account_uid(self.channel, self.external_id)


@dataclass(frozen=True)
class Member:
    uid: str
    name: str
    role: Role
    team_code: str | None
    lang: str | None = None
    identities: tuple[Identity, ...] = ()
    active: bool = True

    def identity_on(self, channel: str) -> Identity | None:
        return next((i for i in self.identities if i.channel == channel), None)

    @property
    def mention(self) -> str:
        """How to name the person in a group: @username where one is known."""
        for ident in self.identities:
            if ident.username:
                return f"@{ident.username}"
        return self.name


@dataclass(frozen=True)
class Actor:
    """Who is acting: a registered member, an admin, or a system (API token, CLI, scheduler)."""

    uid: str
    name: str
    member: Member | None = None
    is_admin: bool = False
    is_system: bool = False
    lang: str | None = None
    extra_roles: frozenset[Role] = field(default_factory=frozenset)
    #: The teams a system actor is limited to (an intake token scoped with
    #: `name:SECRET:PL+LN`); None: every team.
    teams: frozenset[str] | None = None

    def reaches(self, team_code: str) -> bool:
        """Within the actor's teams: always, unless it is a system actor scoped to others."""
        return self.teams is None or team_code in self.teams

    def has_role(self, *roles: Role) -> bool:
        return self.member is not None and self.member.role in roles

    def in_team(self, team_code: str) -> bool:
        return self.member is not None and self.member.team_code == team_code

    def is_lead_of(self, team_code: str) -> bool:
        return (
            self.is_admin
            or self.is_system
            or (self.in_team(team_code) and self.has_role(Role.LEAD))
        )
