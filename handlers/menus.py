"""Who may type which command, and where the channel's menus offer it: one table.

`/help` reads it by the person's role (a worker, a lead, a clerk, an admin; a stranger
only learns how to join), and the command menus (Telegram's setMyCommands) read it by
scope: in a private chat a worker reports steps and a clerk files cases; in the team's
group people claim, look at lists and manage the team. The rules themselves are
bot/services/permissions.py's; this table only says which commands are worth showing
to whom. A command may read differently per scope: in a group `/invite` is only a team
invite (its code goes to the private chat), never a link code, which is made and shown
in the private chat alone. Each menu is published for the default language (the bot's,
Vietnamese) and for every supported language code, so a phone set to English shows
English descriptions until the person chooses with /lang.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.model import Role
from bot.domain.people import Actor
from bot.i18n import Lang, Translator
from handlers.parsing import CommandName, MenuScope
from handlers.steps import BY_COMMAND

PRIVATE = MenuScope.PRIVATE.value
GROUP = MenuScope.GROUP.value


class Audience(StrEnum):
    """Who a command is shown to: a member's role, an admin, or a stranger."""

    WORKER = Role.WORKER.value
    LEAD = Role.LEAD.value
    CLERK = Role.CLERK.value
    ADMIN = "admin"
    STRANGER = "stranger"


W, L, C, A, S = (Audience.WORKER, Audience.LEAD, Audience.CLERK, Audience.ADMIN, Audience.STRANGER)
MEMBERS = frozenset({W, L, C, A})
FIELD = frozenset({W, L, A})  # the case's worker, or a lead (an admin may too)


@dataclass(frozen=True)
class CommandRow:
    command: CommandName
    who: frozenset[Audience]
    #: The /help line it is shown on, with its neighbours of the same topic: that line's
    #: text (a catalogue key). The steps of a case share one line, `help.steps`.
    topic: str
    #: Where the channel's menu offers it, described by `menu.<command>` (empty: never).
    menus: frozenset[MenuScope] = frozenset()

    @property
    def is_step(self) -> bool:
        return self.topic == STEPS


STEPS = "help.steps"
P, G = MenuScope.PRIVATE, MenuScope.GROUP


def _step(command: CommandName, who: frozenset[Audience], topic: str = STEPS) -> CommandRow:
    """A step is offered in the menu where its row in handlers/steps.py says."""
    menu = BY_COMMAND[command].menu
    return CommandRow(command, who, topic, frozenset({menu}) if menu else frozenset())


def _row(
    command: CommandName, who: frozenset[Audience], topic: str, *menus: MenuScope
) -> CommandRow:
    return CommandRow(command, who, topic, frozenset(menus))


LISTS, LEADS, DESK = "help.topic.lists", "help.topic.lead", "help.topic.desk"

#: Every command a person may type, in the order /help and the menus list them. The
#: commands of one topic share the people they are for, so a line's text holds for
#: everyone who sees it.
COMMANDS: tuple[CommandRow, ...] = (
    _step(CommandName.CLAIM, frozenset({W, L}), "menu.claim"),
    _step(CommandName.SURVEY, FIELD),
    _step(CommandName.ESTIMATE, FIELD),
    _step(CommandName.AGREE, FIELD),
    _step(CommandName.INSTALL, FIELD),
    _step(CommandName.INSPECT, FIELD),
    _step(CommandName.RESOLVE, FIELD),
    _step(CommandName.CLOSE, FIELD),
    _row(CommandName.AGREE, frozenset({C}), "help.topic.agree"),  # signed at her desk
    _row(CommandName.RELEASE, FIELD, "help.topic.case"),
    _row(CommandName.HOLD, FIELD, "help.topic.case"),
    _row(CommandName.RESUME, FIELD, "help.topic.case"),
    _row(CommandName.HANDOVER, FIELD, "help.topic.case"),
    _row(CommandName.MINE, MEMBERS, LISTS, P, G),
    _row(CommandName.OPEN, MEMBERS, LISTS, G),
    _row(CommandName.OVERDUE, MEMBERS, LISTS, G),
    _row(CommandName.CASE, MEMBERS, LISTS, P, G),
    _row(CommandName.FIND, MEMBERS, LISTS, P, G),
    _row(CommandName.MEMBERS, MEMBERS, LISTS, G),
    _row(CommandName.BOARD, frozenset({L, A}), LEADS, G),
    _row(CommandName.ASSIGN, frozenset({L, A}), LEADS),
    _row(CommandName.CANCEL, frozenset({L, A}), LEADS),
    _row(CommandName.REPORT, frozenset({L, A}), LEADS, G),
    _row(CommandName.NEW, frozenset({L, C, A}), DESK, P),
    _row(CommandName.RATE, frozenset({L, C, A}), DESK),
    _row(CommandName.INVITE, frozenset({L, A}), "help.topic.team", P, G),
    _row(CommandName.REMOVE, frozenset({L, A}), "help.topic.team"),
    _row(CommandName.UNBINDTEAM, frozenset({L, A}), "help.topic.team"),
    _row(CommandName.INVITE, frozenset({W, C}), "help.topic.link"),
    _row(CommandName.BINDTEAM, frozenset({A}), "help.topic.admin"),
    _row(CommandName.LANG, MEMBERS | {S}, "menu.lang", P),
    _row(CommandName.HELP, MEMBERS | {S}, "menu.help", P, G),
)
#: Not worth a /help line: the person is reading it.
NOT_IN_HELP = frozenset({CommandName.HELP})


def audiences(actor: Actor) -> frozenset[Audience]:
    """What the person is to the bot: their role, admin (both, for an admin who is a
    member), or a stranger."""
    found = {Audience(actor.member.role.value)} if actor.member is not None else set()
    if actor.is_admin:
        found.add(Audience.ADMIN)
    return frozenset(found or {Audience.STRANGER})


def rows_for(actor: Actor) -> tuple[CommandRow, ...]:
    """The commands this person may use, each once (the first row that fits wins)."""
    mine = audiences(actor)
    seen: set[CommandName] = set()
    rows: list[CommandRow] = []
    for row in COMMANDS:
        if row.who & mine and row.command not in seen:
            seen.add(row.command)
            rows.append(row)
    return tuple(rows)


def help_lines(actor: Actor) -> list[tuple[str, tuple[str, ...]]]:
    """(topic, its commands) per /help line for this person, in the table's order."""
    lines: dict[str, list[str]] = {}
    for row in rows_for(actor):
        if row.command not in NOT_IN_HELP:
            lines.setdefault(row.topic, []).append(f"/{row.command.value}")
    return [(topic, tuple(commands)) for topic, commands in lines.items()]


def _menu(scope: MenuScope) -> tuple[str, ...]:
    names: list[str] = []
    for row in COMMANDS:
        if scope in row.menus and row.command.value not in names:
            names.append(row.command.value)
    return tuple(names)


MENUS: dict[str, tuple[str, ...]] = {PRIVATE: _menu(P), GROUP: _menu(G)}


#: Descriptions that differ from `menu.<command>` in one scope.
SCOPED: dict[tuple[str, str], str] = {(GROUP, CommandName.INVITE.value): "menu.invite_team"}


def description_key(scope: str, name: str) -> str:
    return SCOPED.get((scope, name), f"menu.{name}")


def command_menus(tr: Translator) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(scope, language code) -> [(command, description)]; "" is the default language."""
    menus: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for scope, names in MENUS.items():
        for code, lang in (("", tr.default), *((x.value, x) for x in Lang)):
            menus[(scope, code)] = [(n, tr.t(lang, description_key(scope, n))) for n in names]
    return menus
