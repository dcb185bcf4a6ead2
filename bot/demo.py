"""`dispatchbot demo`: a scripted morning at the desk, offline, against the sandbox.

Everything is real except the people: the bot talks HTTP to the built-in Bot API
sandbox, the clerk files cases through the intake API, and the database is an
SQLite file in a temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.config import load_settings
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.runner import serve
from bot.sandbox.client import ChatMessage, SandboxClient, SandboxUser
from bot.sandbox.telegram import TelegramSandbox
from storage import tables as t

TOKEN = "123456:DEMO-sandbox-token-not-a-secret"
INTAKE = "demo-intake-token"
GROUP_ID = -100123456789

CASES: list[dict[str, Any]] = [
    {
        "external_ref": "TTHCC-PL-2026-00123",
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
    },
    {
        "external_ref": "TTHCC-PL-2026-00124",
        "kind": "meter_complaint",
        "team": "PL",
        "customer": {
            "name": "Nguyễn Thị Mai",
            "phone": "0987654321",
            "address": "5 Lê Lợi, Phủ Lý",
        },
        "description": "Công tơ quay nhanh bất thường",
    },
    {
        "external_ref": "TTHCC-PL-2026-00125",
        "kind": "new_connection",
        "team": "PL",
        "area": "rural",
        "purpose": "domestic",
        "customer": {
            "name": "Lê Văn Toàn",
            "phone": "0356789123",
            "address": "Xóm 3, Liêm Tuyền, Thanh Liêm",
        },
        "description": "Cấp điện nhà mới xây",
    },
]


class Script:
    """The humans of the demo, each acting through the sandbox like a phone would."""

    def __init__(self, client: SandboxClient, api: str, say: Callable[[str], None]) -> None:
        self.client = client
        self.api = api
        self.say = say

    async def post_case(self, http: aiohttp.ClientSession, body: dict[str, Any]) -> str:
        async with http.post(
            f"{self.api}/api/v1/cases", json=body, headers={"Authorization": f"Bearer {INTAKE}"}
        ) as resp:
            data = await resp.json()
            if resp.status not in (200, 201):
                raise RuntimeError(f"intake refused: {resp.status} {data}")
            return str(data["ref"])

    async def card(self, ref: str) -> ChatMessage:
        return await self.client.wait_for_message(GROUP_ID, contains=f"📋 {ref} ")

    async def type(self, user: SandboxUser, text: str, chat: int = GROUP_ID) -> ChatMessage:
        """A person types; returns the bot's answer in that chat."""
        self.say(f"  {user.first_name}: {text}")
        sent = await self.client.send_text(user, chat, text)
        return await self.client.wait_for_message(
            chat, where=lambda m: m.reply_to == sent.message_id
        )


async def _seed(container: Container, people: dict[str, SandboxUser]) -> None:
    roles = {"lan": Role.LEAD, "minh": Role.WORKER, "hung": Role.WORKER, "thu": Role.CLERK}
    async with container.uow() as uow:
        await uow.teams.add(
            Team("PL", "Điện lực Phủ Lý", (ChatBinding("telegram", str(GROUP_ID)),))
        )
        for key, user in people.items():
            uid = f"telegram:{user.id}"
            ident = Identity("telegram", str(user.id), user.username)
            team = None if roles[key] is Role.CLERK else "PL"
            await uow.members.add(Member(uid, user.full_name, roles[key], team, "vi", (ident,)))
        await uow.commit()


async def _kpis(container: Container) -> list[str]:
    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(t.cases.c.status, sa.func.count()).group_by(t.cases.c.status)
            )
        ).all()
    counts = {str(r[0]): int(r[1]) for r in rows}
    received = sum(counts.values())
    finished = counts.get("closed", 0)
    return [
        f"  received: {received}",
        f"  closed:   {finished}",
        f"  open:     {received - finished - counts.get('cancelled', 0)}",
        "  by status: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())),
    ]


