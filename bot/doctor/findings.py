"""What the doctor found: one finding per line it prints, in words only when rendered.

A finding holds catalogue keys and the values they name, never finished sentences, so
the same run reads in the deployment's language as text and stays stable as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.sla.calendar import SpecialDay


class Status(StrEnum):
    OK = "ok"
    #: Works, but someone should look (a recent delivery error, groups closed to the bot).
    WARN = "warn"
    #: Broken: messages are lost or late until it is fixed.
    FAIL = "fail"
    #: Could not be checked (the platform offers no way, or an earlier check failed).
    SKIP = "skip"


#: What lets `dispatchbot doctor` exit 0.
WELL = frozenset({Status.OK, Status.SKIP})


class Check(StrEnum):
    """What a finding is about; the `check` field of the JSON output."""

    CHANNELS = "channels"
    TOKEN = "token"
    PRIVACY = "privacy"
    GROUPS = "groups"
    CHAT = "chat"
    WEBHOOK = "webhook"
    WEBHOOK_ERROR = "webhook_error"
    PENDING = "pending"
    DATABASE = "database"
    MIGRATIONS = "migrations"
    POLICY = "policy"
    HOLIDAYS = "holidays"
    #: Members with private messages kept for them (never pressed Start, blocked the bot).
    HELD = "held"


#: A time is shown as the deployment's local time; in JSON as ISO 8601.
Values = Mapping[str, str | int | datetime]


@dataclass(frozen=True)
class Finding:
    check: Check
    status: Status
    #: Catalogue key of the sentence saying what was found.
    message: str
    #: Catalogue key of what to do about it (None: nothing to do).
    hint: str | None = None
    #: What the sentences name (a chat, a URL, a count), filled into both.
    values: Values = field(default_factory=dict)
    channel: str | None = None
    team: str | None = None
    chat_id: str | None = None
    #: The holidays check lists the year's special days (for an admin to compare).
    year: int | None = None
    days: tuple[SpecialDay, ...] = ()


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when all is well (every finding ok, or not checkable), 1 otherwise."""
    return 0 if all(f.status in WELL for f in findings) else 1
