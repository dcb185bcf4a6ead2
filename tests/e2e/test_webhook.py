"""Webhook mode: the secret is checked, a replayed update is processed once, and whatever
else arrives at the webhook (odd headers, odd JSON, odd update ids) gets a 4xx, never a 500."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.bootstrap import Container
from bot.domain.clock import FixedClock
from sandbox.client import SandboxClient
from storage import tables as t
from tests.e2e.conftest import GROUP, minh_on_webhooks
from tests.rawhttp import exchange, http_errors, request

SECRET = "webhook-secret-123"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
GOOD = {HEADER: SECRET}
PATH = "/telegram/webhook"


def update(update_id: Any, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 100 + (update_id if isinstance(update_id, int) else 0),
            "date": 1_764_200_000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "Đội PL"},
            "from": {"id": 3002, "is_bot": False, "first_name": "Minh", "language_code": "vi"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


@contextlib.asynccontextmanager
async def webhook_system(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[tuple[Container, SandboxClient]]:
    """The bot in webhook mode behind our HTTP server; Minh (a PL worker) in PL's group."""
    async with minh_on_webhooks(database_url, tmp_path, clock, {"telegram": SECRET}) as system:
        assert system.telegram is not None
        yield system.container, system.telegram


async def test_webhook_checks_the_secret_and_processes_a_replay_once(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with webhook_system(database_url, tmp_path, clock) as (container, client):
        statuses = await posted(
            container,
            (update(1, "/mine"), {}),
            (update(1, "/mine"), {HEADER: "wrong"}),
            (update(2, "/mine"), GOOD),
            (update(2, "/mine"), GOOD),
            (update(3, "/help"), GOOD),
        )
        assert statuses == [403, 403, 200, 200, 200]
        await client.wait_for_message(GROUP, contains="/claim")  # the /help answer
        messages = await client.messages(GROUP)
        assert sum("không có việc" in m.body for m in messages) == 1
        calls = await client.calls("setWebhook")
        assert calls and calls[0].params.get("secret_token") == SECRET


SECRET_LINE = HEADER.encode() + b": "


def _post(headers: dict[str, str] | None = None, body: bytes = b"", **kw: Any) -> bytes:
    return request("POST", PATH, headers, body, **kw)


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        # A secret header that is not ASCII (not even UTF-8): a wrong secret, not a crash.
        ("non-ASCII secret", _post(raw_headers=SECRET_LINE + b"\xff\xfe\xc3\xa9\r\n"), 403),
        ("UTF-8 secret", _post(raw_headers=SECRET_LINE + "bí mật\r\n".encode()), 403),
        ("30,000 levels deep", _post(GOOD, b"[" * 30_000 + b"]" * 30_000), 400),
        ("deep objects", _post(GOOD, b'{"a":' * 10_000 + b"1" + b"}" * 10_000), 400),
        ("duplicate keys", _post(GOOD, b'{"update_id": 1, "update_id": 2}'), 400),
        ("not UTF-8", _post(GOOD, b'{"update_id": "\xff"}'), 400),
        # Fewer bytes than Content-Length promises: the wait for the rest is bounded.
        ("body never ends", _post(GOOD, b'{"update_id": 1', content_length=40), 408),
    ],
)
async def test_odd_requests_at_the_webhook_get_a_4xx_and_change_nothing(
    database_url: str,
    tmp_path: Path,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    data: bytes,
    status: int,
) -> None:
    monkeypatch.setattr("bot.http.server.BODY_SECONDS", 0.5)
    async with webhook_system(database_url, tmp_path, clock) as (container, _):
        assert container.http_port is not None
        (answer,) = await exchange(container.http_port, data, expect=1)
        assert answer.status == status, answer
        assert set(answer.json()) == {"error"}
        assert await _processed(container) == []
    assert not http_errors(caplog), caplog.text


async def test_a_client_that_hangs_up_mid_body_is_no_error(
    database_url: str, tmp_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody is left to answer; it is logged as what it is, without a stack."""
    data = request("POST", PATH, GOOD, b'{"update_id": 1', content_length=40)
    async with webhook_system(database_url, tmp_path, clock) as (container, _):
        assert container.http_port is not None
        answers = await exchange(container.http_port, data, half_close=True)
        assert [a.status for a in answers] in ([], [400])
        assert await _processed(container) == []
    assert not http_errors(caplog), caplog.text


@pytest.mark.parametrize(
    "update_id",
    [None, 1.0, "1", "7" * 60_000, True, -1, 2**64, [1], {"id": 1}],
    ids=["null", "1.0", "string", "60000-chars", "true", "negative", "2^64", "list", "object"],
)
async def test_an_update_id_that_is_not_a_whole_number_is_refused_before_it_is_stored(
    database_url: str, tmp_path: Path, clock: FixedClock, update_id: Any
) -> None:
    async with webhook_system(database_url, tmp_path, clock) as (container, client):
        url = f"http://127.0.0.1:{container.http_port}{PATH}"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update(update_id, "/mine"), headers=GOOD) as resp:
                assert resp.status == 400
                assert await resp.json() == {"error": "bad update"}
            assert await _processed(container) == []
            # The same message with a proper id is handled, once.
            async with http.post(url, json=update(1, "/mine"), headers=GOOD) as resp:
                assert resp.status == 200
        await client.wait_for_message(GROUP, contains="không có việc")
        assert await _processed(container) == ["1"]


async def test_update_1_and_update_1_0_are_not_handled_twice(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """`1.0` was stored as another update than `1`, so the same /mine was answered twice."""
    async with webhook_system(database_url, tmp_path, clock) as (container, client):
        statuses = await posted(
            container,
            *((update(n, "/mine"), GOOD) for n in (1, 1.0, 1)),
            (update(2, "/help"), GOOD),
        )
        assert statuses == [200, 400, 200, 200]
        await client.wait_for_message(GROUP, contains="/claim")  # the /help answer
        messages = await client.messages(GROUP)
        assert sum("không có việc" in m.body for m in messages) == 1


async def posted(container: Container, *calls: tuple[dict[str, Any], dict[str, str]]) -> list[int]:
    """Each update posted to the webhook with its headers, in turn; the statuses."""
    url = f"http://127.0.0.1:{container.http_port}{PATH}"
    statuses = []
    async with aiohttp.ClientSession() as http:
        for body, headers in calls:
            async with http.post(url, json=body, headers=headers) as resp:
                statuses.append(resp.status)
    return statuses


async def _processed(container: Container) -> list[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(sa.select(t.processed_updates.c.update_id))
        return sorted(str(r.update_id) for r in rows)
