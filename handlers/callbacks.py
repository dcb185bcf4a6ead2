"""Button payloads: one typed codec, validated on the way in, under Telegram's 64 bytes.

Five families, each with its own prefix:

- `c:ACTION:REF`   a case's button: claim it, show it, start the form of a step
- `f:FORM:OP`      a button of a guided form (`OP` done, skip, confirm, cancel, `oN`, `eN`)
- `l:LIST:PAGE`    a page of `/mine` or `/open`
- `i:CODE:y|n`     a lead's answer to someone who opened a team invite
- `k:CODE:y|n`     a member's answer to someone who opened their link code ("was it you?")
- `s:PAGE:WORDS`   a page of `/find WORDS` (the words folded: plain ASCII, no colon)
- `r:REF:SCORE`    the clerk's score (1–10) for a closed case she filed
- `h:REF:y|n`      a colleague's answer to `/handover REF @user`
- `m:UID:y|n`      a lead's confirmation of `/remove @user` (the uid's colon as a dot)
- `p:REF:ID`       put what the bot kept for the person (a photo, a note: number ID) on REF
                   (`p:new:ID`: a forwarded message kept while a form was open, as a new case)
- `d:WORD:ARGS`    a command offered as a button: pressing it types `/WORD ARGS` (a case
                   picked, a score, a language, a worker); the person's rights are checked
                   as for the typed command, so a forged one gains nothing
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

from handlers.parsing import CommandName, normalize_ref

CASE_PREFIX = "c"
FORM_PREFIX = "f"
LIST_PREFIX = "l"
INVITE_PREFIX = "i"
LINK_PREFIX = "k"
SEARCH_PREFIX = "s"
RATE_PREFIX = "r"
HANDOVER_PREFIX = "h"
REMOVE_PREFIX = "m"
HELD_PREFIX = "p"
NEW_CASE = "new"
MAX_HELD = 10**9
COMMAND_PREFIX = "d"
MAX_BYTES = 64
MAX_OPTION = 99
MAX_CODE = 32
YES, NO = "y", "n"


class ButtonAction(StrEnum):
    """What a case's button does: show the case, or one of its steps. A step's button
    carries the command word of the step (one word for typing and pressing)."""

    CLAIM = CommandName.CLAIM.value
    CASE = CommandName.CASE.value
    # The next step of a case, as a guided form in the private chat.
    SURVEY = CommandName.SURVEY.value
    ESTIMATE = CommandName.ESTIMATE.value
    AGREE = CommandName.AGREE.value
    INSTALL = CommandName.INSTALL.value
    INSPECT = CommandName.INSPECT.value
    RESOLVE = CommandName.RESOLVE.value
    CLOSE = CommandName.CLOSE.value


class FormOp(StrEnum):
    DONE = "d"
    SKIP = "s"
    CONFIRM = "y"
    CANCEL = "x"
    PICK = "o"  # followed by the option's number
    EDIT = "e"  # followed by the number of the summary's field to answer again


#: The form buttons that carry a number: an option, a field of the summary.
NUMBERED = frozenset({FormOp.PICK, FormOp.EDIT})


class ListKind(StrEnum):
    MINE = "mine"
    OPEN = "open"


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError("callback data over 64 bytes")
    return data


def _need(ok: bool) -> None:
    """Refuse a part we did not write (old, forged or foreign): decoding answers None."""
    if not ok:
        raise ValueError("not a payload of ours")


def _digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def _word(text: str) -> bool:
    return bool(text) and text.isascii() and text.isalnum()


def _search_words(text: str) -> bool:
    return bool(text.strip()) and text.isascii() and text.isprintable() and ":" not in text


def _command_args(text: str) -> bool:
    return bool(text.strip()) and text.isprintable() and "\n" not in text


T = TypeVar("T")


@dataclass(frozen=True)
class Part(Generic[T]):
    """How one field rides in a payload: written as text, read back and checked."""

    write: Callable[[T], str]
    #: Raises ValueError for text we would not have written.
    read: Callable[[str], T]


def _ref(text: str) -> str:
    ref = normalize_ref(text)
    _need(bool(ref))
    return str(ref)


def _number(*, digits: int | None = None, low: int = 0, high: int | None = None) -> Part[int]:
    def read(text: str) -> int:
        _need(_digits(text) and (digits is None or len(text) <= digits))
        _need(low <= int(text) and (high is None or int(text) <= high))
        return int(text)

    return Part(str, read)


def _checked_text(check: Callable[[str], bool]) -> Part[str]:
    def read(text: str) -> str:
        _need(check(text))
        return text

    return Part(str, read)


def _yes_no(text: str) -> bool:
    _need(text in (YES, NO))
    return text == YES


def _held_ref(text: str) -> str | None:
    return None if text == NEW_CASE else _ref(text)


def _uid(text: str) -> str:
    """A member's uid rides with its colon as a dot: `telegram.3002`."""
    channel, dot, ident = text.partition(".")
    _need(bool(dot and _word(channel) and ident and ident.isascii() and ident.isalnum()))
    return f"{channel}:{ident}"


