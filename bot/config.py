"""Settings from the environment (and `.env`), with the contract's names.

A bad value stops start-up with one line that names the variable.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import Lang


class Mode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Mode = Mode.POLLING
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    zalo_bot_token: str | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"
    zalo_mode: Mode = Mode.POLLING
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

    @field_validator("telegram_api_url", "zalo_api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("admin_ids")
    @classmethod
    def _admins(cls, v: str) -> str:
        for item in filter(None, (x.strip() for x in v.split(","))):
            channel, _, uid = item.partition(":")
            if channel not in ("telegram", "zalo") or not uid:
                raise ValueError(f"'{item}' is not channel:id, e.g. telegram:123")
        return v

    @field_validator("intake_tokens")
    @classmethod
    def _tokens(cls, v: str | None) -> str | None:
        if v:
            for item in v.split(","):
                name, _, secret = item.strip().partition(":")
                if not name or len(secret) < 8:
                    raise ValueError("use name:SECRET pairs with secrets of 8 characters or more")
        return v

    @field_validator("intake_token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        if v is not None and len(v) < 8:
            raise ValueError("must be at least 8 characters")
        return v

    @property
    def admin_set(self) -> frozenset[str]:
        return frozenset(x.strip() for x in self.admin_ids.split(",") if x.strip())

    @property
    def intake_credentials(self) -> dict[str, str]:
        """Secret → name recorded as the actor. INTAKE_TOKEN is named `intake`."""
        creds: dict[str, str] = {}
        if self.intake_token:
            creds[self.intake_token] = "intake"
        for item in filter(None, (x.strip() for x in (self.intake_tokens or "").split(","))):
            name, _, secret = item.partition(":")
            creds[secret] = name
        return creds

    def check(self) -> None:
        """Cross-field rules, each a one-line error."""
        if self.telegram_mode is Mode.WEBHOOK and self.telegram_bot_token:
            if not self.telegram_webhook_url:
                raise ConfigError("TELEGRAM_WEBHOOK_URL: required when TELEGRAM_MODE=webhook")
            if not self.telegram_webhook_secret:
                raise ConfigError("TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_MODE=webhook")
        if self.zalo_mode is Mode.WEBHOOK and self.zalo_bot_token:
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
        raise ConfigError(f"{name}: {err['msg']}") from None
    settings.check()
    return settings
