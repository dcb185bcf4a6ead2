"""INTAKE_TOKENS: named tokens, optionally limited to teams (`pldesk:SECRET:PL+LN`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, IntakeToken, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_names_secrets_and_team_scopes_are_read() -> None:
    settings = load_settings(
        intake_token="plain-secret-1",
        intake_tokens="desk:desk-secret-1, pldesk:pl-secret-1:PL+ln ,dl:dl-secret-1:DL",
    )
    assert settings.intake_credentials == (
        IntakeToken("intake", "plain-secret-1"),
        IntakeToken("desk", "desk-secret-1"),
        IntakeToken("pldesk", "pl-secret-1", frozenset({"PL", "LN"})),
        IntakeToken("dl", "dl-secret-1", frozenset({"DL"})),
    )
    assert "secret" not in repr(settings.intake_credentials)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("pldesk:pl-secret-1:P L", "team codes joined by +"),
        ("pldesk:pl-secret-1:PL+", "team codes joined by +"),
        ("pldesk:pl-secret-1:PL,LN", "token 'LN' has no secret"),  # a comma starts a token
        ("pldesk:pl-secret-1:", "team codes joined by +"),
        ("pldesk:pl-secret-1:1PL", "team codes joined by +"),
        ("pldesk:pl-secret-1:ABCDEFGHIJKLMNOPQ", "team codes joined by +"),
        ("pldesk:pl:secret:PL", "8 characters or more"),
        ("desk:short", "8 characters or more"),
        (":desk-secret-1", "the first token"),
        ("desk:desk-secret-1,desk:other-secret-2", "named twice"),
    ],
)
def test_a_bad_token_stops_start_up_with_one_line_naming_the_variable(
    value: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(intake_tokens=value)
    message = str(caught.value)
    assert message.startswith("INTAKE_TOKENS: ") and "\n" not in message
    assert says in message
    assert "secret-1" not in message and "pl:secret" not in message  # never the secret


def test_dispatchbot_run_refuses_a_bad_team_code_in_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "INTAKE_TOKENS": "pldesk:pl-secret-1:P-L",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "TELEGRAM_BOT_TOKEN": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,  # no .env there
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: INTAKE_TOKENS: "), done.stderr
    assert "pl-secret-1" not in done.stderr
    assert not (tmp_path / "x.db").exists()  # stopped before touching the database
