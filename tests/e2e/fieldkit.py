"""Helpers of the phone-first tests: speaking a language, pressing, and checking that
every word the bot said comes from both message catalogues."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from bot.i18n import Lang, load_catalogue
from sandbox.client import ChatMessage, SandboxClient, SandboxUser
from tests.e2e.conftest import System

LANGS = ("vi", "en")
#: A template must have this much text of its own to say anything about a line.
MIN_LITERAL = 1


@dataclass(frozen=True)
class Template:
    key: str
    pattern: re.Pattern[str]


def _pattern(line: str) -> re.Pattern[str] | None:
    parts: list[str] = []
    literal = ""
    for text, name, _, _ in string.Formatter().parse(line):
        parts.append(re.escape(text))
        literal += text
        if name is not None:
            parts.append("(.*?)")
    if len(literal.replace(" ", "")) < MIN_LITERAL:
        return None
    return re.compile("^" + "".join(parts) + "$", re.DOTALL)


@cache
def templates(lang: Lang) -> tuple[Template, ...]:
    """Every line of every message of `lang`, as a pattern (placeholders match anything)."""
    found: list[Template] = []
    for key, text in load_catalogue(lang).items():
        for line in text.split("\n"):
            pattern = _pattern(line.strip())
            if pattern is not None:
                found.append(Template(key, pattern))
    return tuple(found)


def lines_of(message: ChatMessage) -> list[str]:
    """What a person reads in a message: its lines, its buttons, its keyboard keys."""
    lines = [line.strip() for line in message.body.split("\n") if line.strip()]
    lines += [b.text for b in message.buttons]
    for row in message.reply_keyboard or ():
        lines += list(row)
    return lines


def uncatalogued(messages: Iterable[ChatMessage], langs: Iterable[Lang]) -> list[str]:
    """Lines of the bot's messages that no message of `langs` produces, or whose message
    is missing from the other catalogue."""
    both = set(load_catalogue(Lang.VI)) & set(load_catalogue(Lang.EN))
    wanted = [t for lang in langs for t in templates(lang)]
    bad: list[str] = []
    for message in messages:
        if not message.from_bot:
            continue
        for line in lines_of(message):
            keys = {t.key for t in wanted if t.pattern.match(line)}
            if not keys & both:
                bad.append(line)
    return bad


async def assert_catalogued(
    client: SandboxClient, chats: dict[int, Lang | None], where: str = ""
) -> int:
    """Every line the bot sent in these chats comes from a message in both catalogues
    (and, for a chat given a language, from that language's). Returns the lines checked."""
    checked = 0
    for chat, lang in chats.items():
        messages = await client.messages(chat)
        langs = [lang] if lang is not None else list(Lang)
        bad = uncatalogued(messages, langs)
        assert bad == [], f"{where} chat {chat}: not from the catalogues: {bad}"
        checked += sum(len(lines_of(m)) for m in messages if m.from_bot)
    return checked


def tr(lang: str, key: str, **values: object) -> str:
    text = load_catalogue(Lang(lang))[key]
    return text.format(**values) if values else text


async def speak(s: System, user: SandboxUser, lang: str) -> None:
    """The person chooses the test's language (Vietnamese is already everyone's)."""
    if lang == "vi":
        return
    answer = await s.say(user, f"/lang {lang}", chat=user.id)
    assert answer.body == tr(lang, "lang.set")


async def bot_message(
    s: System,
    chat: int,
    *,
    after: int = 0,
    contains: str | None = None,
    button: str | None = None,
) -> ChatMessage:
    """The first message of the bot after `after` showing `contains` and/or `button`."""

    def fits(m: ChatMessage) -> bool:
        shown = button is None or any(button in b.text for b in m.buttons)
        return shown and (contains is None or contains in m.body)

    return await s.client.wait_for_message(chat, after=after, where=fits)


async def press(s: System, user: SandboxUser, message: ChatMessage, label: str) -> None:
    """Press the button showing `label`; the bot must answer the press."""
    pressed = await s.client.press(
        user, message.chat_id, message.message_id, message.button(label).callback_data or ""
    )
    await s.client.wait_for_answer(pressed)


def last_id(messages: list[ChatMessage]) -> int:
    return max((m.message_id for m in messages), default=0)


def digits_of(line: str) -> str:
    """A line's digits in order, whatever script or separators they were written in."""
    return "".join(str(int(c)) for c in line if c.isdecimal())


def full_numbers(lines: Iterable[str], numbers: Iterable[str]) -> list[str]:
    """The lines that show one of these phone numbers (national form) in full."""
    wanted = list(numbers)
    return [line for line in lines if any(n in digits_of(line) for n in wanted)]
