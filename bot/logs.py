"""Logging set-up, with phone numbers and bot tokens redacted wherever they appear.

With LOG_FORMAT=json every event is one line of JSON: time, level, logger, message,
the instance, and the case it concerns (``"case": "PL-17"``) wherever one applies.
Code names the case either with ``extra={"case_ref": ref}`` or, for everything logged
while working on it, with ``with case_context(ref): ...``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TextIO

from bot.config import LogFormat, Settings
from bot.domain.phone import redact_phones

_TOKEN_RE = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{10,}|\b\d{6,}:[A-Za-z0-9_-]{30,}\b")

#: The case being worked on in this task, for every log line written meanwhile.
_CASE: ContextVar[str | None] = ContextVar("case_ref", default=None)

#: LogRecord's own attributes; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def redact(text: str) -> str:
    return redact_phones(_TOKEN_RE.sub("bot***", text))


@contextlib.contextmanager
def case_context(ref: str | None) -> Iterator[None]:
    """Log lines written inside the block carry this case ref."""
    token = _CASE.set(ref)
    try:
        yield
    finally:
        _CASE.reset(token)


class RedactingFilter(logging.Filter):
    """The HTTP client logs URLs that carry the token; customers' phones must not leak."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if getattr(record, "case_ref", None) is None:
            record.case_ref = _CASE.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; newlines inside the message are escaped by JSON."""

    def __init__(self, instance: str | None = None) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "at": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.instance:
            data["instance"] = self.instance
        ref = getattr(record, "case_ref", None)
        if ref:
            data["case"] = ref
        for key, value in vars(record).items():
            if key in _STANDARD or key == "case_ref" or key in data:
                continue
            if isinstance(value, str):
                data[key] = redact(value)
            elif isinstance(value, bool | int | float) or value is None:
                data[key] = value
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        ref = getattr(record, "case_ref", None)
        return f"{line} [case {ref}]" if ref and ref not in record.getMessage() else line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of the event, not at setup:
    a test runner or a service manager may swap the stream, and a handler left
    holding a closed one fails on every later event."""

    _chosen: TextIO | None = None

    def __init__(self) -> None:
        super().__init__()
        self._chosen = None  # the default stream is looked up at each event

    @property
    def stream(self) -> TextIO:
        return self._chosen or sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._chosen = value  # setStream() chooses one for good


def configure(settings: Settings) -> None:
    handler = _StderrHandler()
    handler.addFilter(RedactingFilter())
    if settings.log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter(settings.instance))
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.value)
    logging.captureWarnings(True)  # library warnings become events too (one JSON line each)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # "skipped: maximum number of running instances" is by design (one pass at a time)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
