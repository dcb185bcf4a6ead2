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


# --------------------------------------------------------------------------- free text
# Issue 12: numbers typed into a name, an address or a note reached the groups in full
# when written with full-width digits, mixed separators or invisible characters, and
# a number across the 300-character cut escaped the mask.

FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Nguyễn Văn Tâm 0913.456.789", "Nguyễn Văn Tâm 0913***789"),
        ("ĐT cơ quan 0226 3852 123", "ĐT cơ quan 0226***123"),
        ("gọi ０９１３４５６７８９ nhé", "gọi 0913***789 nhé"),
        ("gọi ０９１３．４５６．７８９", "gọi 0913***789"),
        ("＋８４ ９１３ ４５６ ７８９", "0913***789"),
        ("số +84 913 456 789", "số 0913***789"),
        ("(+84) 913-456-789", "0913***789"),
        ("0913 456.789", "0913***789"),  # mixed separators
        ("0913.456-789", "0913***789"),
        ("0913/456/789", "0913***789"),
        ("0913_456_789", "0913***789"),
        ("0913 – 456 – 789", "0913***789"),  # en dashes
        ("0913\u200b456\u200b789", "0913***789"),  # zero-width spaces
        ("0913\u00ad456\u00ad789", "0913***789"),  # soft hyphens
        ("0913\u3000456\u3000789", "0913***789"),  # ideographic spaces
        ("٠٩١٣٤٥٦٧٨٩", "0913***789"),  # Arabic-Indic digits
        ("⁰⁹¹³⁴⁵⁶⁷⁸⁹", "0913***789"),  # superscripts
        ("sđt0913456789", "sđt0913***789"),
        ("09.13.45.67.89", "0913***789"),
        ("09.13 456 789", "0913***789"),  # starts like a time, is a phone number
        ("hẹn 05-11-2026, gọi 0913456789", "hẹn 05-11-2026, gọi 0913***789"),
        ("05/11/2026 0913 456 789", "05/11/2026 0913***789"),
        ("05-11-2026 09.13 456 789", "05-11-2026 0913***789"),
    ],
)
def test_redact_masks_every_way_of_writing_a_number(text: str, redacted: str) -> None:
    assert redact_phones(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "hồ sơ PL-17, TTHCC-PL-2026-00123",
        "dự toán 1.500.000 đ, khách 2.350.000đ",
        "1,5tr và 12.000.000 VND",
        "công tơ CT-0815, chỉ số 012345",
        "công tơ số 21052345678 chỉ số 0456",
        "hẹn 07.30-11.30, 13.00-17.00",
        "lúc 08.30, 09.15, 10.00, 10.45",
        "từ 05/11/2026 - 06/11/2026",
        "ngày 05.11.2026 08.30",
        "2026-11-05T08:30:00+07:00",
        "tọa độ 20.54321, 105.91234",
        "CCCD 001203012345",
        "mã 09123456789",
        "0,5 triệu",
        "Ｐ Ｌ －１７",
    ],
)
def test_redact_leaves_what_is_no_phone_number(text: str) -> None:
    assert redact_phones(text) == text


def test_a_number_across_the_cut_is_masked_before_the_cut() -> None:
    head = "x" * 290
    text = f"{head} 0913 456 789 gọi sau"
    shown = redact_phones(text, limit=300)
    assert len(shown) == 300
    assert shown.endswith("…")
    assert shown.startswith(head + " 0913***")
    assert "456" not in shown
    # Cutting first, as the card once did, leaves a stub no rule can know for a number.
    assert redact_phones(text[:300]) == text[:300]


def test_short_text_is_not_cut() -> None:
    assert redact_phones("gọi 0913456789", limit=300) == "gọi 0913***789"
    assert redact_phones("abc", limit=3) == "abc"
    assert redact_phones("abcd", limit=3) == "ab…"


_GAPS = st.sampled_from(
    ["", " ", ".", "-", " - ", "/", "_", ",", "\u200b", "\u00a0", "\u3000", "．", "－", "–"]
)


@st.composite
def _any_writing(draw: st.DrawFn) -> tuple[str, str]:
    """A phone number written as people and pranksters write it: (national, as written)."""
    national = draw(_phones)
    digits = list(national[1:])
    prefix = draw(st.sampled_from(["0", "+84 ", "+84", "84", "0084 ", "(+84) ", "+84 (0) "]))
    written = prefix + "".join(
        d + (draw(_GAPS) if i < len(digits) - 1 else "") for i, d in enumerate(digits)
    )
    if draw(st.booleans()):
        written = written.translate(FULL_WIDTH)
    return national, written


def _digit_stream(text: str) -> str:
    """The text's digits in order, whatever script they are in."""
    return "".join(str(int(c)) for c in text if c.isdecimal())


@given(_any_writing(), _no_digits, _no_digits)
def test_redact_hides_any_writing_of_a_number(
    written: tuple[str, str], before: str, after: str
) -> None:
    national, text = written
    redacted = redact_phones(f"{before} {text} {after}")
    assert national not in _digit_stream(redacted)
    assert mask_phone(national) in redacted


@given(
    _any_writing(),
    st.text(alphabet="abc đư ", max_size=320),
    _no_digits,
    st.integers(min_value=1, max_value=400),
)
def test_masking_comes_before_the_cut_wherever_it_falls(
    written: tuple[str, str], before: str, after: str, limit: int
) -> None:
    national, text = written
    whole = f"{before} {text} {after}"
    shown = redact_phones(whole, limit=limit)
    assert len(shown) <= limit
    # The only digits shown are (a beginning of) the mask's.
    assert _digit_stream(mask_phone(national)).startswith(_digit_stream(shown))
    full = redact_phones(whole)
    assert shown == full or (shown.endswith("…") and full.startswith(shown[:-1]))


@given(
    st.integers(min_value=1, max_value=31),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1990, max_value=2099),
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=0, max_value=59),
    st.sampled_from(["-", "/", "."]),
    st.sampled_from([":", ".", "h"]),
)
def test_redact_leaves_dates_and_times_alone(
    day: int, month: int, year: int, hour: int, minute: int, sep: str, colon: str
) -> None:
    text = f"hẹn {day:02d}{sep}{month:02d}{sep}{year} {hour:02d}{colon}{minute:02d} nhé"
    assert redact_phones(text) == text


@given(st.text())
def test_redact_never_shows_more_digits_than_it_was_given(text: str) -> None:
    redacted = redact_phones(text)
    assert len(_digit_stream(redacted)) <= len(_digit_stream(text))
    assert redact_phones(text, limit=50) == redacted or len(redact_phones(text, limit=50)) <= 50
