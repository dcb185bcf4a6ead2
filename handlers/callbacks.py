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

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from handlers.parsing import CommandName, normalize_ref

PREFIX = "c"
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


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError("callback data over 64 bytes")
    return data


@dataclass(frozen=True)
class CallbackData:
    action: ButtonAction
    ref: str

    def encode(self) -> str:
        return _checked(f"{PREFIX}:{self.action.value}:{self.ref}")


class FormOp(StrEnum):
    DONE = "d"
    SKIP = "s"
    CONFIRM = "y"
    CANCEL = "x"
    PICK = "o"  # followed by the option's number
    EDIT = "e"  # followed by the number of the summary's field to answer again


#: The form buttons that carry a number: an option, a field of the summary.
NUMBERED = frozenset({FormOp.PICK, FormOp.EDIT})


@dataclass(frozen=True)
class FormPress:
    form_id: str
    op: FormOp
    option: int | None = None

    def encode(self) -> str:
        numbered = self.op in NUMBERED and self.option is not None
        tail = str(self.option) if numbered else ""
        return _checked(f"{FORM_PREFIX}:{self.form_id}:{self.op.value}{tail}")


class ListKind(StrEnum):
    MINE = "mine"
    OPEN = "open"


@dataclass(frozen=True)
class PagePress:
    kind: ListKind
    page: int

    def encode(self) -> str:
        return _checked(f"{LIST_PREFIX}:{self.kind.value}:{self.page}")


YES, NO = "y", "n"


@dataclass(frozen=True)
class CodeAnswer:
    """A yes or no to an opened code; the family (its prefix) says which question."""

    code: str
    approve: bool
    PREFIX: ClassVar[str]

    def encode(self) -> str:
        return _checked(f"{self.PREFIX}:{self.code}:{YES if self.approve else NO}")


@dataclass(frozen=True)
class InvitePress(CodeAnswer):
    """A lead's «Đồng ý» / «Từ chối» on a join request."""

    PREFIX: ClassVar[str] = INVITE_PREFIX


@dataclass(frozen=True)
class LinkPress(CodeAnswer):
    """The code maker's «Đúng, là tôi» / «Không phải tôi» on an opened link code."""

    PREFIX: ClassVar[str] = LINK_PREFIX


@dataclass(frozen=True)
class SearchPress:
    """Another page of a `/find`: the search is carried folded, as it is matched."""

    words: str
    page: int

    def encode(self) -> str:
        return _checked(f"{SEARCH_PREFIX}:{self.page}:{self.words}")

    @classmethod
    def fits(cls, words: str) -> bool:
        """Whether these words can ride on a button (else the list has no pages)."""
        return _search_words(words) and len(f"{SEARCH_PREFIX}:9999:{words}") <= MAX_BYTES


def _search_words(text: str) -> bool:
    return bool(text.strip()) and text.isascii() and text.isprintable() and ":" not in text


@dataclass(frozen=True)
class RatePress:
    """A score button under the clerk's "case closed" message."""

    ref: str
    score: int

    def encode(self) -> str:
        return _checked(f"{RATE_PREFIX}:{self.ref}:{self.score}")


@dataclass(frozen=True)
class HandoverPress:
    """«Nhận bàn giao» / «Không nhận» under a colleague's handover offer."""

    ref: str
    accept: bool

    def encode(self) -> str:
        return _checked(f"{HANDOVER_PREFIX}:{self.ref}:{YES if self.accept else NO}")


@dataclass(frozen=True)
class RemovePress:
    """«Xoá» / «Thôi» under the question `/remove @user` asks the lead first."""

    member_uid: str
    confirm: bool

    def encode(self) -> str:
        uid = self.member_uid.replace(":", ".", 1)
        return _checked(f"{REMOVE_PREFIX}:{uid}:{YES if self.confirm else NO}")


@dataclass(frozen=True)
class HeldPress:
    """«Đính kèm vào PL-2» under a stray photo, «Lưu làm ghi chú» under a reply to a card."""

    ref: str | None  # None: file it as a new case
    held_id: int

    def encode(self) -> str:
        return _checked(f"{HELD_PREFIX}:{self.ref or NEW_CASE}:{self.held_id}")


