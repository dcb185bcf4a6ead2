"""The command menus a channel shows (Telegram's setMyCommands), per scope and language.

In a private chat a worker reports steps and a clerk files cases; in the team's group
people claim, look at lists and manage the team. Each list is published for the
default language (the bot's, Vietnamese) and for every supported language code, so a
phone set to English shows English descriptions until the person chooses with /lang.
"""

from __future__ import annotations

from bot.i18n import Lang, Translator

PRIVATE = "private"
GROUP = "group"

MENUS: dict[str, tuple[str, ...]] = {
    PRIVATE: (
        "mine",
        "case",
        "survey",
        "estimate",
        "agree",
        "install",
        "inspect",
        "resolve",
        "new",
        "invite",
        "lang",
        "help",
    ),
    GROUP: ("claim", "open", "mine", "case", "overdue", "members", "invite", "report", "help"),
}


def command_menus(tr: Translator) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(scope, language code) -> [(command, description)]; "" is the default language."""
    menus: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for scope, names in MENUS.items():
        menus[(scope, "")] = [(n, tr.t(tr.default, f"menu.{n}")) for n in names]
        for lang in Lang:
            menus[(scope, lang.value)] = [(n, tr.t(lang, f"menu.{n}")) for n in names]
    return menus
