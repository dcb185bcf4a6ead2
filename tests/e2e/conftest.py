"""A whole running system: the real bot against the sandbox, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.runner import serve
from bot.sandbox.client import ChatMessage, SandboxClient, SandboxUser
from bot.sandbox.telegram import TelegramSandbox
from tests.conftest import make_settings

TOKEN = "777000:e2e-sandbox-token-0123456789"
INTAKE = "test-intake-token"
GROUP = -100555


@dataclass
class System:
    container: Container
    client: SandboxClient
    api: str
    http: aiohttp.ClientSession
    lead: SandboxUser
    minh: SandboxUser
    hung: SandboxUser
    clerk: SandboxUser
    stranger: SandboxUser
    other_lead: SandboxUser

    async def intake(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            f"{self.api}/api/v1/cases", json=body, headers={"Authorization": f"Bearer {INTAKE}"}
        ) as resp:
            return resp.status, await resp.json()

    async def case(self, ref: str) -> dict[str, Any]:
        async with self.http.get(
            f"{self.api}/api/v1/cases/{ref}", headers={"Authorization": f"Bearer {INTAKE}"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
            return data

    async def card(self, ref: str) -> ChatMessage:
        return await self.client.wait_for_message(GROUP, contains=f"📋 {ref} ")

    async def say(self, user: SandboxUser, text: str, chat: int = GROUP, **kw: Any) -> ChatMessage:
        """A person types; returns the bot's answer, which replies to that message."""
        sent = await self.client.send_text(user, chat, text, **kw)
        return await self.client.wait_for_message(
            chat, where=lambda m: m.reply_to == sent.message_id
        )

    async def settled(self) -> None:
        """The outbox is empty: every message the bot meant to send was sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while await self.container.store.pending_count():
            assert loop.time() < deadline, "outbox did not drain"
            await asyncio.sleep(0.02)


def new_connection(ext: str = "TTHCC-PL-2026-00123", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_ref": ext,
        "kind": "new_connection",
        "team": "PL",
        "area": "urban",
        "purpose": "domestic",
        "customer": {
            "name": "Trần Văn Hưng",
            "phone": "0912345678",
            "address": "12 Trần Hưng Đạo, Phủ Lý",
        },
        "description": "Đăng ký cấp điện sinh hoạt",
    }
    body.update(extra)
    return body


def meter_complaint(ext: str = "TTHCC-PL-2026-00124") -> dict[str, Any]:
    return {
        "external_ref": ext,
        "kind": "meter_complaint",
        "team": "PL",
        "customer": {
            "name": "Nguyễn Thị Mai",
            "phone": "0987654321",
            "address": "5 Lê Lợi, Phủ Lý",
        },
        "description": "Công tơ quay nhanh",
    }


@pytest.fixture
async def system(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[System]:
    async with TelegramSandbox(token=TOKEN) as sandbox:
        settings = make_settings(
            database_url,
            tmp_path,
            telegram_bot_token=TOKEN,
            telegram_api_url=sandbox.root_url,
            http_port=0,
            admin_ids="telegram:9001",
        )
        container = await bootstrap(settings, clock=clock)
        async with SandboxClient(sandbox.root_url) as client:
            lead = await client.add_user(3001, "Lan", username="lan_pl", language_code="vi")
            minh = await client.add_user(3002, "Minh", username="minh_pl", language_code="vi")
            hung = await client.add_user(3003, "Hùng", username="hung_pl", language_code="vi")
            clerk = await client.add_user(3004, "Thu", username="thu_desk", language_code="vi")
            stranger = await client.add_user(3005, "Lạ", username="la", language_code="vi")
            other_lead = await client.add_user(
                3006, "Quang", username="quang_dl", language_code="vi"
            )
            await client.add_chat(
                GROUP, title="Đội PL", members=[lead, minh, hung, clerk, stranger]
            )
            async with container.uow() as uow:
                await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", str(GROUP)),)))
                await uow.teams.add(Team("DL", "Duy Tiên", (ChatBinding("telegram", "-100777"),)))
                for user, role, team in (
                    (lead, Role.LEAD, "PL"),
                    (minh, Role.WORKER, "PL"),
                    (hung, Role.WORKER, "PL"),
                    (clerk, Role.CLERK, None),
                    (other_lead, Role.LEAD, "DL"),
                ):
                    ident = Identity("telegram", str(user.id), user.username)
                    await uow.members.add(
                        Member(f"telegram:{user.id}", user.first_name, role, team, None, (ident,))
                    )
                await uow.commit()
            stop = asyncio.Event()
            task = asyncio.create_task(serve(container, stop))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while container.http_port is None:
                assert loop.time() < deadline and not task.done(), "the system did not start"
                await asyncio.sleep(0.01)
            try:
                async with aiohttp.ClientSession() as http:
                    yield System(
                        container,
                        client,
                        f"http://127.0.0.1:{container.http_port}",
                        http,
                        lead,
                        minh,
                        hung,
                        clerk,
                        stranger,
                        other_lead,
                    )
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 15)
                await container.close()
