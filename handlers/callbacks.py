"""Button payloads: one typed codec, validated on the way in, under Telegram's 64 bytes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.parsing import normalize_ref

PREFIX = "c"
MAX_BYTES = 64


class ButtonAction(StrEnum):
    CLAIM = "claim"
    CASE = "case"


@dataclass(frozen=True)
class CallbackData:
    action: ButtonAction
    ref: str

    def encode(self) -> str:
        data = f"{PREFIX}:{self.action.value}:{self.ref}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError("callback data over 64 bytes")
        return data


def decode(data: str) -> CallbackData | None:
    """None for anything we did not make: old, forged or foreign payloads."""
    if len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    try:
        action = ButtonAction(parts[1])
    except ValueError:
        return None
    ref = normalize_ref(parts[2])
    return CallbackData(action, ref) if ref else None
