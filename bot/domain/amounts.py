"""Vietnamese đồng amounts as people type them on a phone.

Crews report costs in a chat, so the parser accepts the usual shorthands
(``1,5tr``, ``1tr5``, ``500k``, ``2 triệu``) but refuses anything whose value it
would have to guess: a wrong factor of 1000 on a bill is worse than asking again.

Accepted forms (case-insensitive, spaces optional between parts):

* plain digits ``1500000``; thousands grouped by ``.``, ``,`` or a space in
  groups of exactly three (``1.500.000``, ``1,500,000``, ``1 500 000``);
* a unit: ``k``/``nghìn``/``nghin``/``ngàn``/``ngan``/``ng``/``n`` (×1 000),
  ``tr``/``triệu``/``trieu`` (×1 000 000), ``tỷ``/``tỉ``/``ty``/``ti`` (×10⁹);
  ``m``, ``củ``, ``lít`` and other slang are refused;
* a decimal mark (``.`` or ``,``) only before a unit: ``1,5tr``, ``2.25k``;
* digits after a unit continue it as decimals, as in speech: ``1tr5`` is
  1 500 000, ``1tr250`` is 1 250 000, ``2k5`` is 2 500;
* descending unit groups add up: ``1 tỷ 200 triệu``, ``1tr500k``;
* an optional currency mark ``đ``, ``d``, ``đồng``, ``dong``, ``vnd``, ``vnđ``,
  ``₫`` after the amount (``vnd``/``vnđ``/``₫`` also before it);
* full-width digits from an IME (``１５００``) count as digits; other scripts'
  digits do not.

Refused as AMBIGUOUS: mixed separators (``1.500,000``), a decimal without a
unit (``1,5``), and one separator followed by exactly three digits before a
unit (``1.500k``, ``1.500 tr``): that is 1 500 000 or 1 500 to different
readers, so the bot must ask.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.digits import FULL_WIDTH_DIGITS
from bot.domain.errors import DomainError

MAX_VND = 100_000_000_000
"""Largest accepted amount (100 tỷ): anything above is a typo, not a cost."""

MAX_INPUT_LEN = 64
"""Longer input is refused before any work, so a pasted essay costs nothing."""


class AmountErrorReason(StrEnum):
    EMPTY = "empty"
    NEGATIVE = "negative"
    NOT_A_NUMBER = "not_a_number"
    AMBIGUOUS = "ambiguous"
    FRACTIONAL = "fractional"
    TOO_LARGE = "too_large"


class AmountError(DomainError):
    """An amount the bot must ask for again; callers branch on ``reason``."""

    def __init__(self, reason: AmountErrorReason, text: str) -> None:
        shown = text if len(text) <= MAX_INPUT_LEN else text[:MAX_INPUT_LEN] + "…"
        super().__init__(f"{reason.value}: {shown!r}")
        self.reason = reason
        self.text = text


_UNITS: dict[str, int] = {
    "k": 1_000,
    "n": 1_000,
    "ng": 1_000,
    "nghìn": 1_000,
    "nghin": 1_000,
    "ngàn": 1_000,
    "ngan": 1_000,
    "tr": 1_000_000,
    "triệu": 1_000_000,
    "trieu": 1_000_000,
    "tỷ": 1_000_000_000,
    "tỉ": 1_000_000_000,
    "ty": 1_000_000_000,
    "ti": 1_000_000_000,
}

_MINUS_SIGNS = frozenset("-\u2212\u2012\u2013\u2014\ufe63\uff0d")

# Full-width digits and separators come from CJK-style IMEs; odd spaces from
# copy-paste. Anything else non-ASCII stays as it is and fails the scan.
_TRANSLATE = str.maketrans(
    {
        **FULL_WIDTH_DIGITS,
        "\uff0e": ".",
        "\uff0c": ",",
        "\u00a0": " ",
        "\u2007": " ",
        "\u202f": " ",
        "\u3000": " ",
    }
)

_CURRENCY_SUFFIX = re.compile(r"\s*(?:đồng|dong|vnđ|vnd|đ|d|₫)\Z")
_CURRENCY_PREFIX = re.compile(r"\A(?:vnđ|vnd|₫)\s*")
_TOKEN = re.compile(
    r"(?P<num>[0-9]+(?:[., ][0-9]+)*)|(?P<word>[^\W\d_]+)|(?P<ws>\s+)",
)


@dataclass(frozen=True)
class _Number:
    """One run of digits, split into what its separators mean."""

    digits: str  # integer digits, separators removed
    fraction: str = ""  # digits after a decimal mark
    separated: bool = False  # contained any separator
    one_group: bool = False  # one '.' or ',' then three digits: decimal or thousands?


@dataclass(frozen=True)
class _Group:
    number: _Number
    unit: int


def parse_vnd(text: str) -> int:
    """Whole đồng from chat text; raises AmountError (only) when unsure."""
    stripped = text.strip()
    if not stripped:
        raise AmountError(AmountErrorReason.EMPTY, text)
    if len(stripped) > MAX_INPUT_LEN:
        raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
    cleaned = unicodedata.normalize("NFC", stripped.translate(_TRANSLATE)).casefold()
    if cleaned[0] in _MINUS_SIGNS:
        try:
            _parse_unsigned(cleaned[1:].strip())
        except AmountError as exc:
            if exc.reason in (AmountErrorReason.EMPTY, AmountErrorReason.NOT_A_NUMBER):
                raise AmountError(AmountErrorReason.NOT_A_NUMBER, text) from None
        raise AmountError(AmountErrorReason.NEGATIVE, text)
    try:
        return _parse_unsigned(cleaned)
    except AmountError as exc:
        raise AmountError(exc.reason, text) from None


def format_vnd(amount: int) -> str:
    """Vietnamese display form, ``1.500.000 đ``; parse_vnd reads it back."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,} đ".replace(",", ".")


