"""Vietnamese phone numbers: one stored form, and masking for logs and groups.

Customers' numbers reach the bot in every shape (``0912.345.678``,
``+84 912 345 678``, ``(0226) 3852 123``); storing one national form lets
cases be matched by caller. Group chats and logs must not spread the full
number, hence ``mask_phone`` and ``redact_phones``.

Accepted by ``normalize_phone``: mobiles, 10 digits starting 03/05/07/08/09,
and landlines, 11 digits starting 02; written with spaces, dots, dashes or
parentheses; national (leading 0) or international (``+84``, ``84``,
``0084``, also ``+84 (0) 912…``). Refused: numbers without the leading 0
(``912345678``), old 11-digit mobiles (01x), service numbers (1800/1900) and
foreign numbers.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from enum import StrEnum

from bot.domain.digits import FULL_WIDTH_DIGITS
from bot.domain.errors import DomainError

MAX_PHONE_INPUT_LEN = 64
"""Longer input is refused unread: no way of writing a number needs more."""

_MOBILE_PREFIXES = frozenset({"03", "05", "07", "08", "09"})
_LANDLINE_PREFIX = "02"
_MOBILE_LEN = 10
_LANDLINE_LEN = 11


class PhoneErrorReason(StrEnum):
    EMPTY = "empty"
    BAD_CHARACTERS = "bad_characters"
    WRONG_LENGTH = "wrong_length"
    UNKNOWN_PREFIX = "unknown_prefix"


class PhoneError(DomainError):
    """A number the bot must ask for again; the message omits it (it is personal data)."""

    def __init__(self, reason: PhoneErrorReason, text: str) -> None:
        super().__init__(f"invalid phone number: {reason.value}")
        self.reason = reason
        self.text = text


_TRANSLATE = str.maketrans(
    {
        **FULL_WIDTH_DIGITS,
        "\uff0b": "+",
        "\uff08": "(",
        "\uff09": ")",
        "\u00a0": " ",
        "\u202f": " ",
        "\u3000": " ",
    }
)
_SEPARATORS = frozenset(" .-\u2010\u2011\u2013()")
_DIGITS = frozenset("0123456789")


def normalize_phone(text: str) -> str:
    """National form (``0912345678``) of a Vietnamese number, else PhoneError."""
    stripped = text.strip()
    if not stripped:
        raise PhoneError(PhoneErrorReason.EMPTY, text)
    if len(stripped) > MAX_PHONE_INPUT_LEN:
        raise PhoneError(PhoneErrorReason.WRONG_LENGTH, text)
    cleaned = stripped.translate(_TRANSLATE)
    international = cleaned.lstrip("( ").startswith("+")
    if international:
        cleaned = cleaned.replace("+", "", 1)
    if any(c not in _DIGITS and c not in _SEPARATORS for c in cleaned):
        raise PhoneError(PhoneErrorReason.BAD_CHARACTERS, text)
    digits = "".join(c for c in cleaned if c in _DIGITS)
    if not digits:
        raise PhoneError(PhoneErrorReason.WRONG_LENGTH, text)

    if international:
        if not digits.startswith("84"):
            raise PhoneError(PhoneErrorReason.UNKNOWN_PREFIX, text)
        national = _national(digits[2:])
    elif digits.startswith("0084"):
        national = _national(digits[4:])
    elif digits.startswith("84"):
        # No national number starts with 8, so a leading 84 is the country code.
        national = _national(digits[2:])
    else:
        national = digits

    if national == "0":
        raise PhoneError(PhoneErrorReason.WRONG_LENGTH, text)
    prefix = national[:2]
    if prefix in _MOBILE_PREFIXES:
        expected = _MOBILE_LEN
    elif prefix == _LANDLINE_PREFIX:
        expected = _LANDLINE_LEN
    else:
        raise PhoneError(PhoneErrorReason.UNKNOWN_PREFIX, text)
    if len(national) != expected:
        raise PhoneError(PhoneErrorReason.WRONG_LENGTH, text)
    return national


def _national(subscriber: str) -> str:
    """Add the trunk 0 after a country code, unless written as ``+84 (0) …``."""
    return subscriber if subscriber.startswith("0") else "0" + subscriber


def mask_phone(phone: str) -> str:
    """``0912***678``: enough to recognise a caller, not enough to call them."""
    try:
        digits = normalize_phone(phone)
    except PhoneError:
        digits = "".join(c for c in phone if c in _DIGITS)
    if len(digits) >= _MOBILE_LEN:
        return f"{digits[:4]}***{digits[-3:]}"
    if len(digits) >= 8:
        # Short or odd: show no more digits than are hidden.
        return f"{digits[:2]}***{digits[-2:]}"
    return "***"


class _Fold:
    """What the scanner reads each character as: one character for one, so a match's
    span in the folded text is its span in the original.

    Full-width and other scripts' digits read as ASCII digits, every space and
    invisible character (zero-width space, direction marks) as a space, dashes and
    full-width punctuation as their ASCII selves: a number written with any of them
    still reads as a number on a phone's screen.
    """

    def __getitem__(self, code: int) -> str:
        return _fold_char(chr(code))


@functools.lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    if c.isdecimal():
        return str(unicodedata.decimal(c))
    if c.isspace() or unicodedata.category(c) == "Cf":
        return " "
    if unicodedata.category(c) == "Pd" or c == "\u2212":
        return "-"
    if c in "\u00b7\u2027\u30fb":  # middle dots
        return "."
    compat = unicodedata.normalize("NFKC", c)  # superscripts, full-width punctuation
    return compat if compat in _PUNCTUATION or compat in _DIGITS else c


_PUNCTUATION = frozenset("+().-/,_")
_FOLD = _Fold()

# Between two digits: an optional closing parenthesis (``(0226) 3852``), a few spaces,
# then at most one of ``. - / , _`` and a few spaces more (``0912 - 345 - 678``).
_GAP = r"(?:\)? {0,3}(?:[.\-/,_] {0,3})?)"
_BODY = rf"(?P<body>[35789](?:{_GAP}[0-9]){{8}}|2(?:{_GAP}[0-9]){{9}})"
_INTL = rf"(?P<intl>\+ {{0,3}}84|0084|84){_GAP}(?:\(0\){_GAP}|0{_GAP})?"
_PHONE_IN_TEXT = re.compile(rf"(?<![0-9+])(?P<open>\()?(?:{_INTL}|0{_GAP}){_BODY}(?![0-9])")
# 84.912.345.678 is far likelier an amount (84 tỷ…) than a phone number.
_GROUPED_AMOUNT = re.compile(r"[0-9]{1,3}(?P<sep>[.,])[0-9]{3}(?:(?P=sep)[0-9]{3})*")
# Digits that run on like a phone number's, yet are dates and times: 05-11-2026 08:30,
# 05/11/2026 - 06/11/2026, 07.30-11.30, 13.00-17.00. Only where these cover the whole
# run: "09.12 345 678" starts like a time and is a phone number.
_TIME = r"(?:[01]?[0-9]|2[0-3])[.:h][0-5][0-9](?![0-9])"
_DATE = r"(?:0?[1-9]|[12][0-9]|3[01])[./\-](?:0?[1-9]|1[0-2])[./\-](?:19|20)[0-9]{2}(?![0-9])"
_DATES_AND_TIMES = re.compile(
    rf"(?<![0-9])\(?(?P<first>{_DATE}|{_TIME})(?: {{0,3}}[-,/]? {{0,3}}(?:{_DATE}|{_TIME}))*"
)
#: Past a phone-like run, how far its last date or time may reach; before it, how far
#: back its first date may start (``31-12-`` of ``31-12-2026``).
_DATE_REACH = 16
_DATE_BACK = 6
ELLIPSIS = "…"


def redact_phones(text: str, limit: int | None = None) -> str:
    """Mask every phone number in free text, however written; then cut it to `limit`.

    The one rule for free text that a group, a log or an error may show: a customer's
    name, an address, a description, a step's note. Numbers are masked as
    ``mask_phone`` masks the phone field (``0912***678``), whether written with
    spaces, dots, dashes, slashes, ``+84``, full-width digits or invisible characters
    between the digits. Amounts (``1.500.000``, ``84.912.345.678``), refs (``PL-17``),
    dates and times (``05-11-2026 08:30``, ``07.30-11.30, 13.00-17.00``) stay as they
    are.

    Masking comes before cutting, so a number across the cut cannot escape as a
    stub of its digits; a cut text ends with "…" and is at most `limit` long.
    """
    folded = text if text.isascii() else text.translate(_FOLD)
    out: list[str] = []
    kept = pos = 0
    while (match := _PHONE_IN_TEXT.search(folded, pos)) is not None:
        dates = None if match.group("intl") else _dates_over(folded, match)
        if dates is not None:
            # A number may hide behind the first date or time: look again from there.
            pos = max(dates.end("first"), match.start() + 1)
            continue
        pos = match.end()
        masked = _masked(match)
        if masked is not None:
            out += [text[kept : match.start()], masked]
            kept = match.end()
    out.append(text[kept:])
    result = "".join(out)
    if limit is not None and len(result) > limit:
        result = result[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS
    return result


def _dates_over(folded: str, match: re.Match[str]) -> re.Match[str] | None:
    """Dates and times that cover the whole match, which may start inside the first
    of them (``01-03-1990 00.00`` runs on like a phone number from its ``03``)."""
    reach = match.end() + _DATE_REACH
    for start in range(max(match.start() - _DATE_BACK, 0), match.start() + 1):
        dates = _DATES_AND_TIMES.match(folded, start, reach)
        if dates is not None and dates.end() >= match.end():
            return dates
    return None


def _masked(match: re.Match[str]) -> str | None:
    """The match's mask, or None where it is no phone number after all."""
    found = match.group()
    if match.group("intl") == "84" and _GROUPED_AMOUNT.fullmatch(found):
        return None
    masked = mask_phone("0" + "".join(c for c in match.group("body") if c in _DIGITS))
    if match.group("open") and ")" not in found:
        masked = "(" + masked
    return masked
