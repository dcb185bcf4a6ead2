"""normalize_phone / mask_phone / redact_phones: one stored form, no leaked numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import DomainError
from bot.domain.phone import (
    PhoneError,
    PhoneErrorReason,
    mask_phone,
    normalize_phone,
    redact_phones,
)

ACCEPTED: list[tuple[str, str]] = [
    ("0912345678", "0912345678"),
    ("0912 345 678", "0912345678"),
    ("0912.345.678", "0912345678"),
    ("0912-345-678", "0912345678"),
    ("091 234 5678", "0912345678"),
    ("0912 - 345 - 678", "0912345678"),
    ("  0912345678\n", "0912345678"),
    ("0331234567", "0331234567"),
    ("0561234567", "0561234567"),
    ("0701234567", "0701234567"),
    ("0861234567", "0861234567"),
    ("+84 912 345 678", "0912345678"),
    ("+84912345678", "0912345678"),
    ("+84-912-345-678", "0912345678"),
    ("84912345678", "0912345678"),
    ("84 912 345 678", "0912345678"),
    ("0084 912 345 678", "0912345678"),
    ("+84 (0) 912 345 678", "0912345678"),
    ("+840912345678", "0912345678"),
    ("(+84) 912 345 678", "0912345678"),
    ("0226 3852 123", "02263852123"),
    ("(0226) 3852 123", "02263852123"),
    ("0226.3852.123", "02263852123"),
    ("024 3825 1234", "02438251234"),
    ("+84 24 3825 1234", "02438251234"),
    ("０９１２３４５６７８", "0912345678"),
    ("0912\u00a0345\u00a0678", "0912345678"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_normalizes_the_ways_numbers_are_written(text: str, expected: str) -> None:
    assert normalize_phone(text) == expected


REJECTED: list[tuple[str, PhoneErrorReason]] = [
    ("", PhoneErrorReason.EMPTY),
    ("   ", PhoneErrorReason.EMPTY),
    ("0912abc678", PhoneErrorReason.BAD_CHARACTERS),
    ("0912/345/678", PhoneErrorReason.BAD_CHARACTERS),
    ("0912+345678", PhoneErrorReason.BAD_CHARACTERS),
    ("tel:0912345678", PhoneErrorReason.BAD_CHARACTERS),
    ("٠٩١٢٣٤٥٦٧٨", PhoneErrorReason.BAD_CHARACTERS),  # Arabic-Indic digits
    ("091234567", PhoneErrorReason.WRONG_LENGTH),
    ("09123456789", PhoneErrorReason.WRONG_LENGTH),
    ("0226385212", PhoneErrorReason.WRONG_LENGTH),
    ("022638521234", PhoneErrorReason.WRONG_LENGTH),
    ("+84 91234567", PhoneErrorReason.WRONG_LENGTH),
    ("0", PhoneErrorReason.WRONG_LENGTH),
    ("+", PhoneErrorReason.WRONG_LENGTH),
    ("---", PhoneErrorReason.WRONG_LENGTH),
    ("0" + "9" * 100, PhoneErrorReason.WRONG_LENGTH),
    ("912345678", PhoneErrorReason.UNKNOWN_PREFIX),
    ("01234567890", PhoneErrorReason.UNKNOWN_PREFIX),
    ("0412345678", PhoneErrorReason.UNKNOWN_PREFIX),
    ("0612345678", PhoneErrorReason.UNKNOWN_PREFIX),
    ("1900 1234", PhoneErrorReason.UNKNOWN_PREFIX),
    ("+1 555 123 4567", PhoneErrorReason.UNKNOWN_PREFIX),
    ("0044 20 7946 0018", PhoneErrorReason.UNKNOWN_PREFIX),
]


@pytest.mark.parametrize(("text", "reason"), REJECTED)
def test_rejects_with_a_reason(text: str, reason: PhoneErrorReason) -> None:
    with pytest.raises(PhoneError) as caught:
        normalize_phone(text)
    assert caught.value.reason is reason
    assert caught.value.text == text


def test_error_message_does_not_carry_the_number() -> None:
    with pytest.raises(PhoneError) as caught:
        normalize_phone("09123456789")
    assert "9123456789" not in str(caught.value)
    assert issubclass(PhoneError, DomainError)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("0912345678", "0912***678"),
        ("02263852123", "0226***123"),
        ("+84 912 345 678", "0912***678"),
        ("0912 345 678", "0912***678"),
        ("12345678", "12***78"),
        ("123456789", "12***89"),
        ("1234567", "***"),
        ("123", "***"),
        ("", "***"),
        ("no digits", "***"),
    ],
)
def test_mask_keeps_four_and_three_with_three_stars(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Gọi 0912345678 ngay", "Gọi 0912***678 ngay"),
        ("sđt: 0912 345 678, cảm ơn", "sđt: 0912***678, cảm ơn"),
        ("sđt 0912.345.678.", "sđt 0912***678."),
        ("KH +84 912 345 678 báo mất điện", "KH 0912***678 báo mất điện"),
        ("KH 84912345678 báo", "KH 0912***678 báo"),
        ("KH 0084 912 345 678", "KH 0912***678"),
        ("gọi (0912345678)", "gọi (0912***678)"),
        ("cơ quan (0226) 3852 123", "cơ quan 0226***123"),
        ("0912345678,0987654321", "0912***678,0987***321"),
        ("0912345678 0987654321", "0912***678 0987***321"),
        ("0912-345-678 gọi lại", "0912***678 gọi lại"),
    ],
)
def test_redact_masks_numbers_inside_sentences(text: str, redacted: str) -> None:
    assert redact_phones(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "chi phí 1.500.000 đ",
        "chi phí 1,500,000 đ",
        "chi phí 84.912.345.678 đ",
        "ngày 27/11/2026",
        "ngày 05-11-2026 08:30",
        "hồ sơ PL-17",
        "mã 09123456789",  # eleven digits: not a Vietnamese mobile
        "số 0412345678",  # unused prefix
        "tổng 1500000",
        "",
    ],
)
def test_redact_leaves_amounts_dates_and_refs_alone(text: str) -> None:
    assert redact_phones(text) == text


@given(st.text())
def test_normalize_never_raises_anything_but_phone_error(text: str) -> None:
    try:
        result = normalize_phone(text)
    except PhoneError:
        return
    assert result.isdigit()
    assert len(result) in (10, 11)


_mobiles = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["03", "05", "07", "08", "09"]),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)
_landlines = st.builds(
    lambda rest: "02" + rest,
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
_phones = st.one_of(_mobiles, _landlines)


def _written(national: str, sep: str, style: str) -> str:
    """One of the ways a person writes the number, with a single separator kind."""
    head, mid, tail = national[:4], national[4:-3], national[-3:]
    grouped = sep.join([head, mid, tail])
    subscriber = sep.join([national[1:4], mid, tail])
    if style == "plus":
        return f"+84 {subscriber}"
    if style == "bare":
        return ("84 " if sep == " " else "84") + subscriber
    if style == "double_zero":
        return f"0084 {subscriber}"
    return grouped


_seps = st.sampled_from(["", " ", ".", "-"])
_styles = st.sampled_from(["national", "plus", "bare", "double_zero"])


@given(_phones, _seps, _styles)
def test_normalize_reads_every_written_form_back(national: str, sep: str, style: str) -> None:
    assert normalize_phone(_written(national, sep, style)) == national


@given(_phones, _seps, _styles)
def test_normalize_is_idempotent(national: str, sep: str, style: str) -> None:
    once = normalize_phone(_written(national, sep, style))
    assert normalize_phone(once) == once


@given(st.text(max_size=30))
def test_normalize_is_idempotent_on_arbitrary_text(text: str) -> None:
    try:
        once = normalize_phone(text)
    except PhoneError:
        return
    assert normalize_phone(once) == once


@given(_phones)
def test_mask_never_shows_the_middle_digits(national: str) -> None:
    masked = mask_phone(national)
    assert masked == national[:4] + "***" + national[-3:]
    assert sum(c.isdigit() for c in masked) == 7


@given(st.text())
def test_mask_never_shows_more_digits_than_it_hides(text: str) -> None:
    masked = mask_phone(text)
    shown = sum(c.isdigit() for c in masked)
    assert masked.count("*") == 3
    if shown:
        digits = sum(c.isdecimal() for c in text)
        assert shown <= 7 and digits - shown >= 3
        if digits < 10:
            assert shown <= digits - shown


_no_digits = st.text(
    alphabet=st.characters().filter(lambda c: not c.isdecimal() and c not in "+("),
    max_size=20,
)


@given(_phones, _seps, _styles, _no_digits, _no_digits)
def test_redact_removes_the_national_digits(
    national: str, sep: str, style: str, before: str, after: str
) -> None:
    text = f"{before} {_written(national, sep, style)} {after}"
    redacted = redact_phones(text)
    assert national not in redacted
    assert national[4:] not in redacted.replace(" ", "").replace(".", "").replace("-", "")
    assert mask_phone(national) in redacted


@given(st.integers(min_value=0, max_value=100_000_000_000), st.sampled_from([".", ","]))
def test_redact_leaves_grouped_amounts_alone(amount: int, sep: str) -> None:
    text = f"chi phí {amount:,} đ".replace(",", sep)
    assert redact_phones(text) == text


@given(_no_digits)
def test_redact_leaves_text_without_digits_alone(text: str) -> None:
    assert redact_phones(text) == text