REF: Part[str] = Part(str, _ref)
YES_NO: Part[bool] = Part(lambda yes: YES if yes else NO, _yes_no)
PAGE = _number(digits=4)
#: Which field of the payload rides in its middle part, which in its last.
Wire = tuple[tuple[str, Part[Any]], tuple[str, Part[Any]]]


@dataclass(frozen=True)
class Press:
    """A button's payload, `PREFIX:MIDDLE:LAST`: each family names its prefix and how its
    fields ride in the two parts (`WIRE`); writing and reading them is done here, once."""

    PREFIX: ClassVar[str]
    WIRE: ClassVar[Wire]
    #: The last part may hold colons (a command's arguments); elsewhere none.
    OPEN_TAIL: ClassVar[bool] = False

    def encode(self) -> str:
        middle, last = self.parts()
        return _checked(f"{self.PREFIX}:{middle}:{last}")

    def parts(self) -> tuple[str, str]:
        (middle, middle_part), (last, last_part) = self.WIRE
        return middle_part.write(getattr(self, middle)), last_part.write(getattr(self, last))

    @classmethod
    def read(cls, middle: str, last: str) -> Self:
        """The payload of these parts; ValueError for anything we did not make."""
        (middle_name, middle_part), (last_name, last_part) = cls.WIRE
        make: Callable[..., Self] = cls
        return make(**{middle_name: middle_part.read(middle), last_name: last_part.read(last)})


@dataclass(frozen=True)
class CallbackData(Press):
    PREFIX: ClassVar[str] = CASE_PREFIX
    WIRE: ClassVar[Wire] = (("action", Part(str, ButtonAction)), ("ref", REF))

    action: ButtonAction
    ref: str


@dataclass(frozen=True)
class FormPress(Press):
    """The op and its number share the last part: `f:FORM:o3`."""

    PREFIX: ClassVar[str] = FORM_PREFIX

    form_id: str
    op: FormOp
    option: int | None = None

    def parts(self) -> tuple[str, str]:
        numbered = self.op in NUMBERED and self.option is not None
        tail = str(self.option) if numbered else ""
        return self.form_id, f"{self.op.value}{tail}"

    @classmethod
    def read(cls, middle: str, last: str) -> Self:
        _need(_word(middle) and len(middle) <= 16 and bool(last))
        op, rest = FormOp(last[0]), last[1:]
        if op not in NUMBERED:
            _need(not rest)
            return cls(middle, op)
        _need(_digits(rest) and 0 < int(rest) <= MAX_OPTION)
        return cls(middle, op, int(rest))


@dataclass(frozen=True)
class PagePress(Press):
    PREFIX: ClassVar[str] = LIST_PREFIX
    WIRE: ClassVar[Wire] = (("kind", Part(str, ListKind)), ("page", PAGE))

    kind: ListKind
    page: int


@dataclass(frozen=True)
class CodeAnswer(Press):
    """A yes or no to an opened code; the family (its prefix) says which question."""

    WIRE: ClassVar[Wire] = (
        ("code", _checked_text(lambda code: _word(code) and len(code) <= MAX_CODE)),
        ("approve", YES_NO),
    )

    code: str
    approve: bool


@dataclass(frozen=True)
class InvitePress(CodeAnswer):
    """A lead's «Đồng ý» / «Từ chối» on a join request."""

    PREFIX: ClassVar[str] = INVITE_PREFIX


