"""Logging set-up, with phone numbers and bot tokens redacted wherever they appear."""

from __future__ import annotations

import json
import logging
import re

from bot.config import LogFormat, Settings
from bot.domain.phone import redact_phones

_TOKEN_RE = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{10,}|\b\d{6,}:[A-Za-z0-9_-]{30,}\b")


def redact(text: str) -> str:
    return redact_phones(_TOKEN_RE.sub("bot***", text))


class RedactingFilter(logging.Filter):
    """The HTTP client logs URLs that carry the token; customers' phones must not leak."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "at": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = getattr(record, "case_ref", None)
        if ref:
            data["case"] = ref
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def configure(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    if settings.log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.value)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
