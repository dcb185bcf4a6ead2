"""Telegram's launch data for a Mini App, checked the way Telegram's docs say.

Telegram opens the page with `#tgWebAppData=<init data>&tgWebAppVersion=…` in the URL
fragment; the page posts the init data to us. The init data is a query string whose
`hash` is the hex HMAC-SHA-256 of its other fields, sorted by key and joined as
`key=value` lines, under the key HMAC-SHA-256(key="WebAppData", msg=<bot token>)
("Validating data received via the Mini App", core.telegram.org/bots/webapps). So only
Telegram, which holds our token, can have made it; another bot's data (signed with its
token) fails like a forgery. `auth_date` says when Telegram made it: older than
`MAX_AGE`, it is refused, so a copied link stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final
from urllib.parse import parse_qsl

#: Launch data older than this is refused (the issue: "no older than a day").
MAX_AGE: Final = timedelta(days=1)
#: A clock a little ahead of ours is Telegram's, not an attacker's: allowed this much.
CLOCK_SKEW: Final = timedelta(minutes=5)
#: Real init data is a few hundred bytes; anything much longer is not Telegram's.
MAX_INIT_DATA: Final = 8192


class LaunchProblem(StrEnum):
    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    FORGED = "forged"
    EXPIRED = "expired"
    NO_USER = "no_user"


class LaunchRefused(Exception):
    """The launch data is not Telegram's for this bot, or not any more; the page gets 401."""

    def __init__(self, problem: LaunchProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class LaunchUser:
    """Who opened the Mini App, as Telegram vouches for them."""

    id: str
    first_name: str
    username: str | None
    language_code: str | None
    auth_date: datetime
    chat_type: str | None = None
    start_param: str | None = None


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    """Every field but `hash`, sorted by key, as `key=value` lines."""
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def verify_launch(init_data: str, bot_token: str, now: datetime) -> LaunchUser:
    """The user behind `init_data`, or LaunchRefused saying why not."""
    if not init_data or len(init_data) > MAX_INIT_DATA:
        raise LaunchRefused(LaunchProblem.MALFORMED)
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise LaunchRefused(LaunchProblem.MALFORMED) from None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a key given twice: which one was signed?
        raise LaunchRefused(LaunchProblem.MALFORMED)
    presented = fields.get("hash", "")
    if not presented:
        raise LaunchRefused(LaunchProblem.UNSIGNED)
    expected = hmac.new(
        secret_key(bot_token), data_check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, presented.lower()):
        raise LaunchRefused(LaunchProblem.FORGED)
    auth_date = _auth_date(fields.get("auth_date"))
    if not now - MAX_AGE <= auth_date <= now + CLOCK_SKEW:
        raise LaunchRefused(LaunchProblem.EXPIRED)
    return _user(fields, auth_date)


def _auth_date(raw: str | None) -> datetime:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise LaunchRefused(LaunchProblem.MALFORMED)
    return datetime.fromtimestamp(int(raw), UTC)


def _user(fields: dict[str, str], auth_date: datetime) -> LaunchUser:
    try:
        user = json.loads(fields.get("user", ""))
    except ValueError:
        raise LaunchRefused(LaunchProblem.NO_USER) from None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise LaunchRefused(LaunchProblem.NO_USER)
    username = user.get("username")
    language = user.get("language_code")
    return LaunchUser(
        id=str(user["id"]),
        first_name=str(user.get("first_name") or ""),
        username=username if isinstance(username, str) else None,
        language_code=language if isinstance(language, str) else None,
        auth_date=auth_date,
        chat_type=fields.get("chat_type"),
        start_param=fields.get("start_param"),
    )