@dataclass(frozen=True)
class CommandPress:
    """A command typed by pressing: `/WORD ARGS`, offered instead of a lesson in its syntax."""

    word: str
    args: str

    def encode(self) -> str:
        return _checked(f"{COMMAND_PREFIX}:{self.word}:{self.args}")

    @classmethod
    def fits(cls, word: str, args: str) -> bool:
        """Whether it rides on a button: Telegram refuses more than 64 bytes."""
        text = f"{COMMAND_PREFIX}:{word}:{args}"
        return len(text.encode()) <= MAX_BYTES and _command_args(args)


def _command_args(text: str) -> bool:
    return bool(text.strip()) and text.isprintable() and "\n" not in text


Press = (
    CallbackData
    | FormPress
    | PagePress
    | InvitePress
    | LinkPress
    | SearchPress
    | RatePress
    | HandoverPress
    | RemovePress
    | HeldPress
    | CommandPress
)
#: The families that answer an opened code, by prefix: the same shape, another meaning.
CODE_ANSWERS: dict[str, type[InvitePress] | type[LinkPress]] = {
    family.PREFIX: family for family in (InvitePress, LinkPress)
}
MAX_CODE = 32


def decode(data: str) -> CallbackData | None:
    """A case's button; None for anything we did not make: old, forged or foreign payloads."""
    found = decode_press(data)
    return found if isinstance(found, CallbackData) else None


def decode_press(data: str) -> Press | None:
    """Any of our buttons, validated; None for anything else."""
    if len(data.encode()) > MAX_BYTES:
        return None
    if data.startswith(COMMAND_PREFIX + ":"):
        _, word, args = [*data.split(":", 2), "", ""][:3]
        if not word.isascii() or not word.isalpha() or len(word) > 16 or not _command_args(args):
            return None
        return CommandPress(word, args)
    parts = data.split(":")
    if len(parts) != 3:
        return None
    prefix, middle, last = parts
    if prefix == PREFIX:
        try:
            action = ButtonAction(middle)
        except ValueError:
            return None
        ref = normalize_ref(last)
        return CallbackData(action, ref) if ref else None
    if prefix == FORM_PREFIX:
        return _form_press(middle, last)
    if prefix == SEARCH_PREFIX:
        if not _digits(middle) or len(middle) > 4 or not _search_words(last):
            return None
        return SearchPress(last, int(middle))
    if prefix == LIST_PREFIX:
        if middle not in ListKind._value2member_map_ or not _digits(last) or len(last) > 4:
            return None
        return PagePress(ListKind(middle), int(last))
    if prefix in (RATE_PREFIX, HANDOVER_PREFIX, REMOVE_PREFIX, HELD_PREFIX):
        return _small_press(prefix, middle, last)
    answer = CODE_ANSWERS.get(prefix)
    if answer is not None:
        if not _word(middle) or len(middle) > MAX_CODE or last not in (YES, NO):
            return None
        return answer(middle, last == YES)
    return None


def _small_press(prefix: str, middle: str, last: str) -> Press | None:
    """The rate, handover and remove families: a ref (or uid) and a score or a yes/no."""
    if prefix == REMOVE_PREFIX:
        channel, dot, ident = middle.partition(".")
        if not (dot and _word(channel) and ident and ident.isascii() and ident.isalnum()):
            return None
        return RemovePress(f"{channel}:{ident}", last == YES) if last in (YES, NO) else None
    if prefix == HELD_PREFIX and middle == NEW_CASE:
        return HeldPress(None, int(last)) if _digits(last) and len(last) <= 9 else None
    ref = normalize_ref(middle)
    if not ref:
        return None
    if prefix == RATE_PREFIX:
        if not _digits(last) or not 1 <= int(last) <= 10:
            return None
        return RatePress(ref, int(last))
    if prefix == HELD_PREFIX:
        if not _digits(last) or len(last) > 9:
            return None
        return HeldPress(ref, int(last))
    return HandoverPress(ref, last == YES) if last in (YES, NO) else None


def _form_press(form_id: str, op_text: str) -> FormPress | None:
    if not _word(form_id) or len(form_id) > 16 or not op_text:
        return None
    try:
        op = FormOp(op_text[0])
    except ValueError:
        return None
    rest = op_text[1:]
    if op in NUMBERED:
        if not _digits(rest) or not 0 < int(rest) <= MAX_OPTION:
            return None
        return FormPress(form_id, op, int(rest))
    return None if rest else FormPress(form_id, op)


def _digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def _word(text: str) -> bool:
    return bool(text) and text.isascii() and text.isalnum()
