"""A whole running system: the real bot against the sandbox, over HTTP, on SQLite and PostgreSQL.

`system` is the Telegram-only stage the older tests use.  `stage` runs the same team on
Telegram or on Zalo (a parameter), and `mixed` one team with a group on each; both are played
through channel-neutral phones (`sandbox.phones`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.runner import serve
from sandbox.client import ChatMessage, SandboxClient, SandboxUser, ZaloSandboxClient
from sandbox.phones import Person, Phone, Seen, TelegramPhone, ZaloPhone, say
from sandbox.telegram import TelegramSandbox
from sandbox.zalo import ZaloSandbox
from tests.conftest import make_settings

TOKEN = "777000:e2e-sandbox-token-0123456789"
INTAKE = "test-intake-token"
GROUP = -100555


class IntakeDesk:
    """The one-stop desk's calls to the intake API, for the fixtures that hold `http` and `api`."""

    http: aiohttp.ClientSession
    api: str

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


@dataclass
class System(IntakeDesk):
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

    async def card(self, ref: str) -> ChatMessage:
        """The card, once the bot has recorded it, so a reply to it is understood."""
        card = await self.client.wait_for_message(GROUP, contains=f"📋 {ref} ")
        await recorded(self.container, "telegram", str(GROUP), str(card.message_id))
        return card

    async def say(
        self,
        user: SandboxUser,
        text: str,
        chat: int = GROUP,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        **kw: Any,
    ) -> ChatMessage:
        """A person types; returns the bot's answer, which replies to that message."""
        sent = await self.client.send_text(user, chat, text, **kw)
        return await self.client.wait_for_message(
            chat, where=lambda m: m.reply_to == sent.message_id, timeout=timeout
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


# --------------------------------------------------------------------------- any channel

ZALO_TOKEN = "2705550001:e2e-zalo-sandbox-token"
ZALO_BOT = "Bot Điều Phối"
ZGROUP = "5a1f0c3e9d7b2a4c6e80"
CHANNELS = ("telegram", "zalo")


def on_sandbox(channel: str, root_url: str) -> dict[str, object]:
    """Settings that point `channel` at its sandbox, with the e2e bot token."""
    token = TOKEN if channel == "telegram" else ZALO_TOKEN
    return {f"{channel}_bot_token": token, f"{channel}_api_url": root_url}


def webhook_mode(channel: str, secret: str) -> dict[str, object]:
    """Settings that put `channel` in webhook mode, served at our own HTTP server."""
    return {
        f"{channel}_mode": "webhook",
        f"{channel}_webhook_url": f"https://dispatch.example.vn/{channel}/webhook",
        f"{channel}_webhook_secret": secret,
    }


#: key: (name, role, team, Telegram id, Telegram username, Zalo id)
CAST: dict[str, tuple[str, Role, str | None, int, str, str]] = {
    "lead": ("Lan", Role.LEAD, "PL", 3001, "lan_pl", "0a1b2c3d4e5f60003001"),
    "minh": ("Minh", Role.WORKER, "PL", 3002, "minh_pl", "0a1b2c3d4e5f60003002"),
    "hung": ("Hùng", Role.WORKER, "PL", 3003, "hung_pl", "0a1b2c3d4e5f60003003"),
    "clerk": ("Thu", Role.CLERK, None, 3004, "thu_desk", "0a1b2c3d4e5f60003004"),
}


async def seat_on_telegram(client: SandboxClient, key: str, started: bool = True) -> Identity:
    """Someone of the CAST as a person of the Telegram sandbox (`started` False: never
    pressed Start, so the bot cannot write to them first)."""
    name, _, _, tg_id, username, _ = CAST[key]
    await client.add_user(tg_id, name, username=username, language_code="vi", started=started)
    return Identity("telegram", str(tg_id), username)


async def seat_on_zalo(client: ZaloSandboxClient, key: str, started: bool = True) -> Identity:
    """Someone of the CAST as a person of the Zalo sandbox (Zalo has no usernames)."""
    name, _, _, _, _, zalo_id = CAST[key]
    await client.add_user(zalo_id, name, started=started)
    return Identity("zalo", zalo_id, None)


@dataclass
class Stage(IntakeDesk):
    """The running system and its people, each on the channel the test put them on."""

    container: Container
    api: str
    http: aiohttp.ClientSession
    phones: dict[str, Phone]
    groups: dict[str, str]  # channel -> the team's group chat there
    people: dict[str, Person] = field(default_factory=dict)
    zalo: ZaloSandboxClient | None = None

    @property
    def lead(self) -> Person:
        return self.people["lead"]

    @property
    def minh(self) -> Person:
        return self.people["minh"]

    @property
    def hung(self) -> Person:
        return self.people["hung"]

    @property
    def clerk(self) -> Person:
        return self.people["clerk"]

    def phone(self, who: Person) -> Phone:
        return self.phones[who.channel]

    def group(self, who: Person) -> str:
        return self.groups[who.channel]

    async def say(self, who: Person, text: str, chat: str | None = None) -> Seen:
        """A person types in their team's group (or `chat`); returns the bot's answer."""
        return await say(self.phone(who), who, chat or self.group(who), text)

    async def card(self, channel: str, ref: str, contains: str | None = None) -> Seen:
        """The case as the team's group on `channel` shows it now."""
        card = await self.phones[channel].card(self.groups[channel], ref, contains=contains)
        if channel == "telegram":  # the one channel where people reply to a message
            await recorded(self.container, channel, self.groups[channel], card.id)
        return card

    async def settled(self) -> None:
        await drained(self.container)


async def drained(container: Container) -> None:
    """The outbox is empty: every message the bot meant to send was sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await container.store.pending_count():
        assert loop.time() < deadline, "outbox did not drain"
        await asyncio.sleep(0.02)


async def recorded(container: Container, channel: str, chat_id: str, message_id: str) -> None:
    """The bot has written down which case a message it sent is about. A person sees the
    message a moment before that; a test replying at once would outrun it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        async with container.uow() as uow:
            if await uow.cases.case_for_message(channel, chat_id, message_id) is not None:
                return
        assert loop.time() < deadline, f"message {message_id} in {chat_id} was never recorded"
        await asyncio.sleep(0.02)


async def started(container: Container, task: asyncio.Task[None]) -> None:
    """The HTTP server listens and every channel runs (the server comes up first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while container.http_port is None or not all(
        getattr(channel, "running", True) for channel in container.channels.values()
    ):
        assert loop.time() < deadline and not task.done(), "the system did not start"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running_stage(
    database_url: str,
    tmp_path: Path,
    clock: FixedClock,
    where: Mapping[str, str],
    admins: str = "telegram:9001",
    also: Iterable[str] = (),
    unstarted: Iterable[str] = (),
    team_lang: str | None = None,
    **settings: object,
) -> AsyncIterator[Stage]:
    """Team PL with a group on every channel someone in `where` (person -> channel) uses.

    `also`: channels to run besides, with nobody on them yet and no team group.
    `unstarted`: people who never wrote to the bot (a private message to them is refused).
    """
    peopled = set(where.values())
    channels = sorted(peopled | set(also))
    async with contextlib.AsyncExitStack() as stack:
        extra: dict[str, object] = {}
        telegram: SandboxClient | None = None
        zalo: ZaloSandboxClient | None = None
        if "telegram" in channels:
            tg_server = await stack.enter_async_context(TelegramSandbox(token=TOKEN))
            telegram = await stack.enter_async_context(SandboxClient(tg_server.root_url))
            extra.update(telegram_bot_token=TOKEN, telegram_api_url=tg_server.root_url)
        if "zalo" in channels:
            z_server = await stack.enter_async_context(
                ZaloSandbox(token=ZALO_TOKEN, bot_display_name=ZALO_BOT)
            )
            zalo = await stack.enter_async_context(ZaloSandboxClient(z_server.root_url))
            extra.update(zalo_bot_token=ZALO_TOKEN, zalo_api_url=z_server.root_url)
        extra.update(settings)
        config = make_settings(database_url, tmp_path, http_port=0, admin_ids=admins, **extra)
        container = await bootstrap(config, clock=clock)
        stack.push_async_callback(container.close)
        people: dict[str, Person] = {}
        idents: dict[str, Identity] = {}
        for key, channel in where.items():
            opened = key not in set(unstarted)
            if channel == "telegram":
                assert telegram is not None
                idents[key] = await seat_on_telegram(telegram, key, opened)
            else:
                assert zalo is not None
                idents[key] = await seat_on_zalo(zalo, key, opened)
            people[key] = Person(key, CAST[key][0], channel, idents[key].external_id)
        groups: dict[str, str] = {}
        phones: dict[str, Phone] = {}
        members = {c: [p.user_id for p in people.values() if p.channel == c] for c in channels}
        if telegram is not None:
            phones["telegram"] = TelegramPhone(telegram)
            if "telegram" in peopled:
                await telegram.add_chat(
                    GROUP, title="Đội PL", members=[int(m) for m in members["telegram"]]
                )
                groups["telegram"] = str(GROUP)
        if zalo is not None:
            phones["zalo"] = ZaloPhone(zalo, functools.partial(drained, container))
            if "zalo" in peopled:
                await zalo.add_chat(ZGROUP, title="Đội PL (Zalo)", members=members["zalo"])
                groups["zalo"] = ZGROUP
        async with container.uow() as uow:
            bindings = tuple(ChatBinding(c, chat) for c, chat in sorted(groups.items()))
            await uow.teams.add(Team("PL", "Phủ Lý", bindings, team_lang))
            await uow.teams.add(Team("DL", "Duy Tiên", (ChatBinding("telegram", "-100777"),)))
            for key, person in people.items():
                _, role, team, _, _, _ = CAST[key]
                await uow.members.add(
                    Member(person.uid, person.name, role, team, None, (idents[key],))
                )
            await uow.commit()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(container, stop))
        await started(container, task)
        try:
            async with aiohttp.ClientSession() as http:
                yield Stage(
                    container,
                    f"http://127.0.0.1:{container.http_port}",
                    http,
                    phones,
                    groups,
                    people,
                    zalo,
                )
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)


@pytest.fixture(params=CHANNELS)
async def stage(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Stage]:
    """The whole team on one channel, Telegram or Zalo: the same tests run on both."""
    where = dict.fromkeys(CAST, str(request.param))
    async with running_stage(database_url, tmp_path, clock, where) as running:
        yield running


@pytest.fixture
async def mixed(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Stage]:
    """One team, a group on each channel: Lan and Minh on Telegram, Hùng and Thu on Zalo."""
    where = {"lead": "telegram", "minh": "telegram", "hung": "zalo", "clerk": "zalo"}
    async with running_stage(database_url, tmp_path, clock, where) as running:
        yield running


# --------------------------------------------------------------------------- webhooks


@dataclass
class Hooked:
    """The running system, with each channel's sandbox as Minh's phone sees it."""

    container: Container
    telegram: SandboxClient | None
    zalo: ZaloSandboxClient | None


@contextlib.asynccontextmanager
async def minh_on_webhooks(
    database_url: str, tmp_path: Path, clock: FixedClock, secrets: Mapping[str, str]
) -> AsyncIterator[Hooked]:
    """Each channel of `secrets` in webhook mode (with that secret) on our own HTTP server,
    and Minh, a worker of team PL, in the team's group there: one person on them all."""
    async with contextlib.AsyncExitStack() as stack:
        extra: dict[str, object] = {}
        idents: list[Identity] = []
        bindings: list[ChatBinding] = []
        telegram: SandboxClient | None = None
        zalo: ZaloSandboxClient | None = None
        if "telegram" in secrets:
            tg_server = await stack.enter_async_context(TelegramSandbox(token=TOKEN))
            telegram = await stack.enter_async_context(SandboxClient(tg_server.root_url))
            idents.append(await seat_on_telegram(telegram, "minh"))
            await telegram.add_chat(GROUP, title="Đội PL", members=[int(idents[-1].external_id)])
            bindings.append(ChatBinding("telegram", str(GROUP)))
            extra.update(on_sandbox("telegram", tg_server.root_url))
        if "zalo" in secrets:
            z_server = await stack.enter_async_context(
                ZaloSandbox(token=ZALO_TOKEN, bot_display_name=ZALO_BOT)
            )
            zalo = await stack.enter_async_context(ZaloSandboxClient(z_server.root_url))
            idents.append(await seat_on_zalo(zalo, "minh"))
            await zalo.add_chat(ZGROUP, title="Đội PL (Zalo)", members=[idents[-1].external_id])
            bindings.append(ChatBinding("zalo", ZGROUP))
            extra.update(on_sandbox("zalo", z_server.root_url))
        for channel, secret in secrets.items():
            extra.update(webhook_mode(channel, secret))
        config = make_settings(database_url, tmp_path, http_port=0, **extra)
        container = await bootstrap(config, clock=clock)
        stack.push_async_callback(container.close)
        async with container.uow() as uow:
            await uow.teams.add(Team("PL", "Phủ Lý", tuple(bindings)))
            name, role, team, *_ = CAST["minh"]
            await uow.members.add(Member(idents[0].uid, name, role, team, None, tuple(idents)))
            await uow.commit()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(container, stop))
        try:
            await started(container, task)
            yield Hooked(container, telegram, zalo)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