async def _play(container: Container, client: SandboxClient, api: str) -> list[str]:
    out: list[str] = []
    say = out.append
    s = Script(client, api, say)
    lan, minh, hung = (
        await client.add_user(2001, "Lan", last_name="Phạm", username="lan_pl", language_code="vi"),
        await client.add_user(2002, "Minh", last_name="Đỗ", username="minh_pl", language_code="vi"),
        await client.add_user(2003, "Hùng", last_name="Vũ", username="hung_pl", language_code="vi"),
    )
    thu = await client.add_user(
        2004, "Thu", last_name="Ngô", username="thu_desk", language_code="vi"
    )
    await client.add_chat(
        GROUP_ID, title="Đội Phủ Lý", members=[lan, minh, hung, thu], bot_is_admin=True
    )
    await _seed(container, {"lan": lan, "minh": minh, "hung": hung, "thu": thu})

    say("08:15 The clerk files three cases through the intake API.")
    async with aiohttp.ClientSession() as http:
        refs = [await s.post_case(http, body) for body in CASES]
        again = await s.post_case(http, CASES[0])
        say(f"  filed {', '.join(refs)}; a retried call returned {again} again, not a new case")
    cards = [await s.card(ref) for ref in refs]

    say("08:20 Minh and Hùng press «Nhận việc» on the first case at the same moment.")
    label = cards[0].buttons[0].text
    presses = await asyncio.gather(
        client.press_button(minh, GROUP_ID, cards[0].message_id, label),
        client.press_button(hung, GROUP_ID, cards[0].message_id, label),
    )
    for who, press in zip(("Minh", "Hùng"), presses, strict=True):
        answer = await client.wait_for_answer(press)
        say(f"  {who} sees: {answer.text}")
    await client.wait_for(
        GROUP_ID,
        lambda ms: any(m.message_id == cards[0].message_id and m.edited for m in ms),
        what="card edited",
    )
    winner = await _winner(container, refs[0], {minh.id: minh, hung.id: hung})
    other = hung if winner is minh else minh

    say("08:30 The winner works the new connection from the site; the others reply in the group.")
    ref = refs[0]
    for user, text in (
        (winner, f"/survey {ref} Đã khảo sát, cần 25m cáp vặn xoắn"),
        (winner, f"/estimate {ref} 1,5tr 2.000.000 vật tư theo đơn giá"),
        (thu, f"/agree {ref}"),
        (winner, f"/install {ref} CT-2026-778899 0"),
        (lan, f"/close {ref} Hồ sơ đủ"),
    ):
        reply = await s.type(user, text)
        say(f"  bot: {reply.body}")

    say("09:10 The meter complaint: claimed by command, then inspected and resolved.")
    ref = refs[1]
    for user, text in (
        (other, f"/claim {ref}"),
        (other, f"/inspect {ref} Kiểm tra tại chỗ, công tơ chạy đúng"),
        (other, f"/resolve {ref} Đã giải thích cho khách, khách đồng ý"),
        (lan, f"/close {ref}"),
    ):
        reply = await s.type(user, text)
        say(f"  bot: {reply.body}")

    say("09:30 Careless input gets a clear answer and changes nothing.")
    for user, text in (
        (winner, "/survey PL-99 ghi chú"),
        (winner, f"/estimate {refs[2]} mười nghìn 2tr"),
        (other, f"/install {refs[2]} CT-1"),
    ):
        reply = await s.type(user, text)
        say(f"  bot: {reply.body}")

    await _settle(container)
    say("")
    for chat in (GROUP_ID, winner.id, other.id):
        say(await client.transcript(chat))
        say("")
    say("The day's figures:")
    out.extend(await _kpis(container))
    return out


async def _winner(container: Container, ref: str, users: dict[int, SandboxUser]) -> SandboxUser:
    async with container.uow() as uow:
        case = await uow.cases.get_by_ref(ref)
    assert case is not None and case.assignee is not None
    return users[int(case.assignee.split(":")[1])]


async def _settle(container: Container, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until the outbox is empty, so the transcripts show everything."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await container.store.pending_count() and loop.time() < deadline:
        container.relay.wake()
        await asyncio.sleep(0.05)


async def run_demo(channel: str = "telegram", echo: Callable[[str], None] = print) -> int:
    """Run the scripted morning and print what people saw; 0 when it all went through."""
    if channel != "telegram":
        echo(f"The {channel} channel is not available in the demo yet; use --channel telegram.")
        return 2
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dispatch-demo-") as tmp:
        async with TelegramSandbox(token=TOKEN) as sandbox:
            root = sandbox.root_url
            settings = load_settings(
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}",
                telegram_bot_token=TOKEN,
                telegram_api_url=root,
                intake_token=INTAKE,
                http_port=0,
                media_dir=Path(tmp) / "media",
                admin_ids="telegram:2001",
            )
            container = await bootstrap(settings)
            stop = asyncio.Event()
            server = asyncio.create_task(serve(container, stop))
            try:
                api = await _wait_api(container)
                async with SandboxClient(root) as client:
                    lines = await _play(container, client, api)
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server, 15)
                await container.close()
    for line in lines:
        echo(line)
    return 0


async def _wait_api(container: Container, timeout: float = 10.0) -> str:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        port = container.http_port
        if port:
            return f"http://127.0.0.1:{port}"
        await asyncio.sleep(0.02)
    raise TimeoutError("the HTTP server did not start")
