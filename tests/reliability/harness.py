"""Real `dispatchbot run` processes against the sandbox, and the clients that load them.

Everything the tests wait for is a condition with a deadline (`wait_until`); nothing
sleeps and hopes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import SystemClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.runner import serve
from sandbox.client import ChatMessage, SandboxClient
from storage import tables as t
from storage.engine import create_engine
from tests.conftest import make_settings

T = TypeVar("T")

TOKEN = "7300000001:reliability-sandbox-token-0123456789"
INTAKE = "reliability-intake-token"
SECRET = "reliability-webhook-secret-0123456789"
WEBHOOK_URL = "https://dispatch.example.vn/telegram/webhook"
GROUP = -1001234567890

CARD_TITLE = re.compile(r"^📋 (\S+) · ", re.MULTILINE)

#: Settings of ours that a developer's environment must not leak into the processes.
_OURS = re.compile(
    r"^(TELEGRAM_|ZALO_|DATABASE_URL|HTTP_|INTAKE_|ADMIN_IDS|MEDIA_DIR|REMINDER_|POLICY_FILE"
    r"|LANGUAGE|LOG_|RELAY_|OUTBOX_|SHUTDOWN_|SCHEDULER_|INSTANCE_NAME)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float,  # noqa: ASYNC109
    what: str,
    interval: float = 0.05,
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------- database


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    role: Role
    username: str

    @property
    def uid(self) -> str:
        return f"telegram:{self.user_id}"


async def seed(
    db_url: str, tmp_path: Path, people: Iterable[Person] = (), group: int = GROUP
) -> None:
    """Schema, team PL bound to `group`, and its people, as an admin would set them up."""
    container = await bootstrap(make_settings(db_url, tmp_path), channels={})
    try:
        async with container.uow() as uow:
            await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", str(group)),)))
            for p in people:
                ident = Identity("telegram", str(p.user_id), p.username)
                await uow.members.add(Member(p.uid, p.name, p.role, "PL", None, (ident,)))
            await uow.commit()
    finally:
        await container.close()


class Db:
    """Read-only looks at the database the bots share."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    async def close(self) -> None:
        await self.engine.dispose()

    async def scalar(self, stmt: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar()

    async def rows(self, stmt: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list(await conn.execute(stmt))

    async def pending(self) -> int:
        return int(
            await self.scalar(
                sa.select(sa.func.count())
                .select_from(t.outbox)
                .where(t.outbox.c.status == "pending")
            )
        )

    async def uncertain_refs(self) -> set[str]:
        """Cases one of whose messages was being sent when a process died: the only
        messages that may show twice (see docs/operations.md)."""
        rows = await self.rows(
            sa.select(t.cases.c.ref)
            .select_from(t.outbox.join(t.cases, t.cases.c.id == t.outbox.c.case_id))
            .where(t.outbox.c.uncertain > 0)
        )
        return {r.ref for r in rows}


# --------------------------------------------------------------------------- processes


def bot_env(
    *,
    db_url: str,
    sandbox: str,
    port: int,
    name: str,
    **settings: object,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _OURS.match(k)}
    env.update(
        DATABASE_URL=db_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=sandbox,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
        INTAKE_TOKEN=INTAKE,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        INSTANCE_NAME=name,
        REMINDER_INTERVAL_SECONDS="3600",
        OUTBOX_LEASE_SECONDS="2",
        SHUTDOWN_FLUSH_SECONDS="5",
        TELEGRAM_RATE_PER_CHAT="off",
        TELEGRAM_RATE_PER_GROUP="off",
        TELEGRAM_RATE_GLOBAL="off",
    )
    env.update({k.upper(): str(v) for k, v in settings.items()})
    return env


@dataclass
class BotProcess:
    """One `python -m bot run` (the `dispatchbot run` entry point) in a subprocess."""

    name: str
    env: dict[str, str]
    workdir: Path
    proc: asyncio.subprocess.Process | None = None
    runs: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.env["HTTP_PORT"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        self.runs += 1
        log = self.workdir / f"{self.name}-{self.runs}.log"
        self.logs.append(log)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        await wait_until(self._ready, timeout=timeout, what=f"{self.name} to answer /healthz")

    async def _ready(self) -> bool:
        if self.proc is not None and self.proc.returncode is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{self.url}/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    def kill(self) -> None:
        """kill -9: no flush, no goodbye."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)

    async def wait(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def terminate(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def stop_quietly(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(Exception):
                self.proc.kill()
                await self.proc.wait()

    def lines(self, run: int | None = None) -> list[str]:
        paths = self.logs if run is None else [self.logs[run - 1]]
        out: list[str] = []
        for path in paths:
            if path.exists():
                out += path.read_text("utf-8", errors="replace").splitlines()
        return out

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines()[-n:])

    def events(self, run: int | None = None) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines(run) if line.strip()]

    async def metric(self, name: str) -> float | None:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/metrics") as resp:
            text = await resp.text()
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None


# --------------------------------------------------------------------------- clients


def intake_body(ext: str, *, received_at: str | None = None) -> dict[str, Any]:
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
    if received_at is not None:
        body["received_at"] = received_at
    return body


async def post_intake(
    http: aiohttp.ClientSession,
    base: str,
    body: dict[str, Any],
    timeout: float = 10.0,  # noqa: ASYNC109
) -> tuple[int, dict[str, Any]]:
    async with http.post(
        f"{base}/api/v1/cases",
        json=body,
        headers={"Authorization": f"Bearer {INTAKE}"},
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as resp:
        return resp.status, await resp.json()


@dataclass
class RetryingIntake:
    """A desk system that retries every call that got no answer until it gets one."""

    base: Callable[[], str]
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)  # ext -> (status, ref)
    unanswered: int = 0

    async def send_all(self, bodies: list[dict[str, Any]], concurrency: int = 8) -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        async with aiohttp.ClientSession() as http:

            async def worker() -> None:
                while True:
                    try:
                        body = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    while True:
                        try:
                            status, data = await post_intake(http, self.base(), body)
                        except (aiohttp.ClientError, TimeoutError, ValueError):
                            status, data = 0, {}
                        if status in (200, 201):
                            self.answers[body["external_ref"]] = (status, data["ref"])
                            break
                        self.unanswered += 1
                        await asyncio.sleep(0.1)  # the bot is down; try again shortly

            await asyncio.gather(*(worker() for _ in range(concurrency)))


async def group_cards(client: SandboxClient, chat: int = GROUP) -> dict[str, int]:
    """How many times each case's card was posted in the chat."""
    counts: dict[str, int] = {}
    for m in await client.messages(chat):
        if not m.from_bot:
            continue
        found = CARD_TITLE.match(m.body)
        if found:
            counts[found.group(1)] = counts.get(found.group(1), 0) + 1
    return counts


async def bot_messages(client: SandboxClient, chat: int) -> list[ChatMessage]:
    return [m for m in await client.messages(chat) if m.from_bot]


async def control(root: str, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
    """The sandbox's control API, for what SandboxClient has no method for."""
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{root}/_sandbox/{path}", json=body) as resp,
    ):
        data = await resp.json()
        assert resp.status == 200, data
        return data


# --------------------------------------------------------------------------- load balancer


class RoundRobin:
    """The load balancer in front of the instances: one URL, requests spread in turn; a
    backend that refuses the connection is skipped, as a health-checked balancer does."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self.served: dict[str, int] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RoundRobin:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        for _ in range(len(self.backends)):
            backend = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                async with self._session.request(
                    request.method,
                    backend + request.path_qs,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as resp:
                    payload = await resp.read()
                    self.served[backend] = self.served.get(backend, 0) + 1
                    return web.Response(
                        status=resp.status,
                        body=payload,
                        content_type=resp.content_type,
                    )
            except aiohttp.ClientConnectionError:
                continue
        return web.Response(status=502, text="no backend")


# --------------------------------------------------------------------------- in process


@contextlib.asynccontextmanager
async def running_bot(
    db_url: str, tmp_path: Path, sandbox_root: str, **settings: object
) -> AsyncIterator[Container]:
    """`serve()` of the real application in this process (channels, HTTP, relay, scheduler)."""
    base: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": sandbox_root,
        "http_port": 0,
        "intake_token": INTAKE,
    }
    base.update(settings)
    container = await bootstrap(make_settings(db_url, tmp_path, **base), clock=SystemClock())
    stop = asyncio.Event()
    task = asyncio.create_task(serve(container, stop))
    try:
        await wait_until(
            lambda: _started(container, task), timeout=20, what="the bot to start serving"
        )
        yield container
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
        await container.close()


async def _started(container: Container, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raises what stopped it
    return container.http_port is not None
