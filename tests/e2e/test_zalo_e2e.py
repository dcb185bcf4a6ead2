"""What only Zalo needs: its webhook (secret, replays), repeated deliveries, long texts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.bootstrap import Container
from bot.channels.base import Outbound
from bot.domain.clock import FixedClock
from bot.services.ports import OutboxItem
from sandbox import ZaloSandboxClient, make_png
from sandbox.phones import say
from tests.e2e.conftest import (
    CAST,
    ZALO_BOT,
    ZGROUP,
    Stage,
    minh_on_webhooks,
    new_connection,
    running_stage,
)
from tests.rawhttp import exchange, http_errors, request

SECRET = "zalo-webhook-secret-1"
MINH = "0a1b2c3d4e5f60003002"
PATH = "/zalo/webhook"
GOOD = {"X-Bot-Api-Secret-Token": SECRET}
SECRET_LINE = b"X-Bot-Api-Secret-Token: "


def update(message_id: str, text: str) -> dict[str, Any]:
    return {
        "event_name": "message.text.received",
        "message": {
            "from": {"id": MINH, "display_name": "Minh", "is_bot": False},
            "chat": {"id": ZGROUP, "chat_type": "GROUP"},
            "message_id": message_id,
            "date": 1_764_200_000_000,
            "text": f"@{ZALO_BOT} {text}",
        },
    }


@contextlib.asynccontextmanager
async def webhook_system(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[tuple[Container, ZaloSandboxClient]]:
    async with minh_on_webhooks(database_url, tmp_path, clock, {"zalo": SECRET}) as system:
        assert system.zalo is not None
        yield system.container, system.zalo


async def test_webhook_refuses_a_wrong_secret_and_processes_a_repeated_message_once(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with webhook_system(database_url, tmp_path, clock) as (container, people):
        (registered,) = await people.calls("setWebhook")
        assert registered.params == {
            "url": "https://dispatch.example.vn/zalo/webhook",
            "secret_token": SECRET,
        }
        url = f"http://127.0.0.1:{container.http_port}/zalo/webhook"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update("a1", "/mine")) as resp:
                assert resp.status == 403
            wrong = {"X-Bot-Api-Secret-Token": SECRET + "x"}
            async with http.post(url, json=update("a1", "/mine"), headers=wrong) as resp:
                assert resp.status == 403
            good = {"X-Bot-Api-Secret-Token": SECRET}
            async with http.post(url, data=b"not json", headers=good) as resp:
                assert resp.status == 400
            answers = []
            for _ in range(2):
                async with http.post(url, json=update("a2", "/mine"), headers=good) as resp:
                    assert resp.status == 200
                    answers.append(await resp.json())
            assert answers == [{"ok": True}, {"ok": True, "duplicate": True}]
            async with http.post(url, json=update("a3", "/help"), headers=good) as resp:
                assert resp.status == 200
        await people.wait_for_message(ZGROUP, contains="/claim")  # the /help answer
        shown = [m.body for m in await people.messages(ZGROUP)]
        assert sum("không có việc" in body for body in shown) == 1
        assert len(shown) == 2


def without_id(text: str) -> dict[str, Any]:
    body = update("unused", text)
    del body["message"]["message_id"]
    return body


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("non-ASCII secret", request("POST", PATH, raw_headers=SECRET_LINE + b"\xff\xc3\r\n"), 403),
        ("30,000 levels deep", request("POST", PATH, GOOD, b"[" * 30_000 + b"]" * 30_000), 400),
        (
            "deep objects",
            request("POST", PATH, GOOD, b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
            400,
        ),
    ],
)
async def test_odd_requests_at_the_zalo_webhook_get_a_4xx_not_a_500(
    database_url: str,
    tmp_path: Path,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
    name: str,
    data: bytes,
    status: int,
) -> None:
    async with webhook_system(database_url, tmp_path, clock) as (container, _):
        assert container.http_port is not None
        (answer,) = await exchange(container.http_port, data, expect=1)
        assert answer.status == status, answer
        assert set(answer.json()) == {"error"}
    assert not http_errors(caplog), caplog.text


async def test_a_message_without_an_id_delivered_again_is_handled_once(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Without a message id there was nothing to recognise a redelivery by: handled each time."""
    async with webhook_system(database_url, tmp_path, clock) as (container, people):
        url = f"http://127.0.0.1:{container.http_port}{PATH}"
        async with aiohttp.ClientSession() as http:
            answers = []
            for _ in range(3):
                async with http.post(url, json=without_id("/mine"), headers=GOOD) as resp:
                    answers.append((resp.status, await resp.json()))
            # A message id Zalo would never send (60,000 characters, an object) is no crash.
            for odd in ("7" * 60_000, {"id": 1}):
                body = update("unused", "/mine")
                body["message"]["message_id"] = odd
                async with http.post(url, json=body, headers=GOOD) as resp:
                    assert resp.status == 200
            async with http.post(url, json=update("b1", "/help"), headers=GOOD) as resp:
                assert resp.status == 200
        assert answers == [(200, {"ok": True})] + [(200, {"ok": True, "duplicate": True})] * 2
        await people.wait_for_message(ZGROUP, contains="/claim")  # the /help answer
        shown = [m.body for m in await people.messages(ZGROUP)]
        assert sum("không có việc" in body for body in shown) == 3  # once, and the two odd ids


