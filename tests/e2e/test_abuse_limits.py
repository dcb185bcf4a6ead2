"""Abuse limits on the running bot: a flood of commands is answered once, politely, then
ignored until the window passes; over-long texts and webhook bodies are refused."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.bootstrap import Container
from bot.channels.base import ChannelAddress, ChatKind, Inbound, InboundUser
from bot.domain.clock import FixedClock
from bot.i18n import Lang, Translator
from handlers.parsing import MAX_TEXT
from handlers.ratelimit import CommandLimiter
from sandbox import SandboxClient, ZaloSandboxClient
from storage import tables as t
from tests.e2e.conftest import (
    GROUP,
    ZALO_BOT,
    ZGROUP,
    System,
    minh_on_webhooks,
)

TR = Translator()


def told(key: str, **values: Any) -> str:
    return TR.t(Lang.VI, key, **values)


def limit(s: System, count: int, seconds: float = 60) -> None:
    """The stage runs with USER_RATE_LIMIT=off (the test clock stands still); set one here."""
    s.container.dispatcher.limiter = CommandLimiter(count, seconds, s.container.clock)


# ------------------------------------------------------------------ the command limit


async def test_a_flood_of_commands_is_answered_once_politely_then_ignored_until_it_passes(
    system: System, clock: FixedClock
) -> None:
    s = system
    limit(s, 3)
    for _ in range(3):
        answer = await s.say(s.minh, "/help")
        assert "/claim" in answer.body
    notice = await s.say(s.minh, "/mine")
    assert notice.body == told("err.rate_limited", seconds=60)

    ignored = [await s.client.send_text(s.minh, GROUP, "/help") for _ in range(3)]
    clock.advance(timedelta(seconds=59))
    ignored.append(await s.client.send_text(s.minh, GROUP, "/open"))
    other = await s.say(s.hung, "/help")  # somebody else is not held back
    assert "/claim" in other.body

    clock.advance(timedelta(seconds=1))  # the first /help leaves the window
    back = await s.say(s.minh, "/help")
    assert "/claim" in back.body
    await s.settled()
    replied_to = {m.reply_to for m in await s.client.messages(GROUP) if m.from_bot}
    assert not replied_to & {m.message_id for m in ignored}


async def test_button_presses_count_and_are_turned_away_with_a_toast(
    system: System, clock: FixedClock
) -> None:
    s = system
    status, body = await s.intake(
        {
            "external_ref": "TTHCC-PL-2026-00500",
            "kind": "meter_complaint",
            "team": "PL",
            "customer": {"name": "Mai", "phone": "0987654321", "address": "5 Lê Lợi"},
        }
    )
    assert status == 201
    ref = body["ref"]
    card = await s.card(ref)
    limit(s, 2)
    await s.say(s.hung, "/help")
    await s.say(s.hung, "/mine")

    pressed = await s.client.press_button(s.hung, GROUP, card.message_id, "✋ Nhận việc")
    answer = await s.client.wait_for_answer(pressed)
    assert answer.text == told("err.rate_limited", seconds=60)
    again = await s.client.wait_for_answer(
        await s.client.press_button(s.hung, GROUP, card.message_id, "✋ Nhận việc")
    )
    assert again.answered and not again.text  # quiet: answered, so the spinner stops
    assert (await s.case(ref))["status"] == "open"

    clock.advance(timedelta(seconds=60))
    claimed = await s.client.wait_for_answer(
        await s.client.press_button(s.hung, GROUP, card.message_id, "✋ Nhận việc")
    )
    assert claimed.text and ref in claimed.text
    assert (await s.case(ref))["status"] == "claimed"


async def test_a_stranger_flooding_a_group_is_never_answered_and_in_private_once(
    system: System, clock: FixedClock
) -> None:
    s = system
    limit(s, 2)
    for _ in range(5):
        await s.client.send_text(s.stranger, GROUP, "/claim PL-1")
    marker = await s.say(s.minh, "/help")  # updates are handled in order: the flood is over
    clock.advance(timedelta(seconds=60))
    private = s.stranger.id
    first = await s.say(s.stranger, "/help", chat=private)
    assert "telegram:3005" in first.body  # how to join, with the user id
    await s.say(s.stranger, "/help", chat=private)
    notice = await s.say(s.stranger, "/help", chat=private)
    assert notice.body == told("err.rate_limited", seconds=60)
    await s.client.send_text(s.stranger, private, "/help")
    await s.settled()
    assert [m for m in await s.client.messages(GROUP) if m.from_bot] == [marker]
    assert len([m for m in await s.client.messages(private) if m.from_bot]) == 3


async def test_plain_messages_are_not_commands_and_do_not_count(system: System) -> None:
    s = system
    limit(s, 1)
    for i in range(5):
        await s.client.send_text(s.minh, GROUP, f"chào cả nhà {i}")
    answer = await s.say(s.minh, "/help")
    assert "/claim" in answer.body


# ------------------------------------------------------------------ over-long text


async def test_an_over_long_command_is_refused_and_changes_nothing(system: System) -> None:
    """Telegram caps what people type at 4096 characters; another channel, or a forged
    webhook update, may not. Fed to the dispatcher, where every channel ends up."""
    s = system
    status, body = await s.intake(
        {
            "external_ref": "TTHCC-PL-2026-00501",
            "kind": "meter_complaint",
            "team": "PL",
            "customer": {"name": "Mai", "phone": "0987654321", "address": "5 Lê Lợi"},
        }
    )
    assert status == 201
    ref = body["ref"]
    await s.say(s.minh, f"/claim {ref}")
    before = await s.case(ref)
    note = "công tơ " * 1300  # 10,400 characters
    result = await s.container.dispatcher.handle(
        Inbound(
            address=ChannelAddress("telegram", str(GROUP)),
            chat_kind=ChatKind.GROUP,
            user=InboundUser(str(s.minh.id), "Minh", "minh_pl", "vi"),
            text=f"/inspect {ref} {note}",
            message_id="999001",
        )
    )
    assert result.toast is None
    await s.client.wait_for_message(GROUP, text=told("err.too_long", limit=MAX_TEXT))
    assert await s.case(ref) == before


async def test_over_long_chatter_in_a_group_is_ignored(system: System) -> None:
    s = system
    before = len(await s.client.messages(GROUP))
    await s.container.dispatcher.handle(
        Inbound(
            address=ChannelAddress("telegram", str(GROUP)),
            chat_kind=ChatKind.GROUP,
            user=InboundUser(str(s.minh.id), "Minh", "minh_pl", "vi"),
            text="a" * (MAX_TEXT + 1),
            message_id="999002",
        )
    )
    await s.settled()
    assert len(await s.client.messages(GROUP)) == before


# ------------------------------------------------------------------ webhook bodies

TG_SECRET = "webhook-secret-123"
ZALO_SECRET = "zalo-webhook-secret-1"
ZALO_MINH = "0a1b2c3d4e5f60003002"


@dataclass
class Hooks:
    container: Container
    telegram: SandboxClient
    zalo: ZaloSandboxClient

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.container.http_port}"


@contextlib.asynccontextmanager
async def hooks(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Hooks]:
    """Both channels in webhook mode, on our HTTP server."""
    secrets = {"telegram": TG_SECRET, "zalo": ZALO_SECRET}
    async with minh_on_webhooks(database_url, tmp_path, clock, secrets) as system:
        assert system.telegram is not None and system.zalo is not None
        yield Hooks(system.container, system.telegram, system.zalo)


def telegram_update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 100 + update_id,
            "date": 1_764_200_000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "Đội PL"},
            "from": {"id": 3002, "is_bot": False, "first_name": "Minh", "language_code": "vi"},
            "text": text,
        },
    }


def zalo_update(message_id: str, text: str) -> dict[str, Any]:
    return {
        "event_name": "message.text.received",
        "message": {
            "from": {"id": ZALO_MINH, "display_name": "Minh", "is_bot": False},
            "chat": {"id": ZGROUP, "chat_type": "GROUP"},
            "message_id": message_id,
            "date": 1_764_200_000_000,
            "text": f"@{ZALO_BOT} {text}",
        },
    }


async def processed_updates(container: Container) -> int:
    async with container.engine.connect() as conn:
        rows = await conn.execute(t.processed_updates.select())
        return len(rows.all())


async def test_webhooks_refuse_bodies_over_64_kib_and_handle_nothing(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with hooks(database_url, tmp_path, clock) as h:
        padding = "x" * (65 * 1024)
        oversized = {
            "telegram": (
                json.dumps(telegram_update(1, "/mine " + padding)).encode(),
                {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
            ),
            "zalo": (
                json.dumps(zalo_update("z1", "/mine " + padding)).encode(),
                {"X-Bot-Api-Secret-Token": ZALO_SECRET},
            ),
        }
        async with aiohttp.ClientSession() as http:
            for channel, (body, secret) in oversized.items():
                url = f"{h.root}/{channel}/webhook"
                async with http.post(url, data=body, headers=secret) as resp:
                    assert resp.status == 413, channel  # as the intake API: one rule
                    assert set(await resp.json()) == {"error"}
                # Without the secret the body is never read at all.
                async with http.post(url, data=body) as resp:
                    assert resp.status == 403, channel
            assert await processed_updates(h.container) == 0

            # The same route still takes a normal update afterwards.
            good = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
            url = f"{h.root}/telegram/webhook"
            async with http.post(url, json=telegram_update(2, "/mine"), headers=good) as resp:
                assert resp.status == 200
            zgood = {"X-Bot-Api-Secret-Token": ZALO_SECRET}
            url = f"{h.root}/zalo/webhook"
            async with http.post(url, json=zalo_update("z2", "/mine"), headers=zgood) as resp:
                assert resp.status == 200
        await h.telegram.wait_for_message(GROUP, contains="không có việc")
        await h.zalo.wait_for_message(ZGROUP, contains="không có việc")
        assert [m.body for m in await h.telegram.messages(GROUP) if m.from_bot] == [
            told("list.mine_empty")
        ]
