"""The board's HTTP side over a real server and database (SQLite and PostgreSQL), no chat.

Team PL (lead Lan, workers Minh and Hùng), team DL (lead Quang), a clerk serving every
team (Thu), a stranger Telegram knows but we do not, and an admin of ADMIN_IDS. Cases are
filed through the service as the intake API files them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Area, CaseKind, Customer, Purpose, Role, Source
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.http import build_http_app
from bot.services.commands import ClaimCase, IntakeCase
from tests.conftest import make_settings
from tests.webapp.launch import signed_init_data, telegram_user

TOKEN = "777000:e2e-sandbox-token-0123456789"
GROUP = "-100555"
DESK = Actor(uid="api:desk", name="desk", is_system=True)
#: key -> (Telegram id, name, role, team)
PEOPLE: dict[str, tuple[int, str, Role | None, str | None]] = {
    "lan": (3001, "Lan", Role.LEAD, "PL"),
    "minh": (3002, "Minh", Role.WORKER, "PL"),
    "hung": (3003, "Hùng", Role.WORKER, "PL"),
    "thu": (3004, "Thu", Role.CLERK, None),
    "quang": (3006, "Quang", Role.LEAD, "DL"),
    "stranger": (3005, "Lạ", None, None),
    "admin": (9001, "Admin", None, None),
}

Client = TestClient[web.Request, web.Application]


@dataclass
class Board:
    container: Container
    client: Client
    clock: FixedClock

    def init_data(self, who: str, token: str = TOKEN, **extra: Any) -> str:
        user_id, name, *_ = PEOPLE[who]
        return signed_init_data(telegram_user(user_id, name), token, self.clock.now(), **extra)

    async def session(self, who: str) -> dict[str, str]:
        """The headers of a session opened from `who`'s launch data."""
        resp = await self.client.post("/app/api/session", json={"init_data": self.init_data(who)})
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Session {(await resp.json())['token']}"}

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        resp = await self.client.get(path, headers=await self.session(who))
        return resp.status, await resp.json()

    async def post(self, who: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        headers = await self.session(who)
        if body is not None:
            kw["json"] = body
        resp = await self.client.post(path, headers=headers, **kw)
        return resp.status, await resp.json()

    async def intake(self, team: str = "PL", name: str = "Trần Văn Hưng", **kw: Any) -> str:
        case, _ = await self.container.service.intake(
            IntakeCase(
                DESK,
                Source.API,
                None,
                kind=kw.pop("kind", CaseKind.NEW_CONNECTION),
                team_code=team,
                customer=Customer(name, kw.pop("phone", "0912345678"), "12 Trần Hưng Đạo"),
                description="Đăng ký cấp điện",
                area=Area.URBAN,
                purpose=Purpose.DOMESTIC,
                **kw,
            ),
            self.container.uow(),
        )
        return case.ref

    async def claim(self, who: str, ref: str) -> None:
        user_id, name, role, team = PEOPLE[who]
        assert role is not None
        member = Member(f"telegram:{user_id}", name, role, team)
        actor = Actor(uid=member.uid, name=name, member=member)
        await self.container.service.claim(
            ClaimCase(actor, Source.TELEGRAM, None, ref=ref), self.container.uow()
        )


@pytest.fixture
async def board(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Board]:
    settings = make_settings(
        database_url,
        tmp_path,
        telegram_bot_token=TOKEN,
        admin_ids="telegram:9001",
        webapp_url="https://board.example.vn/app/",
    )
    container = await bootstrap(settings, clock=clock, channels={})
    async with container.uow() as uow:
        await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", GROUP),)))
        await uow.teams.add(Team("DL", "Duy Tiên", (ChatBinding("telegram", "-100777"),)))
        for user_id, name, role, team in PEOPLE.values():
            if role is None:
                continue
            ident = Identity("telegram", str(user_id), None)
            await uow.members.add(Member(f"telegram:{user_id}", name, role, team, None, (ident,)))
        await uow.commit()
    client: Client = TestClient(TestServer(build_http_app(container)))
    await client.start_server()
    try:
        yield Board(container, client, clock)
    finally:
        await client.close()
        await container.close()
