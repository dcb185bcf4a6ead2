"""Operations: /metrics in Prometheus' text format with what the issue lists, and logs as
one JSON object per event carrying the case it concerns."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_settings
from bot.domain.model import Role
from bot.logs import case_context, configure
from bot.metrics import Metrics
from sandbox.client import SandboxClient
from sandbox.telegram import TelegramSandbox
from tests.reliability.harness import (
    GROUP,
    TOKEN,
    Person,
    intake_body,
    post_intake,
    running_bot,
    seed,
    wait_until,
)
from tests.reliability.test_two_instances import POLICY

SAMPLE = re.compile(r"^([a-z_0-9]+)(\{[^}]*\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|\+Inf)$")
MINH = Person(3002, "Minh", Role.WORKER, "minh_pl")


def parse(text: str) -> dict[str, dict[str, float]]:
    """name -> {labels: value}; every line must be a comment or a valid sample."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        found = SAMPLE.match(line)
        assert found, f"not Prometheus text: {line!r}"
        name, labels, value = found.groups()
        out.setdefault(name, {})[labels or ""] = float(value)
    return out


async def scrape(base: str) -> tuple[str, dict[str, dict[str, float]]]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    return text, parse(text)


async def test_metrics_show_cases_outbox_sends_updates_and_passes(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path, [MINH])
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        minh = await client.add_user(MINH.user_id, MINH.name, username=MINH.username)
        await client.add_chat(GROUP, type="supergroup", title="Đội PL", members=[minh])
        async with (
            running_bot(
                db_url,
                tmp_path,
                sandbox.root_url,
                policy_file=policy,
                reminder_interval_seconds=0.2,
            ) as bot,
            aiohttp.ClientSession() as http,
        ):
            base = f"http://127.0.0.1:{bot.http_port}"
            # One 429, one 500, then a post held up long enough to be seen waiting.
            await client.add_fault("429", count=1, retry_after=1, methods=["sendMessage"])
            late = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
            status, _ = await post_intake(http, base, intake_body("OPS-1", received_at=late))
            assert status == 201
            await client.wait_for_message(GROUP, contains="PL-1", timeout=15)
            await client.add_fault("500", count=1, methods=["sendMessage"])
            await client.add_fault("stall", count=1, delay=2, methods=["sendMessage"])
            status, _ = await post_intake(http, base, intake_body("OPS-2"))
            await client.send_text(minh, GROUP, "/mine")

            async def waiting() -> dict[str, dict[str, float]] | None:
                _, m = await scrape(base)
                return m if m["dispatch_outbox_pending"][""] >= 1 else None

            seen = await wait_until(waiting, timeout=15, what="a message waiting")
            assert seen["dispatch_outbox_oldest_seconds"][""] > 0

            async def settled() -> dict[str, dict[str, float]] | None:
                _, m = await scrape(base)
                done = m["dispatch_outbox_pending"][""] == 0
                updates = m.get("dispatch_update_seconds_count", {})
                return m if done and updates and m.get("dispatch_scheduler_passes_total") else None

            m = await wait_until(settled, timeout=30, what="everything delivered")
            text, _ = await scrape(base)

    assert all(re.fullmatch(r'\{status="\w+",team="\w+"\}', k) for k in m["dispatch_cases"])
    assert m["dispatch_cases"]['{status="open",team="PL"}'] == 2
    assert m["dispatch_cases_overdue"]['{team="PL"}'] == 1  # OPS-1 came in 5 hours ago
    assert m["dispatch_outbox_oldest_seconds"][""] == 0
    assert m["dispatch_send_429_total"]['{channel="telegram"}'] == 1
    assert m["dispatch_send_retries_total"]['{channel="telegram",reason="429"}'] == 1
    assert m["dispatch_send_retries_total"]['{channel="telegram",reason="error"}'] == 1
    assert m["dispatch_send_seconds_count"]['{channel="telegram",operation="send"}'] >= 4
    assert m["dispatch_send_seconds_bucket"]['{channel="telegram",operation="send",le="+Inf"}'] >= 4
    assert m["dispatch_update_seconds_count"]['{channel="telegram",kind="message"}'] >= 1
    assert m["dispatch_scheduler_passes_total"]['{name="reminders",outcome="ok"}'] >= 1
    assert m["dispatch_scheduler_messages_total"]['{name="reminders"}'] >= 1  # the reminder
    assert m["dispatch_scheduler_leader"][""] == 1
    assert "0912345678" not in text and "Trần Văn Hưng" not in text


def test_metrics_render_is_valid_prometheus_text() -> None:
    metrics = Metrics()
    metrics.sent.inc('tele"gram')
    metrics.send_seconds.observe(0.02, "telegram", "send")
    metrics.send_seconds.observe(100.0, "telegram", "send")
    m = parse("\n".join(metrics.render()))
    assert m["dispatch_messages_sent_total"] == {'{channel="tele\\"gram"}': 1.0}
    buckets = m["dispatch_send_seconds_bucket"]
    assert buckets['{channel="telegram",operation="send",le="0.01"}'] == 0
    assert buckets['{channel="telegram",operation="send",le="0.025"}'] == 1
    assert buckets['{channel="telegram",operation="send",le="+Inf"}'] == 2
    assert m["dispatch_send_seconds_sum"]['{channel="telegram",operation="send"}'] == 100.02


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure(load_settings(log_format="json", instance_name="bot-1", telegram_bot_token=None))
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.captureWarnings(False)


def test_json_logs_are_one_object_per_line_with_the_case_and_no_phone(
    json_log: io.StringIO,
) -> None:
    log = logging.getLogger("bot.test")
    with case_context("PL-17"):
        log.info("sending the card\nsecond line of the same event")
    log.warning("intake for 0912345678 refused", extra={"case_ref": "PL-18", "channel": "zalo"})
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("failed")
    log.info("no case here")
    lines = json_log.getvalue().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 4
    assert events[0]["case"] == "PL-17" and events[0]["instance"] == "bot-1"
    assert events[0]["message"] == "sending the card\nsecond line of the same event"
    assert events[1]["case"] == "PL-18" and events[1]["channel"] == "zalo"
    assert "0912345678" not in lines[1] and "0912***678" in events[1]["message"]
    assert "ValueError" in events[2]["exc"] and events[2]["level"] == "ERROR"
    assert "case" not in events[3]
    assert {"at", "level", "logger", "message"} <= set(events[3])
