"""The per-person command limit: a sliding window, one warning, then quiet until a slot frees."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.config import ConfigError, RateLimit, load_settings
from bot.domain.clock import FixedClock
from handlers.ratelimit import CommandLimiter, Verdict
from tests.conftest import make_settings


def test_up_to_the_count_is_allowed_then_one_warning_then_quiet(clock: FixedClock) -> None:
    limiter = CommandLimiter(3, 60, clock)
    assert [limiter.check("telegram:1") for _ in range(3)] == [Verdict.ALLOW] * 3
    assert limiter.check("telegram:1") is Verdict.WARN
    assert [limiter.check("telegram:1") for _ in range(5)] == [Verdict.QUIET] * 5


def test_each_person_has_a_window_of_their_own(clock: FixedClock) -> None:
    limiter = CommandLimiter(2, 60, clock)
    for _ in range(2):
        limiter.check("telegram:1")
    assert limiter.check("telegram:1") is Verdict.WARN
    assert limiter.check("telegram:2") is Verdict.ALLOW
    assert limiter.check("zalo:1") is Verdict.ALLOW  # another channel's identity


def test_a_slot_frees_when_the_oldest_command_leaves_the_window(clock: FixedClock) -> None:
    limiter = CommandLimiter(2, 60, clock)
    limiter.check("u")
    clock.advance(timedelta(seconds=20))
    limiter.check("u")
    assert limiter.check("u") is Verdict.WARN
    assert limiter.wait_seconds("u") == 40
    clock.advance(timedelta(seconds=39))
    assert limiter.check("u") is Verdict.QUIET
    assert limiter.wait_seconds("u") == 1
    clock.advance(timedelta(seconds=1))
    assert limiter.check("u") is Verdict.ALLOW  # the first one is 60 s old now
    assert limiter.check("u") is Verdict.WARN  # warned afresh: a new episode


def test_refused_commands_do_not_keep_a_person_out(clock: FixedClock) -> None:
    limiter = CommandLimiter(1, 10, clock)
    limiter.check("u")
    for _ in range(9):
        clock.advance(timedelta(seconds=1))
        assert limiter.check("u") is not Verdict.ALLOW
    clock.advance(timedelta(seconds=1))
    assert limiter.check("u") is Verdict.ALLOW


def test_wait_is_whole_seconds_within_the_window_even_if_the_clock_goes_back(
    clock: FixedClock,
) -> None:
    limiter = CommandLimiter(1, 30, clock)
    assert limiter.wait_seconds("nobody") == 1
    limiter.check("u")
    clock.advance(timedelta(seconds=0.5))
    assert limiter.wait_seconds("u") == 30  # 29.5 s, rounded up
    clock.advance(timedelta(hours=-2))
    assert limiter.wait_seconds("u") == 30


def test_people_gone_quiet_are_forgotten_so_memory_stays_bounded(clock: FixedClock) -> None:
    limiter = CommandLimiter(5, 60, clock)
    for i in range(100):
        limiter.check(f"telegram:{i}")
    assert len(limiter) == 100
    clock.advance(timedelta(seconds=61))
    limiter.check("telegram:new")
    assert len(limiter) == 1


def test_a_hard_cap_forgets_the_least_recently_seen_first(clock: FixedClock) -> None:
    limiter = CommandLimiter(1, 60, clock, max_people=10)
    for i in range(25):
        limiter.check(f"u{i}")
    assert len(limiter) == 10
    assert limiter.check("u24") is Verdict.WARN  # the latest are still counted


@pytest.mark.parametrize("bad", [(0, 60), (1, 0), (1, -5)])
def test_a_limit_needs_a_count_and_a_window(clock: FixedClock, bad: tuple[int, float]) -> None:
    with pytest.raises(ValueError):
        CommandLimiter(bad[0], bad[1], clock)


def test_the_setting_reads_count_per_seconds_or_off() -> None:
    assert load_settings(user_rate_limit="20/60").user_rate == RateLimit(20, 60.0)
    assert load_settings(user_rate_limit="off").user_rate is None
    assert load_settings().user_rate == RateLimit(30, 60.0)
    with pytest.raises(ConfigError, match=r"^USER_RATE_LIMIT: "):
        load_settings(user_rate_limit="lots")


def test_the_platform_timeout_is_bounded() -> None:
    assert load_settings(platform_timeout_seconds="2.5").platform_timeout_seconds == 2.5
    for bad in ("0", "-1", "600"):
        with pytest.raises(ConfigError, match=r"^PLATFORM_TIMEOUT_SECONDS: "):
            load_settings(platform_timeout_seconds=bad)


async def test_bootstrap_gives_the_dispatcher_the_configured_limit(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    limited = await bootstrap(
        make_settings(sqlite_url, tmp_path, user_rate_limit="7/30"), clock=clock, channels={}
    )
    try:
        limiter = limited.dispatcher.limiter
        assert limiter is not None
        assert (limiter.count, limiter.window, limiter.clock) == (7, timedelta(seconds=30), clock)
    finally:
        await limited.close()
    unlimited = await bootstrap(
        make_settings(sqlite_url, tmp_path, user_rate_limit="off"), clock=clock, channels={}
    )
    try:
        assert unlimited.dispatcher.limiter is None
    finally:
        await unlimited.close()
