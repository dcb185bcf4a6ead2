"""Settings the platforms would refuse stop start-up, in one line naming the variable."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


@pytest.mark.parametrize("secret", ["a" * 257, "has space", "dấu", "semi;colon", "slash/", "a.b"])
def test_a_telegram_webhook_secret_telegram_would_refuse_stops_start_up(secret: str) -> None:
    """setWebhook takes 1-256 of A-Z a-z 0-9 _ -; anything else failed only at run time."""
    with pytest.raises(ConfigError) as refused:
        load_settings(telegram_webhook_secret=secret)
    message = str(refused.value)
    assert message.startswith("TELEGRAM_WEBHOOK_SECRET: Telegram accepts 1 to 256 characters")
    assert "\n" not in message and secret not in message


@pytest.mark.parametrize("secret", ["A-z_0-9", "x" * 256, "s"])
def test_a_telegram_webhook_secret_of_allowed_characters_is_taken(secret: str) -> None:
    assert load_settings(telegram_webhook_secret=secret).telegram_webhook_secret == secret


def test_an_empty_secret_in_the_environment_is_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "")  # `TELEGRAM_WEBHOOK_SECRET=` in .env
    assert load_settings().telegram_webhook_secret is None


def test_the_doctor_waits_a_bounded_time_between_its_two_reads() -> None:
    assert load_settings(doctor_pending_interval_seconds="0").doctor_pending_interval_seconds == 0
    with pytest.raises(ConfigError, match=r"^DOCTOR_PENDING_INTERVAL_SECONDS: "):
        load_settings(doctor_pending_interval_seconds="600")
