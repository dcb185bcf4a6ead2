"""Turning typed text into a command name and arguments, the same on every channel,
and the words after it into amounts (`1,5 triệu`, `1 500 000`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.amounts import AmountError, amount_readings
from bot.domain.digits import is_digits
from bot.domain.model import Action
from bot.domain.people import TEAM_CODE_PATTERN
from handlers.refusals import BadAmount

MAX_TEXT = 4096


class CommandName(StrEnum):
    """The words people type after the slash. A word that reports a step or acts on a case
    is that action's own word (`bot.domain.model.Action`), so the two cannot drift apart;
    the rest (help, lists, set-up) belong to the chat alone."""

    START = "start"
    HELP = "help"
    CLAIM = Action.CLAIM.value
    SURVEY = Action.SURVEY.value
    ESTIMATE = Action.ESTIMATE.value
    AGREE = Action.AGREE.value
    INSTALL = Action.INSTALL.value
    INSPECT = Action.INSPECT.value
    RESOLVE = Action.RESOLVE.value
    CLOSE = Action.CLOSE.value
    RELEASE = Action.RELEASE.value
    HOLD = Action.HOLD.value
    RESUME = Action.RESUME.value
    ASSIGN = Action.ASSIGN.value
    CANCEL = Action.CANCEL.value
    CASE = "case"
    MINE = "mine"
    OPEN = "open"
    OVERDUE = "overdue"
    REPORT = "report"
    RATE = Action.RATE.value
    NEW = "new"
    BINDTEAM = "bindteam"
    INVITE = "invite"
    MEMBERS = "members"
    REMOVE = "remove"
    LANG = "lang"
    FIND = "find"
    BOARD = "board"
    HANDOVER = "handover"
    UNBINDTEAM = "unbindteam"


REF_RE = re.compile(rf"^({TEAM_CODE_PATTERN})-(\d{{1,9}})$")
_COMMAND_RE = re.compile(r"^/([A-Za-z_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")
_LEADING_MENTION_RE = re.compile(r"^@\S+\s+")


@dataclass(frozen=True)
class ParsedCommand:
    name: CommandName | None  # None: looks like a command, but not one we know
    word: str  # what was typed after the slash, for the error message
    args: tuple[str, ...]
    rest: str  # everything after the command word, as typed

    def arg(self, i: int) -> str | None:
        return self.args[i] if i < len(self.args) else None


def normalize_ref(text: str) -> str | None:
    """PL-17, pl-17, ` Pl-17 ` all name the same case; anything else is not a ref."""
    m = REF_RE.match(text.strip())
    if m is None:
        return None
    return f"{m.group(1).upper()}-{int(m.group(2))}"


_LOOSE_REF_RE = re.compile(r"^#?([A-Za-z][A-Za-z0-9]{0,15}?)[-_.]?(\d{1,9})$")
_REF_ATTEMPT_RE = re.compile(r"^(#\S*|[A-Za-z]{1,16}-\S*)$")


def read_ref(text: str, team: str | None) -> str | None:
    """A ref as people mistype it: `pl6`, `PL6`, `#PL-6`, `PL_6`; None if it is none.

    Without the separator only the person's team's code is read (`PL21` is PL-21 for
    team PL; `CT12345` may be a meter serial); a bare number needs the case to exist
    and is read by the caller (`Lookup`).
    """
    word = text.strip()
    ref = normalize_ref(word.lstrip("#"))
    if ref is not None:
        return ref
    if team is not None:
        upper, code = word.lstrip("#").upper(), team.upper()
        tail = upper[len(code) :].lstrip("-_.")
        if upper.startswith(code) and tail.isascii() and tail.isdigit() and len(tail) <= 9:
            return f"{code}-{int(tail)}"
    m = _LOOSE_REF_RE.match(word)
    if m is None or not m.group(1).isalpha() or not word.startswith("#"):
        return None  # `CT12345` may be a meter serial: only the team's own code is read
    return f"{m.group(1).upper()}-{int(m.group(2))}"


def looks_like_ref(text: str) -> bool:
    """A word meant as a ref but not one (`#6x`, `PL-`, `PL-6a`): say how refs look."""
    word = text.strip()
    return word.isascii() and _REF_ATTEMPT_RE.match(word) is not None


_NOTE_LIKE_REF_RE = re.compile(r"^#?[A-Za-z]{0,16}[ \-_.]?\d{1,9}$")


def note_like_ref(note: str) -> bool:
    """A note that is nothing but a ref typed wrong (`PL 4`, `pl4`, `#4`): asked about,
    not saved as the finding of a survey."""
    text = note.strip()
    return text.isascii() and _NOTE_LIKE_REF_RE.match(text) is not None


def parse_command(text: str, bot_username: str | None = None) -> ParsedCommand | None:
    """A command is `/word` at the start, optionally `/word@ourbot`, after an optional mention.

    A command addressed to another bot (`/claim@otherbot`) is not ours: None.
    """
    text = text[:MAX_TEXT].strip()
    text = _LEADING_MENTION_RE.sub("", text, count=1) if text.startswith("@") else text
    m = _COMMAND_RE.match(text)
    if m is None:
        return None
    word, addressee = m.group(1).lower(), m.group(2)
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    rest = text[m.end() :].strip()
    try:
        name: CommandName | None = CommandName(word)
    except ValueError:
        name = None
    return ParsedCommand(name, word, tuple(rest.split()), rest)


class MenuScope(StrEnum):
    """Where a command is offered in the channel's menu."""

    PRIVATE = "private"
    GROUP = "group"


#: Words that may follow a number as its unit: `1,5 triệu`, `500 k`, `2 tr`.
UNIT_WORDS = frozenset(
    {
        "k",
        "tr",
        "triệu",
        "trieu",
        "nghìn",
        "nghin",
        "ngàn",
        "ngan",
        "tỷ",
        "tỉ",
        "ty",
        "đ",
        "d",
        "vnd",
        "vnđ",
        "đồng",
        "dong",
    }
)


@dataclass(frozen=True)
class TypedAmount:
    """An amount as typed, and what it may mean (the likeliest first)."""

    text: str
    readings: tuple[int, ...]

    @property
    def sure(self) -> bool:
        return len(self.readings) == 1

    @property
    def value(self) -> int:
        return self.readings[0]


def take_amount(args: tuple[str, ...], i: int) -> tuple[TypedAmount, int]:
    """The amount starting at args[i], and where the next word starts.

    `1.5 triệu` and `1 500 000` span several words. IndexError when nothing is left;
    BadAmount when the words there are no amount.
    """
    if i >= len(args):
        raise IndexError(i)
    j = i + 1
    token = args[i]
    while j < len(args) and is_digits(token) and len(args[j]) == 3 and is_digits(args[j]):
        token += args[j]
        j += 1
    if j < len(args) and args[j].lower() in UNIT_WORDS:
        token += args[j]
        j += 1
    typed = " ".join(args[i:j])
    try:
        return TypedAmount(typed, amount_readings(token)), j
    except AmountError as e:
        raise BadAmount(typed) from e
