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

import re
from enum import StrEnum

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
        **{chr(0xFF10 + i): str(i) for i in range(10)},
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


# Between two digits: an optional closing parenthesis (``(0226) 3852``), then
# a space, a dot or a dash, the dash possibly spaced (``0912 - 345 - 678``).
_SEP = r"(?:\)?[ \u00a0]?(?:[.\-\u2010\u2011\u2013][ \u00a0]?)?)"
_BODY = rf"(?P<body>[35789](?:{_SEP}[0-9]){{8}}|2(?:{_SEP}[0-9]){{9}})"
_INTL = rf"(?P<intl>\+[ \u00a0]?84|0084|84){_SEP}(?:\(0\){_SEP}|0{_SEP})?"
_PHONE_IN_TEXT = re.compile(rf"(?<![0-9+])(?P<open>\()?(?:{_INTL}|0{_SEP}){_BODY}(?![0-9])")
_SEPARATOR_RUN = re.compile(r"[^0-9]+")
# 84.912.345.678 is far likelier an amount (84 tỷ…) than a phone number.
_GROUPED_AMOUNT = re.compile(r"[0-9]{1,3}(?P<sep>[.,])[0-9]{3}(?:(?P=sep)[0-9]{3})*")


def redact_phones(text: str) -> str:
    """Mask every phone number in free text, leaving amounts, dates and refs alone.

    To spare dates and times (``05-11-2026 08:30``), a number whose digits mix
    separator kinds after the prefix (``0912 345.678``) is left as it is, and so
    is a bare ``84`` grouped like an amount (``84.912.345.678``).
    """
    return _PHONE_IN_TEXT.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    found = match.group()
    if match.group("intl") == "84" and _GROUPED_AMOUNT.fullmatch(found):
        return found
    body = match.group("body").replace("(", "").replace(")", "")
    if len(set(_SEPARATOR_RUN.findall(body))) > 1:
        # Mixed separators, e.g. "05-11-2026 08:30": a date and a time, not a phone.
        return found
    masked = mask_phone(found)
    if match.group("open") and ")" not in found:
        masked = "(" + masked
    return masked