async def test_a_photo_the_bot_sends_is_fetched_by_zalo_from_a_signed_link(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    photo = tmp_path / "media" / "PL-1" / "meter.png"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(make_png(6, 4))
    async with webhook_system(database_url, tmp_path, clock) as (container, people):
        async with container.uow() as uow:
            message = Outbound(text="Ảnh công tơ PL-1", photo_path=str(photo))
            await uow.outbox.add(OutboxItem("zalo", ZGROUP, message.to_json()))
            await uow.commit()
        sent = await people.wait_for_message(ZGROUP, where=lambda m: m.photo_url is not None)
        assert sent.caption == "Ảnh công tơ PL-1"
        assert sent.photo_url is not None
        public = "https://dispatch.example.vn/zalo/media/"
        assert sent.photo_url.startswith(public)
        local = sent.photo_url.replace(
            "https://dispatch.example.vn", f"http://127.0.0.1:{container.http_port}"
        )
        async with aiohttp.ClientSession() as http:
            async with http.get(local) as resp:
                assert resp.status == 200 and await resp.read() == photo.read_bytes()
            async with http.get(local[:-4] + "0000") as resp:
                assert resp.status == 404  # a forged signature gets nothing


@pytest.mark.parametrize("stage", ["zalo"], indirect=True)
async def test_a_message_zalo_delivers_twice_is_processed_once(stage: Stage) -> None:
    s = stage
    assert s.zalo is not None
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card("zalo", ref)
    sent = await s.phone(s.minh).send(s.minh, ZGROUP, f"/claim {ref}")
    await s.zalo.redeliver(sent.id)
    later = await s.say(s.minh, "/mine")  # handled after both deliveries
    assert ref in later.body
    await s.settled()
    shown = [m.body for m in await s.phones["zalo"].messages(ZGROUP)]
    assert sum(body.startswith(f"✅ {ref}: Minh đã nhận việc") for body in shown) == 1
    assert not any("đã có người nhận" in body for body in shown)
    case = await s.case(ref)
    assert sum(h["action"] == "claim" for h in case["history"]) == 1


@pytest.mark.parametrize("stage", ["zalo"], indirect=True)
async def test_a_3000_character_report_arrives_as_several_messages_none_over_2000(
    stage: Stage,
) -> None:
    s = stage
    lines = [f"PL-{i}: Đã lắp, đóng điện · 12 Trần Hưng Đạo, Phủ Lý" for i in range(1, 61)]
    report = "📊 Báo cáo tuần\n" + "\n".join(lines)
    assert len(report) >= 3000
    async with s.container.uow() as uow:
        await uow.outbox.add(OutboxItem("zalo", ZGROUP, Outbound(text=report).to_json()))
        await uow.commit()
    s.container.relay.wake()
    await s.settled()
    shown = [m for m in await s.phones["zalo"].messages(ZGROUP) if m.from_bot]
    assert len(shown) >= 2
    assert all(len(m.body) <= 2000 for m in shown)
    assert "\n".join(m.body for m in shown) == report


async def test_an_admin_binds_a_second_zalo_group_by_mentioning_the_bot_in_it(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(CAST, "zalo")
    lead_id = CAST["lead"][5]
    async with running_stage(database_url, tmp_path, clock, where, f"zalo:{lead_id}") as s:
        assert s.zalo is not None
        other = "77e0c4a1b2d3e4f5a6b7"
        await s.zalo.add_chat(other, title="Tổ trực Phủ Lý", members=[lead_id, s.minh.user_id])
        phone = s.phones["zalo"]
        done = await say(phone, s.lead, other, "/bindteam PL")
        assert done.body == "Nhóm này đã gắn với đội PL (Phủ Lý)."
        refused = await say(phone, s.minh, other, "/bindteam PL")
        assert refused.body == "Chỉ quản trị viên được làm việc này."
        _, body = await s.intake(new_connection())
        ref = body["ref"]
        for group in (ZGROUP, other):
            card = await phone.card(group, ref)
            assert card.offers == (f"👉 Trả lời /claim {ref} để nhận việc",)
