"""Where a key of a TOML text is written, so a check can point the operator at a line.

Not a TOML parser: the text has already parsed; this only finds keys again so a
semantic error can name its line.
"""

from __future__ import annotations

import re

#: A key path as the checks walk it: table names, then list indexes (from 0).
KeyPath = tuple[str | int, ...]


_BARE_KEY = r"[A-Za-z0-9_-]+"
_QUOTED_KEY = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_ONE_KEY = rf"(?:{_BARE_KEY}|{_QUOTED_KEY})"
_DOTTED_KEY = rf"{_ONE_KEY}(?:\s*\.\s*{_ONE_KEY})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_DOTTED_KEY})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_DOTTED_KEY})\s*\]")
_KEY_VALUE = re.compile(rf"\s*({_DOTTED_KEY})\s*=(.*)")
_KEY_PART = re.compile(_ONE_KEY)


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = [m.group(0) for m in _KEY_PART.finditer(dotted)]
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _open_brackets(value: str) -> int:
    """Net count of [ and { opened by a value, ignoring strings and comments."""
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(value):
        ch = value[i]
        if quote is not None:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth


class KeyLines:
    """Where each key path of a TOML text is first written (1-based lines).

    Not a TOML parser: the text has already parsed; this only finds keys
    again so a semantic error can point at a line. Keys inside a multi-line
    value are attributed to the line of the key that holds the value.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        table: KeyPath = ()
        arrays: dict[KeyPath, int] = {}
        depth = 0
        for number, line in enumerate(text.splitlines(), start=1):
            if depth > 0:
                depth = max(0, depth + _open_brackets(line))
                continue
            if (found := _ARRAY_HEADER.match(line)) is not None:
                key = _key_parts(found.group(1))
                index = arrays.get(key, -1) + 1
                arrays[key] = index
                table = (*key, index)
                self._record(table, number)
            elif (found := _TABLE_HEADER.match(line)) is not None:
                table = _key_parts(found.group(1))
                self._record(table, number)
            elif (found := _KEY_VALUE.match(line)) is not None:
                self._record((*table, *_key_parts(found.group(1))), number)
                depth = max(0, _open_brackets(found.group(2)))

    def _record(self, path: KeyPath, number: int) -> None:
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], number)

    def locate(self, path: KeyPath) -> int | None:
        """Line of `path`, else of its nearest written parent, else None."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None
