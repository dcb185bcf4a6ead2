"""Digits people type, read by one rule everywhere.

`str.isdigit()` is true for `²`, `①`, `٣` and other characters that `int()` refuses
or reads as something nobody meant, so a check with one and a conversion with the
other crashed on them. People type ASCII digits; a CJK-style input method gives
full-width ones (`１２`), which are read as digits on purpose (as amounts do).
Nothing else is a digit: `/rate PL-17 ²` is asked again, never guessed.
"""

from __future__ import annotations

from typing import Final

#: Full-width digits from an IME, and the ASCII digit each stands for.
FULL_WIDTH_DIGITS: Final = {chr(0xFF10 + i): str(i) for i in range(10)}
_TO_ASCII: Final = str.maketrans(FULL_WIDTH_DIGITS)
#: More digits than any number people type here; int() of a long run costs time.
MAX_DIGITS: Final = 18


def ascii_digits(text: str) -> str:
    """`text` with full-width digits made ASCII; every other character as it was."""
    return text.translate(_TO_ASCII)


def is_digits(text: str) -> bool:
    """Only digits (ASCII or full-width), at least one."""
    plain = ascii_digits(text)
    return plain.isascii() and plain.isdigit()


def whole_number(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """The non-negative whole number `text` spells (spaces around allowed), else None."""
    plain = ascii_digits(text.strip())
    if not (plain.isascii() and plain.isdigit()) or len(plain) > max_digits:
        return None
    return int(plain)
