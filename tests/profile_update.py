"""`python -m tests.profile_update [sqlite|postgres]`: where an update's time goes.

Claim presses and `/survey` commands, polled from the sandbox by a real `dispatchbot run`
(in this process), profiled with pyinstrument from the first update to the last. The
text tree is printed (time in our own code, the libraries folded); the HTML report is
written beside it and its path printed. Figures for docs/performance.md, not a test.

PROFILE_CASES sets how many cards (each one press and one /survey); PostgreSQL is the
local server (TEST_POSTGRES_URL), in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from pyinstrument import Profiler
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.event_loop import run
from sandbox.client import SandboxClient
from sandbox.telegram import TelegramSandbox
from tests.bench_delivery import TOKEN, _drained, _intake, _queue_updates, _seed, _until, running

CASES = int(os.environ.get("PROFILE_CASES", "100"))
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def statements(engine: AsyncEngine) -> tuple[Counter[str], Counter[str]]:
    """Every statement the bot sends from now on, by verb and first table; and every
    transaction it ends (asyncpg's BEGIN is no statement of ours, so they are counted
    apart, at their end: a listener added to "begin" while SQLite's own one waits on its
    BEGIN IMMEDIATE would change the listeners being called)."""
    seen: Counter[str] = Counter()
    ended: Counter[str] = Counter()

    def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        verb = statement.split(None, 1)[0].upper() if statement.strip() else "?"
        table = _TABLE.search(statement)
        seen[f"{verb} {table.group(1) if table else ''}".strip()] += 1

    def end(_conn: object) -> None:
        ended["transactions"] += 1
        task = asyncio.current_task()
        # The relay's tasks: "relay" claims, "relay:<chat>" delivers a chat, "relay-heartbeat".
        name = task.get_name() if task is not None else ""
        kind = {"relay": "relay claims", "relay-heartbeat": "relay heartbeat"}.get(name)
        ended[kind or ("relay visits" if name.startswith("relay:") else "the rest")] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    event.listen(engine.sync_engine, "commit", end)
    event.listen(engine.sync_engine, "rollback", end)
    return seen, ended


@asynccontextmanager
async def database(kind: str, tmp: Path, name: str) -> AsyncIterator[str]:
    """A fresh database of `kind` (sqlite or postgres) for one measurement."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / name}.db"
        return
    db = f"dispatch_bench_{os.getpid()}_{name}"
    await _admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    await _admin(f"CREATE DATABASE {db}")
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + db
    finally:
        await _admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


async def profile(kind: str, tmp: Path) -> Path:
    group = -3001
    async with (
        database(kind, tmp, "profile") as db,
        TelegramSandbox(token=TOKEN) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        workers = [
            await client.add_user(4000 + i, f"Thợ {i}", username=f"tho{i}") for i in range(10)
        ]
        await client.add_chat(group, type="group", title="PL", members=workers)
        await _seed(db, tmp, sandbox.root_url, {"PL": group}, workers)
        async with running(db, tmp, sandbox.root_url) as bot, aiohttp.ClientSession() as http:
            api = f"http://127.0.0.1:{bot.http_port}"
            for i in range(CASES):
                await _intake(http, api, f"PRF-{i}")
            await _drained(bot)
        cards = [
            (m.message_id, m.buttons[0].callback_data or "", m.body.split(" ")[1])
            for m in await client.messages(group)
            if m.from_bot and m.buttons
        ]
        queued = await _queue_updates(client, workers, cards, group)
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        async with running(db, tmp, sandbox.root_url) as bot:
            handled = bot.relay.metrics.update_seconds

            async def all_handled() -> bool:
                seen = handled.count("telegram", "button") + handled.count("telegram", "message")
                return seen >= queued

            sent, begun = statements(bot.engine)
            delivered = bot.relay.sent
            start = time.perf_counter()
            profiler.start()
            await _until(all_handled, 0.002)
            profiler.stop()
            elapsed = time.perf_counter() - start
            await _drained(bot)
            delivered = bot.relay.sent - delivered
    total = sum(sent.values())
    print(f"{kind}: {total / queued:.1f} statements per update (the relay's included):")
    for what, count in sent.most_common(14):
        print(f"    {count / queued:5.2f}  {what}")
    print(f"{kind}: {begun['transactions'] / queued:.2f} transactions per update")
    relay = {k: v for k, v in begun.items() if k.startswith("relay")}
    print(
        f"{kind}: the relay's, per message it sent ({delivered}): "
        + ", ".join(f"{k} {v / max(1, delivered):.2f}" for k, v in sorted(relay.items()))
        + f"; all {sum(relay.values()) / max(1, delivered):.2f}"
    )
    print(
        f"{kind}: {queued} updates (claims and /survey) in {elapsed:.2f}s = "
        f"{queued / elapsed:.0f}/s"
    )
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    out = Path(tempfile.gettempdir()) / f"dispatch-profile-{kind}.html"
    out.write_text(profiler.output_html())
    return out


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    kinds = sys.argv[1:] or ["sqlite", "postgres"]
    with tempfile.TemporaryDirectory(prefix="dispatch-profile-") as tmp:
        for kind in kinds:
            (Path(tmp) / kind).mkdir()
            print(f"profile written to {await profile(kind, Path(tmp) / kind)}")


if __name__ == "__main__":
    run(main())  # on the loop `dispatchbot run` takes
