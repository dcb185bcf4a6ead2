"""parse_vnd / format_vnd: the forms crews type, and the ones the bot must ask about."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.amounts import (
    MAX_VND,
    AmountError,
    AmountErrorReason,
    format_vnd,
    parse_vnd,
)
from bot.domain.errors import DomainError

ACCEPTED: list[tuple[str, int]] = [
    # plain and thousands-grouped
    ("1500000", 1_500_000),
    ("1.500.000", 1_500_000),
    ("1,500,000", 1_500_000),
    ("1 500 000", 1_500_000),
    ("1\u00a0500\u00a0000", 1_500_000),
    ("1.000", 1_000),
    ("999", 999),
    ("0", 0),
    ("0đ", 0),
    ("0k", 0),
    ("  250000  ", 250_000),
    # thousands
    ("1500k", 1_500_000),
    ("1500K", 1_500_000),
    ("1.5k", 1_500),
    ("2.25k", 2_250),
    ("500 nghìn", 500_000),
    ("500 nghin", 500_000),
    ("500 ngàn", 500_000),
    ("500 ngan", 500_000),
    ("500ng", 500_000),
    ("500n", 500_000),
    ("1 500k", 1_500_000),
    ("1.500.000k", 1_500_000_000),
    # millions
    ("2tr", 2_000_000),
    ("2TR", 2_000_000),
    ("1,5tr", 1_500_000),
    ("1.5 triệu", 1_500_000),
    ("1,5 triệu", 1_500_000),
    ("1,5 TRIỆU", 1_500_000),
    ("2 trieu", 2_000_000),
    ("0.5tr", 500_000),
    # billions
    ("1 tỷ", 1_000_000_000),
    ("1ty", 1_000_000_000),
    ("1 tỉ", 1_000_000_000),
    ("2,5 tỷ", 2_500_000_000),
    ("100 tỷ", MAX_VND),
    # digits after a unit continue it
    ("1tr5", 1_500_000),
    ("1tr 5", 1_500_000),
    ("1tr250", 1_250_000),
    ("1tr05", 1_050_000),
    ("2k5", 2_500),
    ("1 tỷ 2", 1_200_000_000),
    # descending unit groups add up
    ("1tr500k", 1_500_000),
    ("1 triệu 500 nghìn", 1_500_000),
    ("1 tỷ 200 triệu", 1_200_000_000),
    ("1 tỷ 200 triệu 5", 1_200_500_000),
    ("1 tỷ 5k", 1_000_005_000),
    # currency marks
    ("1500000đ", 1_500_000),
    ("1.500.000 đ", 1_500_000),
    ("1.500.000 Đ", 1_500_000),
    ("1500000d", 1_500_000),
    ("1500000 đồng", 1_500_000),
    ("1500000 dong", 1_500_000),
    ("1500000vnd", 1_500_000),
    ("1.500.000 VND", 1_500_000),
    ("1.500.000 VNĐ", 1_500_000),
    ("1500000 ₫", 1_500_000),
    ("VND 1.500.000", 1_500_000),
    ("₫500", 500),
    ("500k đ", 500_000),
    ("2 triệu đồng", 2_000_000),
    ("500 ngàn đồng", 500_000),
    # full-width IME digits
    ("１５００", 1_500),
    ("１．５k", 1_500),
    # decomposed (NFD) diacritics, as some keyboards send them
    ("2 trie\u0302\u0323u", 2_000_000),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepts_the_forms_people_type(text: str, expected: int) -> None:
    assert parse_vnd(text) == expected


REJECTED: list[tuple[str, AmountErrorReason]] = [
    ("", AmountErrorReason.EMPTY),
    ("   ", AmountErrorReason.EMPTY),
    ("\n\t", AmountErrorReason.EMPTY),
    ("-500k", AmountErrorReason.NEGATIVE),
    ("\u2212500k", AmountErrorReason.NEGATIVE),
    ("- 1.500.000 đ", AmountErrorReason.NEGATIVE),
    ("-0", AmountErrorReason.NEGATIVE),
    ("-", AmountErrorReason.NOT_A_NUMBER),
    ("-abc", AmountErrorReason.NOT_A_NUMBER),
    ("abc", AmountErrorReason.NOT_A_NUMBER),
    ("1e6", AmountErrorReason.NOT_A_NUMBER),
    ("0x10", AmountErrorReason.NOT_A_NUMBER),
    ("+500", AmountErrorReason.NOT_A_NUMBER),
    ("1/2", AmountErrorReason.NOT_A_NUMBER),
    ("đ", AmountErrorReason.NOT_A_NUMBER),
    ("vnd", AmountErrorReason.NOT_A_NUMBER),
    ("k", AmountErrorReason.NOT_A_NUMBER),
    ("k500", AmountErrorReason.NOT_A_NUMBER),
    ("500m", AmountErrorReason.NOT_A_NUMBER),
    ("2 củ", AmountErrorReason.NOT_A_NUMBER),
    ("1.", AmountErrorReason.NOT_A_NUMBER),
    (".5k", AmountErrorReason.NOT_A_NUMBER),
    ("1..5k", AmountErrorReason.NOT_A_NUMBER),
    ("1.50.000", AmountErrorReason.NOT_A_NUMBER),
    ("15 00", AmountErrorReason.NOT_A_NUMBER),
    ("1\t500", AmountErrorReason.NOT_A_NUMBER),
    ("500k k", AmountErrorReason.NOT_A_NUMBER),
    ("\u0661\u0665\u0660\u0660", AmountErrorReason.NOT_A_NUMBER),  # Arabic-Indic digits
    ("5²", AmountErrorReason.NOT_A_NUMBER),
    ("1" * 65, AmountErrorReason.NOT_A_NUMBER),
    ("1.500,000", AmountErrorReason.AMBIGUOUS),
    ("1,500.000", AmountErrorReason.AMBIGUOUS),
    ("1 500.000", AmountErrorReason.AMBIGUOUS),
    ("1,5", AmountErrorReason.AMBIGUOUS),
    ("1.5", AmountErrorReason.AMBIGUOUS),
    ("1.5 đ", AmountErrorReason.AMBIGUOUS),
    ("1.500k", AmountErrorReason.AMBIGUOUS),
    ("1,500 tr", AmountErrorReason.AMBIGUOUS),
    ("1k5000", AmountErrorReason.AMBIGUOUS),
    ("1.5tr5", AmountErrorReason.AMBIGUOUS),
    ("1.5tr 200k", AmountErrorReason.AMBIGUOUS),
    ("1tr 1500k", AmountErrorReason.AMBIGUOUS),
    ("1k 2tr", AmountErrorReason.AMBIGUOUS),
    ("1tr 2tr", AmountErrorReason.AMBIGUOUS),
    ("1.2345k", AmountErrorReason.FRACTIONAL),
    ("0,0005k", AmountErrorReason.FRACTIONAL),
    ("101 tỷ", AmountErrorReason.TOO_LARGE),
    ("100.000.000.001", AmountErrorReason.TOO_LARGE),
    ("9" * 64, AmountErrorReason.TOO_LARGE),
]


@pytest.mark.parametrize(("text", "reason"), REJECTED)
def test_rejects_with_the_reason_a_handler_can_explain(
    text: str, reason: AmountErrorReason
) -> None:
    with pytest.raises(AmountError) as caught:
        parse_vnd(text)
    assert caught.value.reason is reason
    assert caught.value.text == text


def test_decimal_comma_needs_a_unit() -> None:
    with pytest.raises(AmountError) as caught:
        parse_vnd("1,5")
    assert caught.value.reason is AmountErrorReason.AMBIGUOUS
    assert parse_vnd("1,5tr") == 1_500_000


def test_one_dot_and_three_digits_before_a_unit_is_ambiguous() -> None:
    assert parse_vnd("1.500") == 1_500
    with pytest.raises(AmountError) as caught:
        parse_vnd("1.500 triệu")
    assert caught.value.reason is AmountErrorReason.AMBIGUOUS


def test_amount_error_is_a_domain_error_so_handlers_can_reply() -> None:
    assert issubclass(AmountError, DomainError)


def test_huge_input_is_refused_without_parsing() -> None:
    with pytest.raises(AmountError) as caught:
        parse_vnd("1" * 10_000_000)
    assert caught.value.reason is AmountErrorReason.NOT_A_NUMBER
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0, "0 đ"),
        (5, "5 đ"),
        (999, "999 đ"),
        (1_000, "1.000 đ"),
        (1_500_000, "1.500.000 đ"),
        (MAX_VND, "100.000.000.000 đ"),
    ],
)
def test_format_groups_thousands_with_dots(amount: int, shown: str) -> None:
    assert format_vnd(amount) == shown


@given(st.text())
def test_parse_never_raises_anything_but_amount_error(text: str) -> None:
    try:
        value = parse_vnd(text)
    except AmountError:
        return
    assert 0 <= value <= MAX_VND


@given(st.text(alphabet="0123456789.,  -−ktrđdnvgiệuỷyvnđồ₫", max_size=20))
def test_parse_never_raises_anything_but_amount_error_on_amount_like_text(text: str) -> None:
    try:
        value = parse_vnd(text)
    except AmountError:
        return
    assert 0 <= value <= MAX_VND


@given(st.integers(min_value=0, max_value=MAX_VND))
def test_format_then_parse_round_trips(amount: int) -> None:
    assert parse_vnd(format_vnd(amount)) == amount


@given(
    st.integers(min_value=0, max_value=MAX_VND),
    st.sampled_from([".", ",", " "]),
    st.sampled_from(["", "đ", " đ", " VND", " đồng"]),
)
def test_thousands_separated_ints_parse_back(amount: int, sep: str, suffix: str) -> None:
    text = f"{amount:,}".replace(",", sep) + suffix
    assert parse_vnd(text) == amount


@given(st.integers(min_value=1, max_value=MAX_VND))
def test_negative_of_any_valid_amount_is_negative(amount: int) -> None:
    with pytest.raises(AmountError) as caught:
        parse_vnd(f"-{amount}")
    assert caught.value.reason is AmountErrorReason.NEGATIVE


@given(st.integers(min_value=MAX_VND + 1, max_value=10**30))
def test_above_the_maximum_is_too_large(amount: int) -> None:
    with pytest.raises(AmountError) as caught:
        parse_vnd(str(amount))
    assert caught.value.reason is AmountErrorReason.TOO_LARGE


@given(st.integers(min_value=0, max_value=99_999), st.integers(min_value=0, max_value=999))
def test_thousands_and_remainder_in_k_units_add_up(thousands: int, rest: int) -> None:
    assert parse_vnd(f"{thousands}k{rest:03d}") == thousands * 1_000 + rest
