"""Telegram's launch data and the board's sessions, checked without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.webapp.launch import LaunchProblem, LaunchRefused, verify_launch
from bot.webapp.sessions import SessionSigner, bearer_session, session_key
from tests.webapp.launch import signed_init_data, telegram_user

TOKEN = "777000:e2e-sandbox-token-0123456789"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

#: Published with a sample token by the Telegram Mini Apps project's docs (tma.js,
#: "Validating"): a known answer that our own signer did not produce.
PUBLISHED = (
    "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
    "&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22"
    "%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C"
    "%22is_premium%22%3Atrue%7D"
    "&auth_date=1662771648"
    "&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2"
)
PUBLISHED_TOKEN = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"


def test_published_launch_data_is_accepted_with_its_user() -> None:
    at = datetime.fromtimestamp(1662771648 + 60, UTC)
    user = verify_launch(PUBLISHED, PUBLISHED_TOKEN, at)
    assert (user.id, user.username, user.language_code) == ("279058397", "vdkfrost", "ru")


def test_published_launch_data_fails_with_another_token() -> None:
    at = datetime.fromtimestamp(1662771648 + 60, UTC)
    with pytest.raises(LaunchRefused) as refused:
        verify_launch(PUBLISHED, TOKEN, at)
    assert refused.value.problem is LaunchProblem.FORGED


def _refusal(data: str, now: datetime = NOW) -> LaunchProblem:
    with pytest.raises(LaunchRefused) as refused:
        verify_launch(data, TOKEN, now)
    return refused.value.problem


def test_a_changed_user_is_a_forgery() -> None:
    data = signed_init_data(telegram_user(3001, "Lan"), TOKEN, NOW)
    assert verify_launch(data, TOKEN, NOW).id == "3001"
    assert _refusal(data.replace("3001", "3002")) is LaunchProblem.FORGED


def test_launch_data_older_than_a_day_is_refused() -> None:
    data = signed_init_data(telegram_user(3001, "Lan"), TOKEN, NOW - timedelta(days=1, seconds=1))
    assert _refusal(data) is LaunchProblem.EXPIRED
    fresh = signed_init_data(telegram_user(3001, "Lan"), TOKEN, NOW - timedelta(hours=23))
    assert verify_launch(fresh, TOKEN, NOW).first_name == "Lan"


def test_launch_data_from_the_future_is_refused() -> None:
    data = signed_init_data(telegram_user(3001, "Lan"), TOKEN, NOW + timedelta(hours=1))
    assert _refusal(data) is LaunchProblem.EXPIRED


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("", LaunchProblem.MALFORMED),
        ("user=%7B%7D&auth_date=1", LaunchProblem.UNSIGNED),
        ("a=1&a=2&hash=00", LaunchProblem.MALFORMED),
        ("x" * 9000, LaunchProblem.MALFORMED),
    ],
)
def test_malformed_or_unsigned_launch_data_is_refused(data: str, problem: LaunchProblem) -> None:
    assert _refusal(data) is problem


def test_signed_data_without_a_user_lets_nobody_in() -> None:
    data = signed_init_data({"name": "no id"}, TOKEN, NOW)
    assert _refusal(data) is LaunchProblem.NO_USER


def test_a_session_reads_back_until_it_ends_and_not_after() -> None:
    signer = SessionSigner(session_key("secret-0123456789"))
    token, session = signer.issue("telegram:3001", NOW, "en")
    read = signer.read(token, NOW + timedelta(minutes=59))
    assert read is not None and (read.account, read.lang) == ("telegram:3001", "en")
    assert signer.read(token, session.expires_at) is None


def test_a_session_cannot_be_made_changed_or_moved_to_another_key() -> None:
    signer = SessionSigner(session_key("secret-0123456789"))
    token, _ = signer.issue("telegram:3001", NOW)
    payload, _, signature = token.partition(".")
    other, _ = signer.issue("telegram:3002", NOW)
    assert signer.read(f"{other.partition('.')[0]}.{signature}", NOW) is None
    assert signer.read(payload, NOW) is None
    assert signer.read(token + "x", NOW) is None
    assert SessionSigner(session_key("another-secret-0123")).read(token, NOW) is None


def test_only_the_session_scheme_is_read_from_the_header() -> None:
    assert bearer_session("Session abc.def") == "abc.def"
    assert bearer_session("Bearer abc.def") is None
    assert bearer_session(None) is None