def _parse_unsigned(text: str) -> int:
    body = _CURRENCY_PREFIX.sub("", text, count=1)
    body = _CURRENCY_SUFFIX.sub("", body, count=1)
    if not body:
        raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
    groups, bare, tail = _read_groups(body, text)
    value = _plain_value(bare, text) if bare is not None else _grouped_value(groups, tail, text)
    if value > MAX_VND:
        raise AmountError(AmountErrorReason.TOO_LARGE, text)
    return value


def _tokens(body: str, text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        if match is None:
            raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
        kind = match.lastgroup
        assert kind is not None
        if kind != "ws":
            tokens.append((kind, match.group()))
        pos = match.end()
    return tokens


def _read_groups(body: str, text: str) -> tuple[list[_Group], _Number | None, str]:
    """Split into (number, unit) groups, or one bare number, plus trailing digits."""
    tokens = _tokens(body, text)
    if not tokens:
        raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
    groups: list[_Group] = []
    tail = ""
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind != "num":
            raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
        number = _split_number(value, text)
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if following is None or following[0] == "num":
            if not groups:
                if following is not None:
                    raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
                return [], number, ""
            if following is not None:
                raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
            if number.separated:
                raise AmountError(AmountErrorReason.AMBIGUOUS, text)
            tail = number.digits
            i += 1
            continue
        unit = _UNITS.get(following[1])
        if unit is None:
            raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)
        groups.append(_Group(number, unit))
        i += 2
    return groups, None, tail


def _split_number(token: str, text: str) -> _Number:
    """Decide whether separators group thousands or mark decimals."""
    separators = {c for c in token if not c.isdigit()}
    if not separators:
        return _Number(token)
    if len(separators) > 1:
        raise AmountError(AmountErrorReason.AMBIGUOUS, text)
    (sep,) = separators
    parts = token.split(sep)
    if 1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:]):
        # A space never marks decimals, so only "1.500k" / "1,500k" are in doubt.
        one_group = len(parts) == 2 and sep in ".,"
        return _Number("".join(parts), separated=True, one_group=one_group)
    if sep in ".," and len(parts) == 2:
        return _Number(parts[0], fraction=parts[1], separated=True)
    raise AmountError(AmountErrorReason.NOT_A_NUMBER, text)


def _plain_value(number: _Number, text: str) -> int:
    if number.fraction:
        # "1,5" without a unit: a forgotten "tr" or "k" is likelier than 1.5 đồng.
        raise AmountError(AmountErrorReason.AMBIGUOUS, text)
    return int(number.digits)


def _grouped_value(groups: list[_Group], tail: str, text: str) -> int:
    total = 0
    for index, group in enumerate(groups):
        number = group.number
        if number.one_group:
            raise AmountError(AmountErrorReason.AMBIGUOUS, text)
        if index > 0:
            if group.unit >= groups[index - 1].unit or number.separated:
                raise AmountError(AmountErrorReason.AMBIGUOUS, text)
            if len(number.digits.lstrip("0")) > 3:
                raise AmountError(AmountErrorReason.AMBIGUOUS, text)
        if len(groups) > 1 and number.fraction:
            raise AmountError(AmountErrorReason.AMBIGUOUS, text)
        fraction = number.fraction
        if index == len(groups) - 1 and tail:
            if number.separated or len(tail) > len(str(group.unit)) - 1:
                raise AmountError(AmountErrorReason.AMBIGUOUS, text)
            fraction = tail
        scaled = int(number.digits + fraction) * group.unit
        denominator = 10 ** len(fraction)
        if scaled % denominator:
            raise AmountError(AmountErrorReason.FRACTIONAL, text)
        total += scaled // denominator
    return total


SENSIBLE_FLOOR = 10_000
"""No cost on a bill is this small: a bare ``1500`` is more likely thousands dropped."""

_SPOKEN_DECIMAL = re.compile(
    r"\A(?P<whole>[0-9]+)\s*(?P<big>tr|triệu|trieu|tỷ|tỉ|ty|ti)\s*"
    r"(?P<digit>[0-9])\s*(?P<small>k|n|ng|nghìn|nghin|ngàn|ngan|tr|triệu|trieu)\Z"
)
_HAS_UNIT = re.compile(r"[^\W\d_]|₫")


def amount_readings(text: str) -> tuple[int, ...]:
    """Every amount `text` may mean, the likeliest first; one when the bot is sure.

    Two shorthands fool a strict reading and are asked about instead of guessed:

    * ``1tr5k``: added up it is 1 005 000, but it is said as "một triệu rưỡi", so
      1 500 000 comes first;
    * a bare number under `SENSIBLE_FLOOR` (``1500``): đồng as typed, or thousands
      (and millions, for ``2``) left off.

    AmountError (from `parse_vnd`) when it is no amount at all.
    """
    value = parse_vnd(text)
    cleaned = unicodedata.normalize("NFC", text.strip().translate(_TRANSLATE)).casefold()
    spoken = _SPOKEN_DECIMAL.match(cleaned)
    if spoken is not None:
        big = _UNITS[spoken.group("big")]
        small = _UNITS[spoken.group("small")]
        if small < big:
            decimal = int(spoken.group("whole")) * big + int(spoken.group("digit")) * big // 10
            if decimal != value and decimal <= MAX_VND:
                return (decimal, value)
    if 0 < value < SENSIBLE_FLOOR and _HAS_UNIT.search(cleaned) is None:
        scaled = [value * 1_000]
        if value < 1_000:
            scaled.append(value * 1_000_000)
        return (value, *scaled)
    return (value,)
