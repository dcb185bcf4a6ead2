"""Settings from the environment (and `.env`), with the contract's names.

A bad value stops start-up with one line that names the variable.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.channels.base import UpdateMode
from bot.domain.people import is_team_code
from bot.i18n import Lang


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ConfigError(Exception):
    """One line naming the variable and what is wrong with it."""


@dataclass(frozen=True)
class RateLimit:
    """At most `count` messages in any `seconds`; the relay never goes past it."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """`20/60` is 20 messages a minute; `off` (or `0`) means no limit."""
        value = text.strip().lower()
        if value in ("off", "0", "none"):
            return None
        count, slash, seconds = value.partition("/")
        try:
            limit = cls(int(count), float(seconds.removesuffix("s")) if slash else 1.0)
        except ValueError:
            raise ValueError("use COUNT/SECONDS, e.g. 20/60, or off") from None
        if limit.count < 1 or not 0 < limit.seconds <= 3600:
            raise ValueError("use COUNT/SECONDS with COUNT >= 1 and 0 < SECONDS <= 3600, or off")
        return limit


#: What Telegram's setWebhook accepts as `secret_token` (Bot API: 1-256 characters,
#: only A-Z, a-z, 0-9, _ and -); anything else would make every start fail there.
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

#: Shortest secret an intake token may have.
MIN_SECRET = 8
#: Longest token name: it is recorded as the actor `api:NAME` (80 characters at most).
MAX_TOKEN_NAME = 64


@dataclass(frozen=True)
class IntakeToken:
    """One bearer token of the intake API: its name (the actor `api:NAME`), its secret,
    and the teams it is limited to (None: every team)."""

    name: str
    secret: str = field(repr=False)
    teams: frozenset[str] | None = None

    @classmethod
    def parse_all(cls, text: str) -> tuple[IntakeToken, ...]:
        """`desk:SECRET,pldesk:SECRET:PL+LN`; errors name the token, never its secret."""
        tokens: list[IntakeToken] = []
        for position, item in enumerate(filter(None, (x.strip() for x in text.split(","))), 1):
            name, _, rest = item.partition(":")
            secret, scoped, codes = rest.partition(":")
            label = f"token {name!r}" if name else f"the {_ordinal(position)} token"
            if not name or len(name) > MAX_TOKEN_NAME or any(c.isspace() for c in name):
                raise ValueError(
                    f"{label}: a name of 1 to {MAX_TOKEN_NAME} characters without spaces "
                    "comes first, as in desk:SECRET"
                )
            if not rest:
                raise ValueError(
                    f"{label} has no secret: tokens are name:SECRET separated by commas, and "
                    "teams are joined by +, as in pldesk:SECRET:PL+LN"
                )
            if len(secret) < MIN_SECRET:
                raise ValueError(f"{label}: the secret needs {MIN_SECRET} characters or more")
            teams = cls._teams(label, codes) if scoped else None
            if any(t.name == name for t in tokens):
                raise ValueError(f"{label} is named twice")
            tokens.append(cls(name, secret, teams))
        return tuple(tokens)

    @staticmethod
    def _teams(label: str, codes: str) -> frozenset[str]:
        parts = [part.strip() for part in codes.split("+")]
        if not all(is_team_code(part) for part in parts):
            raise ValueError(
                f"{label}: after the secret come team codes joined by +, as in "
                "pldesk:SECRET:PL+LN (a code is a letter, then letters or digits, "
                "16 at most; a secret may not contain ':')"
            )
        return frozenset(part.upper() for part in parts)


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")


@dataclass(frozen=True)
class ChannelLimits:
    """A channel's sending limits, as its platform enforces them (None: no limit)."""

    per_chat: RateLimit | None
    per_group: RateLimit | None
    overall: RateLimit | None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: UpdateMode = UpdateMode.POLLING
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    zalo_bot_token: str | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"
    zalo_mode: UpdateMode = UpdateMode.POLLING
    zalo_webhook_url: str | None = None
    zalo_webhook_secret: str | None = None
    database_url: str = "sqlite+aiosqlite:///./dispatch.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    intake_token: str | None = None
    intake_tokens: str | None = None
    media_dir: Path = Path("./media")
    admin_ids: str = ""
    reminder_interval_seconds: float = Field(default=60, gt=0)
    policy_file: Path | None = None
    language: Lang = Lang.VI
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.TEXT
    # Delivery (docs/operations.md, "Delivery limits"): COUNT/SECONDS or off.
    telegram_rate_per_chat: str = "1/1"
    telegram_rate_per_group: str = "20/60"
    telegram_rate_global: str = "30/1"
    zalo_rate_per_chat: str = "off"
    zalo_rate_per_group: str = "off"
    zalo_rate_global: str = "off"
    relay_concurrency: int = Field(default=32, ge=1, le=256)
    relay_max_backoff_seconds: float = Field(default=300, gt=0)
    #: One message that keeps failing (5xx, timeouts) while the platform otherwise works is
    #: given up after this many tries or seconds, whichever first: it never holds its chat
    #: longer than two minutes (bot/relay_setbacks.py).
    relay_give_up_attempts: int = Field(default=5, ge=1, le=100)
    relay_give_up_seconds: float = Field(default=120, gt=0, le=120)
    #: How often each channel's token is checked (getMe): a refused one pauses the
    #: channel, one that works again resumes it (bot/channel_health.py).
    token_probe_seconds: float = Field(default=60, gt=0, le=3600)
    outbox_lease_seconds: float = Field(default=15, ge=1)
    shutdown_flush_seconds: float = Field(default=10, ge=0)
    scheduler_lock_check_seconds: float = Field(default=5, gt=0)
    instance_name: str | None = None
    #: Hours a private message waits for a person who never pressed Start (or blocked
    #: the bot) before it is given up and the team told (docs/operations.md).
    held_message_hours: float = Field(default=72, gt=0, le=24 * 30)
    # Abuse limits (docs/operations.md, "Abuse limits").
    #: Commands and button presses one person may send, COUNT/SECONDS or off.
    user_rate_limit: str = "30/60"
    #: Longest a single call to a chat platform may take (connect, send, read, download).
    platform_timeout_seconds: float = Field(default=20, gt=0, le=120)
    #: `dispatchbot doctor` reads the platform's count of waiting updates twice, this far
    #: apart, to tell a backlog that is being worked off from one that grows.
    doctor_pending_interval_seconds: float = Field(default=5, ge=0, le=60)
    # The lead's board (docs/board.md): its public address (HTTPS, through the reverse
    # proxy, ending in /app/), the Mini App's short name from @BotFather's /newapp (for
    # the button in groups), and the key its sessions are signed with.
    webapp_url: str | None = None
    webapp_short_name: str | None = None
    webapp_secret: str | None = None
    #: Where Leaflet's files are (default: node_modules/leaflet/dist, as `make` installs it).
    webapp_leaflet_dir: Path | None = None

    @field_validator(
        "user_rate_limit",
        "telegram_rate_per_chat",
        "telegram_rate_per_group",
        "telegram_rate_global",
        "zalo_rate_per_chat",
        "zalo_rate_per_group",
        "zalo_rate_global",
    )
    @classmethod
    def _rate(cls, v: str) -> str:
        RateLimit.parse(v)
        return v

    @field_validator("instance_name")
    @classmethod
    def _instance(cls, v: str | None) -> str | None:
        if v is not None and not 1 <= len(v.strip()) <= 100:
            raise ValueError("must be 1 to 100 characters")
        return v.strip() if v else v

    @field_validator("telegram_api_url", "zalo_api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("webapp_url")
    @classmethod
    def _webapp_url(cls, v: str | None) -> str | None:
        """Telegram opens only HTTPS pages as Mini Apps; plain HTTP is for this machine."""
        if v is None:
            return None
        parts = urlsplit(v.strip())
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            raise ValueError(
                "must be the board's public https:// address, e.g. https://bot.example.vn/app/"
            )
        if parts.query or parts.fragment:
            raise ValueError("must have no query or fragment (the board adds its own)")
        return v.strip().rstrip("/") + "/"

    @field_validator("webapp_short_name")
    @classmethod
    def _short_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_]{3,30}", v.strip()):
            raise ValueError(
                "must be the Mini App's short name from @BotFather (3-30 of A-Z a-z 0-9 _)"
            )
        return v.strip() if v else v

    @field_validator("webapp_secret")
    @classmethod
    def _webapp_secret(cls, v: str | None) -> str | None:
        if v is not None and len(v) < 16:
            raise ValueError("must be at least 16 characters")
        return v

    @field_validator("admin_ids")
    @classmethod
    def _admins(cls, v: str) -> str:
        for item in filter(None, (x.strip() for x in v.split(","))):
            channel, _, uid = item.partition(":")
            if channel not in ("telegram", "zalo") or not uid:
                raise ValueError(f"'{item}' is not channel:id, e.g. telegram:123")
        return v

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, v: str | None) -> str | None:
        if v is not None and not TELEGRAM_SECRET.fullmatch(v):
            raise ValueError(
                "Telegram accepts 1 to 256 characters, each a letter A-Z or a-z, a digit, "
                "_ or - (no spaces or other signs)"
            )
        return v

    @field_validator("intake_tokens")
    @classmethod
    def _tokens(cls, v: str | None) -> str | None:
        if v:
            IntakeToken.parse_all(v)
        return v

    @field_validator("intake_token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        if v is not None and len(v) < MIN_SECRET:
            raise ValueError(f"must be at least {MIN_SECRET} characters")
        return v

    @property
    def admin_set(self) -> frozenset[str]:
        return frozenset(x.strip() for x in self.admin_ids.split(",") if x.strip())

    @property
    def intake_credentials(self) -> tuple[IntakeToken, ...]:
        """Every token of the intake API; INTAKE_TOKEN is named `intake` and reaches every team."""
        plain = (IntakeToken("intake", self.intake_token),) if self.intake_token else ()
        return plain + IntakeToken.parse_all(self.intake_tokens or "")

    @property
    def held_message_expiry(self) -> timedelta:
        return timedelta(hours=self.held_message_hours)

    @property
    def delivery_limits(self) -> dict[str, ChannelLimits]:
        """Channel name -> the limits the relay keeps to on it."""
        return {
            "telegram": ChannelLimits(
                RateLimit.parse(self.telegram_rate_per_chat),
                RateLimit.parse(self.telegram_rate_per_group),
                RateLimit.parse(self.telegram_rate_global),
            ),
            "zalo": ChannelLimits(
                RateLimit.parse(self.zalo_rate_per_chat),
                RateLimit.parse(self.zalo_rate_per_group),
                RateLimit.parse(self.zalo_rate_global),
            ),
        }

    @property
    def user_rate(self) -> RateLimit | None:
        """How many commands and button presses one person may send (None: no limit)."""
        return RateLimit.parse(self.user_rate_limit)

    @property
    def instance(self) -> str:
        """This process's name in logs, leases and metrics: INSTANCE_NAME or host:pid."""
        return self.instance_name or f"{socket.gethostname()}:{os.getpid()}"

    def check(self) -> None:
        """Cross-field rules, each a one-line error."""
        if self.telegram_mode is UpdateMode.WEBHOOK and self.telegram_bot_token:
            if not self.telegram_webhook_url:
                raise ConfigError("TELEGRAM_WEBHOOK_URL: required when TELEGRAM_MODE=webhook")
            if not self.telegram_webhook_secret:
                raise ConfigError("TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_MODE=webhook")
        if self.zalo_mode is UpdateMode.WEBHOOK and self.zalo_bot_token:
            if not self.zalo_webhook_url:
                raise ConfigError("ZALO_WEBHOOK_URL: required when ZALO_MODE=webhook")
            if not self.zalo_webhook_secret:
                raise ConfigError("ZALO_WEBHOOK_SECRET: required when ZALO_MODE=webhook")


def load_settings(**overrides: object) -> Settings:
    """Read the environment; turn pydantic's report into one line per the contract."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "configuration"
        reason = str(err["msg"]).removeprefix("Value error, ")  # pydantic's wrapping of ours
        raise ConfigError(f"{name}: {reason}") from None
    settings.check()
    return settings
