"""Cutting a long text into messages a platform accepts: the one splitter of the project.

Each platform counts a text's length its own way (`TextMeasure`), declared in its adapter's
`Capabilities`; the relay and both adapters cut with `split_text` under that measure, so a
part the relay sends never needs cutting again. Cuts fall at line ends where a line end is
within reach, else after a space in the second half of the piece, else anywhere.
"""

from __future__ import annotations

from enum import StrEnum

#: The text that ends a shortened message (`clip`).
ELLIPSIS = "…"


class TextMeasure(StrEnum):
    """How a platform counts the length of a text against its limit."""

    #: UTF-16 code units: Telegram's count (an emoji outside the BMP is two). Also taken for
    #: Zalo, whose docs say "characters" without saying which: this count is never below the
    #: other, so a text it lets through fits under either reading.
    UTF16 = "utf16"
    #: Unicode code points, Python's `len`.
    CODE_POINTS = "code_points"

    def length(self, text: str) -> int:
        if self is TextMeasure.CODE_POINTS:
            return len(text)
        return len(text.encode("utf-16-le")) // 2

    def width(self, char: str) -> int:
        """The length of one character."""
        return 2 if self is TextMeasure.UTF16 and ord(char) > 0xFFFF else 1


def fitting_end(text: str, start: int, limit: int, measure: TextMeasure) -> int:
    """The end of the longest run of `text` from `start` that fits `limit`."""
    used = 0
    end = start
    for char in text[start:]:
        used += measure.width(char)
        if used > limit:
            break
        end += 1
    return end


def pieces(text: str, limit: int, measure: TextMeasure = TextMeasure.UTF16) -> list[str]:
    """Every piece `text` is cut into, blank ones too: joined again, with the line end that
    each cut at a line end dropped, they give back `text` exactly."""
    if limit < 1:
        raise ValueError("a text limit must be at least 1")
    if measure.length(text) <= limit:  # nearly every message: no walk through it
        return [text]
    found: list[str] = []
    start = 0
    while True:
        # At least one character, so one wider than the limit still moves us on.
        end = max(fitting_end(text, start, limit, measure), start + 1)
        if end >= len(text):
            found.append(text[start:])
            return found
        line_end = text.rfind("\n", start, end + 1)  # a line end right after the run counts
        if line_end >= 0:
            found.append(text[start:line_end])
            start = line_end + 1
            continue
        space = text.rfind(" ", start, end)
        if space - start > (end - start) // 2:
            end = space + 1  # the space stays at the end of the piece
        found.append(text[start:end])
        start = end


def split_text(text: str, limit: int, measure: TextMeasure = TextMeasure.UTF16) -> list[str]:
    """The messages `text` goes out as, each at most `limit` long; none blank, because the
    platforms refuse an empty text (a blank text gives no messages at all)."""
    return [piece for piece in pieces(text, limit, measure) if piece.strip()]


def clip(text: str, limit: int, measure: TextMeasure = TextMeasure.UTF16) -> str:
    """`text` cut short to fit `limit`, ending in an ellipsis: for an edit, which cannot
    grow into several messages."""
    if measure.length(text) <= limit:
        return text
    room = limit - measure.length(ELLIPSIS)
    return text[: fitting_end(text, 0, room, measure)] + ELLIPSIS if room > 0 else ELLIPSIS
