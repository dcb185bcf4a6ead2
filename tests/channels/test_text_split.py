"""The one text splitter: every part fits as the platform counts, nothing is lost, and the
cuts fall at line ends (else after a space) wherever they can.

There were three splitters (the relay's, Telegram's, Zalo's) and they disagreed: the relay
cut an over-long Zalo line at exactly 2,000 units where the Zalo adapter cut after a space.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.base import Outbound
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram import render as telegram_render
from bot.channels.text import TextMeasure, clip, pieces, split_text
from bot.channels.zalo import ZaloChannel, ZaloRenderer
from bot.i18n import Lang, Translator

#: Short lines and words, blank lines, accents and emoji that count twice in UTF-16.
TEXTS = st.text(alphabet=st.sampled_from(["a", "b", "ễ", " ", "\n", "😀", "⚡"]), max_size=300)
LIMITS = st.integers(min_value=2, max_value=40)
MEASURES = st.sampled_from(list(TextMeasure))


def rejoined(text: str, parts: list[str]) -> bool:
    """Walk `text` through `parts`: each starts where the last ended, past the line end a
    cut at a line end drops (a cut inside a line drops nothing); nothing is left over."""
    at = 0
    for index, part in enumerate(parts):
        if not text.startswith(part, at):
            return False
        at += len(part)
        if index < len(parts) - 1 and text[at : at + 1] == "\n":
            at += 1
    return at == len(text)


@settings(max_examples=400)
@given(TEXTS, LIMITS, MEASURES)
def test_every_part_fits_and_the_parts_rejoin_to_the_text(
    text: str, limit: int, measure: TextMeasure
) -> None:
    found = pieces(text, limit, measure)
    assert all(measure.length(p) <= limit for p in found)
    assert rejoined(text, found)
    assert split_text(text, limit, measure) == [p for p in found if p.strip()]
    assert all(p.strip() for p in split_text(text, limit, measure))


@settings(max_examples=400)
@given(TEXTS, LIMITS, MEASURES)
def test_cuts_fall_at_line_ends_when_they_can_and_take_as_many_lines_as_fit(
    text: str, limit: int, measure: TextMeasure
) -> None:
    found = pieces(text, limit, measure)
    at = 0
    for part in found[:-1]:
        end = at + len(part)
        if text[end] == "\n":  # cut at a line end: the next line would not have fit too
            next_line = text[end + 1 :].split("\n")[0]
            assert measure.length(f"{part}\n{next_line}") > limit
            at = end + 1
        else:  # cut inside a line: only when no line end was within reach,
            assert "\n" not in part
            # ... and after a space, when its second half has one.
            assert part.endswith(" ") or " " not in part[len(part) // 2 + 1 :]
            at = end


def test_telegram_counts_utf16_units_and_zalo_too_so_emoji_never_overflow() -> None:
    emoji = "😀" * 3000  # 3,000 characters, 6,000 UTF-16 units
    assert TextMeasure.UTF16.length(emoji) == 6000
    assert TextMeasure.CODE_POINTS.length(emoji) == 3000
    for channel in (TelegramChannel, ZaloChannel):
        caps = channel.capabilities
        assert caps.measure is TextMeasure.UTF16
        assert all(TextMeasure.UTF16.length(p) <= caps.max_text for p in caps.split(emoji))


def test_a_telegram_caption_holds_1024_units_a_zalo_caption_a_whole_text() -> None:
    assert TelegramChannel.capabilities.fits_caption("x" * 1024)
    assert not TelegramChannel.capabilities.fits_caption("😀" * 513)
    assert ZaloChannel.capabilities.fits_caption("x" * 2000)
    assert not ZaloChannel.capabilities.fits_caption("x" * 2001)


def test_the_relay_cuts_exactly_as_each_adapter_would() -> None:
    """A long line of words: the relay used to cut it at the limit, mid-word, where the Zalo
    adapter cut after a space; the adapter then had to cut the relay's parts again."""
    words = " ".join(["đóng điện mới"] * 400)  # one 5,599-character line
    zalo = ZaloRenderer(Translator(), Lang.VI)
    for channel, adapter_parts in (
        (ZaloChannel, [p.text for p in zalo.render(Outbound(words))]),
        (TelegramChannel, [p.text for p in telegram_render(Outbound(words))]),
    ):
        relay_parts = [m.text for m in Outbound(words).parts(channel.capabilities)]
        assert relay_parts == adapter_parts
        assert all(p.endswith(" ") for p in relay_parts[:-1])  # between words


def test_a_clipped_edit_fits_and_ends_in_an_ellipsis() -> None:
    assert clip("short", 10) == "short"
    assert clip("a" * 20, 10) == "a" * 9 + "…"
    assert clip("😀" * 10, 6) == "😀😀…"  # 5 units: a third emoji would not fit
    assert TextMeasure.UTF16.length(clip("😀" * 5000, 4096)) <= 4096
