"""One rule for digits people type: ASCII and full-width, nothing else."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.digits import is_digits, whole_number


@pytest.mark.parametrize(
    ("text", "number"),
    [("9", 9), (" 10 ", 10), ("０９", 9), ("１２３", 123), ("007", 7)],
)
def test_ascii_and_full_width_digits_are_numbers(text: str, number: int) -> None:
    assert whole_number(text) == number
    assert is_digits(text.strip())


@pytest.mark.parametrize("text", ["²", "①", "٣", "৩", "½", "", " ", "1 2", "-1", "+1", "1.0", "x"])
def test_anything_else_is_not_a_number(text: str) -> None:
    assert whole_number(text) is None
    assert not is_digits(text)


def test_a_long_run_of_digits_is_refused_before_int_reads_it() -> None:
    assert whole_number("9" * 18) == int("9" * 18)
    assert whole_number("9" * 19) is None
    assert whole_number("9" * 5000) is None  # int() would refuse it with a ValueError
    assert whole_number("12", max_digits=1) is None


@given(st.text(max_size=6))
def test_never_raises_and_agrees_with_is_digits(text: str) -> None:
    number = whole_number(text)
    assert (number is not None) == is_digits(text.strip())
    if number is not None:
        assert all(unicodedata.category(c) == "Nd" for c in text.strip())
