"""What Telegram answered, kept whole: the HTTP status PTB would drop, and its error → `Refusal`.

PTB turns every answer it does not know (a proxy's HTML 413 page, a JSON 413) into a
`NetworkError`, which reads as "try again"; such an answer can never succeed. The
request class here hands those on with their status, and `refusal_of` reads every PTB
error as the neutral `Refusal` that `bot.channels.refusals` judges.
"""

from __future__ import annotations

import datetime as dtm
import json
import warnings
from typing import Any, Final

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.channels.refusals import Refusal

#: Statuses whose JSON answers PTB maps to an error class of its own (kept as they are).
PTB_KNOWN: Final = frozenset({400, 401, 403, 404, 409, 429})
#: How much of a body that is not JSON shows in the error (a proxy's page).
PAGE_SNIPPET: Final = 80


class HttpAnswer(TelegramError):
    """A non-2xx answer PTB cannot read or would call a network error, with its status."""

    def __init__(self, status: int, description: str, *, is_json: bool) -> None:
        super().__init__(description)
        self.status = status
        self.is_json = is_json


class StatusRequest(HTTPXRequest):
    """PTB's HTTPX request, raising `HttpAnswer` where PTB would lose the status."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code < 400:
            return code, payload
        try:
            data = json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            data = None
        if not isinstance(data, dict):
            page = " ".join(payload.decode("utf-8", "replace").split())[:PAGE_SNIPPET]
            raise HttpAnswer(code, f"HTTP {code}, not Telegram's answer: {page}", is_json=False)
        if code not in PTB_KNOWN and code < 500:
            raise HttpAnswer(code, str(data.get("description") or f"HTTP {code}"), is_json=True)
        return code, payload


def retry_after_seconds(exc: RetryAfter) -> float:
    """PTB ≥ 22.2 may hand out an int or a timedelta (and warns about the int); take both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | dtm.timedelta = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


def refusal_of(exc: TelegramError) -> Refusal:
    """PTB's error as the neutral refusal: status from its class, texts as Telegram gave."""
    text = exc.message
    if isinstance(exc, HttpAnswer):
        return Refusal(exc.status, text, json=exc.is_json)
    if isinstance(exc, RetryAfter):
        return Refusal(429, text, {"retry_after": retry_after_seconds(exc)})
    if isinstance(exc, ChatMigrated):
        return Refusal(400, text, {"migrate_to_chat_id": exc.new_chat_id})
    if isinstance(exc, InvalidToken):  # PTB's name for both 401 and 404
        return Refusal(404 if "not found" in text.lower() else 401, text)
    statuses: tuple[tuple[type[TelegramError], int], ...] = (
        (BadRequest, 400),  # before NetworkError: BadRequest subclasses it
        (Forbidden, 403),
        (EndPointNotFound, 404),
        (Conflict, 409),
    )
    for kind, status in statuses:
        if isinstance(exc, kind):
            return Refusal(status, text)
    return Refusal(None, text)  # TimedOut, NetworkError (5xx, connection refused)
