"""The command menus a channel shows (Telegram's setMyCommands), per scope and language.

In a private chat a worker reports steps and a clerk files cases; in the team's group
people claim, look at lists and manage the team. The steps offered in each scope come
from their rows in `handlers/steps.py`. A command may read differently per scope: in a
group `/invite` is only a team invite (its code goes to the private chat), never a link
code, which is made and shown in the private chat alone. Each list is published for the
default language (the bot's, Vietnamese) and for every supported language code, so a
phone set to English shows English descriptions until the person chooses with /lang.
"""

from __future__ import annotations

from bot.i18n import Lang, Translator
from handlers.parsing import CommandName, MenuScope
from handlers.steps import CHAT_STEPS

PRIVATE = MenuScope.PRIVATE.value
GROUP = MenuScope.GROUP.value


def _names(*commands: CommandName) -> tuple[str, ...]:
    return tuple(command.value for command in commands)


def _steps(scope: MenuScope) -> tuple[CommandName, ...]:
    return tuple(row.command for row in CHAT_STEPS if row.menu is scope)


MENUS: dict[str, tuple[str, ...]] = {
    PRIVATE: _names(
        CommandName.MINE,
        CommandName.FIND,
        CommandName.CASE,
        *_steps(MenuScope.PRIVATE),
        CommandName.NEW,
        CommandName.INVITE,
        CommandName.LANG,
        CommandName.HELP,
    ),
    GROUP: _names(
        *_steps(MenuScope.GROUP),
        CommandName.OPEN,
        CommandName.MINE,
        CommandName.CASE,
        CommandName.OVERDUE,
        CommandName.BOARD,
        CommandName.FIND,
        CommandName.MEMBERS,
        CommandName.INVITE,
        CommandName.REPORT,
        CommandName.HELP,
    ),
}


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
