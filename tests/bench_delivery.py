"""`python -m tests.bench_delivery`: delivery figures against the sandbox. Figures, not
pass/fail; the correctness of the same paths is in tests/reliability.

- intake-to-post latency: HTTP intake call to the card's sendMessage reaching the
  sandbox, p50/p99, one case at a time (no queue; rate limits off);
- sustained relay throughput from a backlog against its configured limit, with the
  sandbox enforcing the same limit (and counting any 429);
- updates per second the bot processes (Claim presses and /survey commands), next to a
  python-telegram-bot application that does nothing with them, polling the same sandbox
  in the same run, and the ratio of the two.

SQLite in a temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.bootstrap import Container, bootstrap
from bot.config import load_settings
from bot.domain.clock import SystemClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.heap import settle
from bot.runner import serve
from sandbox.client import SandboxClient, SandboxUser
from sandbox.telegram import Limit, RateLimits, TelegramSandbox

TOKEN = "7500000001:bench-delivery-token-0123456789"
INTAKE = "bench-intake-token"
LATENCY_CASES = 100
BACKLOG = 300
UPDATE_CASES = 200


def _settings(db: str, tmp: Path, root: str, **extra: object) -> object:
    base: dict[str, object] = {
        "database_url": db,
        "telegram_bot_token": TOKEN,
        "telegram_api_url": root,
        "intake_token": INTAKE,
        "http_port": 0,
        "media_dir": tmp / "media",
        "telegram_rate_per_chat": "off",
        "telegram_rate_per_group": "off",
        "telegram_rate_global": "off",
        "reminder_interval_seconds": 3600,
    }
    base.update(extra)
    return load_settings(**base)


@contextlib.asynccontextmanager
async def running(db: str, tmp: Path, root: str, **extra: object) -> AsyncIterator[Container]:
    container = await bootstrap(_settings(db, tmp, root, **extra), clock=SystemClock())  # type: ignore[arg-type]
    settle()  # as `dispatchbot run` does: this process stands for it
    stop = asyncio.Event()
    task = asyncio.create_task(serve(container, stop))
    while container.http_port is None:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield container
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await container.close()
        gc.unfreeze()  # the next part of a bench starts from an ordinary heap


def _body(ext: str, team: str = "PL") -> dict[str, object]:
    return {
        "external_ref": ext,
        "kind": "new_connection",
        "team": team,
        "area": "urban",
        "purpose": "domestic",
        "customer": {"name": "Trần Văn Hưng", "phone": "0912345678", "address": "12 Trần Hưng Đạo"},
        "description": "Đăng ký cấp điện sinh hoạt",
    }


async def _intake(http: aiohttp.ClientSession, api: str, ext: str, team: str = "PL") -> str:
    async with http.post(
        f"{api}/api/v1/cases", json=_body(ext, team), headers={"Authorization": f"Bearer {INTAKE}"}
    ) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["ref"])


async def _seed(
    db: str, tmp: Path, root: str, groups: dict[str, int], people: list[SandboxUser]
) -> None:
    container = await bootstrap(_settings(db, tmp, root), channels={})
    async with container.uow() as uow:
        for code, chat in groups.items():
            await uow.teams.add(Team(code, f"Đội {code}", (ChatBinding("telegram", str(chat)),)))
        for p in people:
            ident = Identity("telegram", str(p.id), p.username)
            await uow.members.add(
                Member(f"telegram:{p.id}", p.first_name, Role.WORKER, "PL", None, (ident,))
            )
        await uow.commit()
    await container.close()


async def _until(probe: Callable[[], Awaitable[bool]], pause: float = 0.01) -> None:
    """Poll until `probe()` holds (figures only: no deadline, the bench is watched)."""
    while True:
        if await probe():
            return
        await asyncio.sleep(pause)


async def _drained(bot: Container) -> None:
    async def empty() -> bool:
        return await bot.store.pending_count() == 0

    await _until(empty)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- latency


async def bench_latency(db: str, tmp: Path) -> None:
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        await client.add_chat(-1001, type="group", title="PL")
        await _seed(db, tmp, sandbox.root_url, {"PL": -1001}, [])
        async with running(db, tmp, sandbox.root_url) as bot, aiohttp.ClientSession() as http:
            api = f"http://127.0.0.1:{bot.http_port}"
            started: dict[str, float] = {}
            for i in range(LATENCY_CASES):
                t0 = time.time()
                ref = await _intake(http, api, f"LAT-{i}")
                started[ref] = t0
                await _drained(bot)
            posted = {
                c.params["text"].split(" ")[1]: c.time
                for c in await client.calls("sendMessage")
                if c.ok
            }
    latencies = [(posted[ref] - t0) * 1000 for ref, t0 in started.items()]
    print(
        f"intake-to-post latency ({LATENCY_CASES} cases, one at a time): "
        f"p50 {_pct(latencies, 0.5):.0f} ms, p99 {_pct(latencies, 0.99):.0f} ms"
    )


# --------------------------------------------------------------------------- throughput


async def bench_throughput(
    db: str, tmp: Path, label: str, groups: int, limits: RateLimits, allowed: float
) -> None:
    """A backlog in `groups` chats, held until complete, then drained under `limits`;
    `allowed` is the best rate those limits permit for this backlog."""
    assert limits.per_chat and limits.per_group and limits.overall
    chats = {f"T{i}": -(2000 + i) for i in range(groups)}
    async with (
        TelegramSandbox(token=TOKEN, rate_limits=limits) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        for chat in chats.values():
            await client.add_chat(chat, type="group", title=str(chat))
        await _seed(db, tmp, sandbox.root_url, chats, [])
        settings = {
            "telegram_rate_per_chat": f"{limits.per_chat.count}/{limits.per_chat.seconds}",
            "telegram_rate_per_group": f"{limits.per_group.count}/{limits.per_group.seconds}",
            "telegram_rate_global": f"{limits.overall.count}/{limits.overall.seconds}",
            "relay_concurrency": max(8, groups),
        }
        async with (
            running(db, tmp, sandbox.root_url, **settings) as bot,
            aiohttp.ClientSession() as http,
        ):
            api = f"http://127.0.0.1:{bot.http_port}"
            await client.add_fault("stall", count=1, delay=300, methods=["sendMessage"])
            sem = asyncio.Semaphore(8)

            async def one(i: int) -> None:
                async with sem:
                    await _intake(http, api, f"{label}-{i}", list(chats)[i % groups])

            await asyncio.gather(*(one(i) for i in range(BACKLOG)))
            await client.clear_faults()
            await _drained(bot)
            calls = await client.calls("sendMessage")
            rejected = sum(1 for c in calls if c.error_code == 429)
            times = sorted(c.time for c in calls if c.ok)[1:]
    # Steady state: the first 90 % of the backlog; at the very end a few chats remain and
    # each may send only one message a second, whatever the overall limit allows.
    steady = times[: int(len(times) * 0.9)]
    rate = (len(steady) - 1) / (steady[-1] - steady[0])
    overall = (len(times) - 1) / (times[-1] - times[0])
    print(
        f"relay throughput ({label}: {BACKLOG} posts in {groups} group(s)): {rate:.1f} msg/s "
        f"against {allowed:.0f} msg/s allowed ({rate / allowed:.0%}); "
        f"{overall:.1f} msg/s start to end; 429 answers: {rejected}"
    )


# --------------------------------------------------------------------------- updates


async def _queue_updates(
    client: SandboxClient, workers: list[SandboxUser], cards: list[tuple[int, str, str]], group: int
) -> int:
    """Each card: a worker presses Claim, then reports the survey. Returns how many."""
    n = 0
    for i, (message_id, data, ref) in enumerate(cards):
        worker = workers[i % len(workers)]
        await client.press(worker, group, message_id, data)
        await client.send_text(worker, group, f"/survey {ref} đã khảo sát")
        n += 2
    return n


async def bench_updates(db: str, tmp: Path) -> None:
    group = -3001
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        workers = [
            await client.add_user(4000 + i, f"Thợ {i}", username=f"tho{i}") for i in range(10)
        ]
        await client.add_chat(group, type="group", title="PL", members=workers)
        await _seed(db, tmp, sandbox.root_url, {"PL": group}, workers)
        async with running(db, tmp, sandbox.root_url) as bot, aiohttp.ClientSession() as http:
            api = f"http://127.0.0.1:{bot.http_port}"
            for i in range(2 * UPDATE_CASES):  # half for the bot, half for the other app
                await _intake(http, api, f"UPD-{i}")
            await _drained(bot)
        cards = [
            (m.message_id, m.buttons[0].callback_data or "", m.body.split(" ")[1])
            for m in await client.messages(group)
            if m.from_bot and m.buttons
        ]
        # The bot, stopped, finds the updates waiting when it starts polling again.
        queued = await _queue_updates(client, workers, cards[:UPDATE_CASES], group)
        async with running(db, tmp, sandbox.root_url) as bot:
            handled = bot.relay.metrics.update_seconds

            async def all_handled() -> bool:
                seen = handled.count("telegram", "button") + handled.count("telegram", "message")
                return seen >= queued

            start = time.perf_counter()
            await _until(all_handled, 0.002)
            bot_rate = queued / (time.perf_counter() - start)

        # A python-telegram-bot application that does nothing, on the same sandbox.
        queued = await _queue_updates(client, workers, cards[UPDATE_CASES:], group)
        seen = 0
        done = asyncio.Event()

        async def nothing(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            nonlocal seen
            seen += 1
            if seen >= queued:
                done.set()

        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{sandbox.root_url}/bot")
            .base_file_url(f"{sandbox.root_url}/file/bot")
            .build()
        )
        app.add_handler(TypeHandler(Update, nothing))
        async with app:
            await app.start()
            assert app.updater is not None
            start = time.perf_counter()
            await app.updater.start_polling(poll_interval=0.0, timeout=10)
            await asyncio.wait_for(done.wait(), 120)
            ptb_rate = queued / (time.perf_counter() - start)
            await app.updater.stop()
            await app.stop()
    print(
        f"updates processed ({queued} claims and /survey commands): bot {bot_rate:.0f}/s, "
        f"do-nothing python-telegram-bot app {ptb_rate:.0f}/s, ratio {bot_rate / ptb_rate:.2f}"
    )


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-delivery-") as tmp:
        root = Path(tmp)

        def db(name: str) -> str:
            return f"sqlite+aiosqlite:///{root / name}.db"

        (root / "a").mkdir()
        await bench_latency(db("latency"), root / "a")
        (root / "b").mkdir()
        await bench_throughput(
            db("one-group"),
            root / "b",
            "one group",
            1,
            RateLimits(per_chat=Limit(40, 1.0), per_group=Limit(20, 1.0), overall=Limit(30, 1.0)),
            allowed=20,  # the group's 20 a second
        )
        (root / "c").mkdir()
        await bench_throughput(
            db("many-groups"),
            root / "c",
            "Telegram's limits, 40 groups",
            40,
            RateLimits(),
            allowed=30,  # 30 a second overall (each group's share fits its 20 a minute)
        )
        (root / "d").mkdir()
        await bench_updates(db("updates"), root / "d")


if __name__ == "__main__":
    asyncio.run(main())