@dataclass(frozen=True)
class LinkPress(CodeAnswer):
    """The code maker's «Đúng, là tôi» / «Không phải tôi» on an opened link code."""

    PREFIX: ClassVar[str] = LINK_PREFIX


@dataclass(frozen=True)
class SearchPress(Press):
    """Another page of a `/find`: the search is carried folded, as it is matched."""

    PREFIX: ClassVar[str] = SEARCH_PREFIX
    WIRE: ClassVar[Wire] = (("page", PAGE), ("words", _checked_text(_search_words)))

    words: str
    page: int

    @classmethod
    def fits(cls, words: str) -> bool:
        """Whether these words can ride on a button (else the list has no pages)."""
        return _search_words(words) and len(f"{SEARCH_PREFIX}:9999:{words}") <= MAX_BYTES


@dataclass(frozen=True)
class RatePress(Press):
    """A score button under the clerk's "case closed" message."""

    PREFIX: ClassVar[str] = RATE_PREFIX
    WIRE: ClassVar[Wire] = (("ref", REF), ("score", _number(low=1, high=10)))

    ref: str
    score: int


@dataclass(frozen=True)
class HandoverPress(Press):
    """«Nhận bàn giao» / «Không nhận» under a colleague's handover offer."""

    PREFIX: ClassVar[str] = HANDOVER_PREFIX
    WIRE: ClassVar[Wire] = (("ref", REF), ("accept", YES_NO))

    ref: str
    accept: bool


@dataclass(frozen=True)
class RemovePress(Press):
    """«Xoá» / «Thôi» under the question `/remove @user` asks the lead first."""

    PREFIX: ClassVar[str] = REMOVE_PREFIX
    WIRE: ClassVar[Wire] = (
        ("member_uid", Part(lambda uid: uid.replace(":", ".", 1), _uid)),
        ("confirm", YES_NO),
    )

    member_uid: str
    confirm: bool


@dataclass(frozen=True)
class HeldPress(Press):
    """«Đính kèm vào PL-2» under a stray photo, «Lưu làm ghi chú» under a reply to a card."""

    PREFIX: ClassVar[str] = HELD_PREFIX
    WIRE: ClassVar[Wire] = (
        ("ref", Part(lambda ref: ref or NEW_CASE, _held_ref)),
        ("held_id", _number(digits=9)),
    )

    ref: str | None  # None: file it as a new case
    held_id: int


@dataclass(frozen=True)
class CommandPress(Press):
    """A command typed by pressing: `/WORD ARGS`, offered instead of a lesson in its syntax."""

    PREFIX: ClassVar[str] = COMMAND_PREFIX
    WIRE: ClassVar[Wire] = (
        ("word", _checked_text(lambda w: w.isascii() and w.isalpha() and len(w) <= 16)),
        ("args", _checked_text(_command_args)),
    )
    OPEN_TAIL: ClassVar[bool] = True

    word: str
    args: str

    @classmethod
    def fits(cls, word: str, args: str) -> bool:
        """Whether it rides on a button: Telegram refuses more than 64 bytes."""
        text = f"{COMMAND_PREFIX}:{word}:{args}"
        return len(text.encode()) <= MAX_BYTES and _command_args(args)


#: Every family, by its prefix.
FAMILIES: dict[str, type[Press]] = {
    family.PREFIX: family
    for family in (
        CallbackData,
        FormPress,
        PagePress,
        InvitePress,
        LinkPress,
        SearchPress,
        RatePress,
        HandoverPress,
        RemovePress,
        HeldPress,
        CommandPress,
    )
}


def decode(data: str) -> CallbackData | None:
    """A case's button; None for anything we did not make: old, forged or foreign payloads."""
    found = decode_press(data)
    return found if isinstance(found, CallbackData) else None


def decode_press(data: str) -> Press | None:
    """Any of our buttons, validated; None for anything else."""
    if len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":", 2)
    if len(parts) != 3:
        return None
    prefix, middle, last = parts
    family = FAMILIES.get(prefix)
    if family is None or (":" in last and not family.OPEN_TAIL):
        return None
    try:
        return family.read(middle, last)
    except ValueError:
        return None
