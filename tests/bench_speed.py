"""`python -m tests.bench_speed`: the morning rush (issue 16), figures in one run.

- updates/s (Claim presses and /survey in five teams' groups, polled) against bare
  durable write transactions/s of three statements on the same disk, and their ratio,
  twice: with Telegram's limits as a deployment has them (the relay sends what Telegram
  allows, the rest waits in the outbox), then with the limits off (the relay sends as
  fast as the stand-in answers, competing with the updates for the process); the
  sandbox (Telegram's part) runs in a process of its own, so the CPU per update is the
  bot's (and its relay's);
- intake → group post at 50 intakes/s: p50 and p99;
- press → toast (answerCallbackQuery) while 100 updates/s arrive: p50 and p99;
- PostgreSQL: one `dispatchbot run` behind the webhook URL, then two: updates/s, what
  the second adds, and how much of the machine's cores stood idle meanwhile (skipped
  when the local server is not reachable);
- resident memory (peak) of `dispatchbot run` with 100,000 open cases.

Figures, not pass/fail: they are printed and written to a JSON file whose path is
printed last (BENCH_JSON sets it). BENCH_SCALE (default 1) shrinks or grows every size,
e.g. BENCH_SCALE=0.2 for a quick look. In the in-process parts the bot runs in this
process and the sandbox in a child process (`python -m tests.bench_speed --sandbox`).
Parts may be named to run only those: `python -m tests.bench_speed latency`, or
`latency:intake` for the intake → post figures alone (no presses).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.event_loop import loop_name, run
from sandbox.client import SandboxClient, SandboxUser
from sandbox.telegram import TelegramSandbox
from storage import tables as t
from storage.engine import SQLITE_PRAGMAS
from tests.bench_delivery import INTAKE, TOKEN, _drained, _intake, _pct, _settings, _until, running
from tests.profile_update import database

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
TEAMS = 5
WORKERS_PER_TEAM = 4
FIGURES: dict[str, Any] = {}
#: `latency:intake` named on the command line: the latency part stops after the intakes.
INTAKE_ONLY = False


def sized(n: int) -> int:
    return max(4, int(n * SCALE))


def note(key: str, value: float, line: str) -> None:
    FIGURES[key] = round(value, 4)
    if line:
        print(line, flush=True)


# --------------------------------------------------------------------------- a district

District = dict[str, tuple[int, list[SandboxUser]]]


async def district(client: SandboxClient, db: str, tmp: Path, root: str) -> District:
    """TEAMS teams, each with its group and its workers, in the sandbox and the database."""
    teams: District = {}
    for i in range(TEAMS):
        group = -(5000 + i)
        workers = [
            await client.add_user(6000 + 10 * i + j, f"Thợ {i}.{j}", username=f"tho{i}_{j}")
            for j in range(WORKERS_PER_TEAM)
        ]
        await client.add_chat(group, type="group", title=f"Đội {i}", members=workers)
        teams[f"T{i}"] = (group, workers)
    container = await bootstrap(_settings(db, tmp, root), channels={})  # type: ignore[arg-type]
    async with container.uow() as uow:
        for code, (group, workers) in teams.items():
            await uow.teams.add(Team(code, f"Đội {code}", (ChatBinding("telegram", str(group)),)))
            for w in workers:
                ident = Identity("telegram", str(w.id), w.username)
                await uow.members.add(
                    Member(f"telegram:{w.id}", w.first_name, Role.WORKER, code, None, (ident,))
                )
        await uow.commit()
    await container.close()
    return teams


Card = tuple[str, int, int, str, SandboxUser]  # ref, group, message id, Claim data, worker


async def cards_of(client: SandboxClient, teams: District) -> list[Card]:
    """Every card in the groups, interleaved across teams, each with a worker to claim it."""
    per_team: list[list[Card]] = []
    for group, workers in teams.values():
        found = [m for m in await client.messages(group) if m.from_bot and m.buttons]
        per_team.append(
            [
                (
                    m.body.split(" ")[1],
                    group,
                    m.message_id,
                    m.buttons[0].callback_data or "",
                    workers[k % len(workers)],
                )
                for k, m in enumerate(found)
            ]
        )
    out: list[Card] = []
    for k in range(max(len(x) for x in per_team)):
        out += [x[k] for x in per_team if k < len(x)]
    return out


async def intake_many(api: str, refs: list[tuple[str, str]], parallel: int = 8) -> None:
    sem = asyncio.Semaphore(parallel)
    async with aiohttp.ClientSession() as http:

        async def one(ext: str, team: str) -> None:
            async with sem:
                await _intake(http, api, ext, team)

        await asyncio.gather(*(one(ext, team) for ext, team in refs))


async def paced(rate: float, jobs: list[Callable[[], Awaitable[None]]]) -> float:
    """Start `jobs` at `rate` per second (open loop); returns the rate achieved."""
    start = time.perf_counter()
    tasks = []
    for k, job in enumerate(jobs):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(job()))
    await asyncio.gather(*tasks)
    return len(jobs) / max(1e-9, time.perf_counter() - start)


# --------------------------------------------------------------------------- the disk


def bare_transactions(file: Path, n: int, pragmas: tuple[str, ...] = SQLITE_PRAGMAS) -> float:
    """Write transactions of three statements (insert, update, read) per second, with the
    pragmas the bot's SQLite engine uses (WAL, synchronous=FULL: durable, one flush per
    commit) unless told otherwise."""
    conn = sqlite3.connect(file, isolation_level=None)
    for pragma in pragmas:
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (a, b) VALUES ('x', ?)", (i,))
        conn.execute("UPDATE t SET b = b + 1 WHERE id = ?", (i + 1,))
        conn.execute("SELECT b FROM t WHERE id = ?", (i,)).fetchone()
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """The whole machine's idle (and waiting) ticks and all its ticks so far, every core."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def idle_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Of the machine's cores between two `machine_ticks`, the share that stood idle."""
    return (after[0] - before[0]) / max(1, after[1] - before[1])


@contextlib.asynccontextmanager
async def sandbox_elsewhere() -> AsyncIterator[tuple[str, int]]:
    """The sandbox in a child process: its root URL and pid. Telegram's servers are not
    on the bot's machine, so their part of the work is not counted as the bot's."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench_speed",
        "--sandbox",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    root = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    if not root.startswith("http"):
        proc.kill()
        raise RuntimeError(f"the sandbox did not start: {root!r}")
    try:
        yield root, proc.pid
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def serve_sandbox() -> None:
    """The child's side: serve until the parent closes our standard input."""
    async with TelegramSandbox(token=TOKEN) as sandbox:
        print(sandbox.root_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


#: Telegram's limits as a deployment has them (bot/config.py's defaults), for the rush
#: measured as it runs; the other rush turns them off, so the relay sends as fast as the
#: stand-in answers, which the real Telegram never allows.
DEPLOYED_PACING = {
    name: Settings.model_fields[name].default
    for name in ("telegram_rate_per_chat", "telegram_rate_per_group", "telegram_rate_global")
}


async def rush(tmp: Path, *, paced: bool) -> dict[str, float]:
    """Claim presses and /survey in the district's groups, queued before the bot starts;
    counted from its start until every update is handled (its command committed, its
    messages in the outbox): updates/s and CPU ms per update in the bot's process and in
    the sandbox's. `paced`: with Telegram's limits as deployed; else unthrottled, and
    also counted until every message is sent."""
    await asyncio.to_thread(tmp.mkdir)
    db = f"sqlite+aiosqlite:///{tmp / 'updates.db'}"
    async with sandbox_elsewhere() as (root, sandbox_pid), SandboxClient(root) as client:
        teams = await district(client, db, tmp, root)
        per_team = sized(80)
        async with running(db, tmp, root) as bot:
            api = f"http://127.0.0.1:{bot.http_port}"
            await intake_many(api, [(f"U-{c}-{k}", c) for k in range(per_team) for c in teams])
            await _drained(bot)
        cards = await cards_of(client, teams)
        for ref, group, message_id, data, worker in cards:  # waiting for the bot's start
            await client.press(worker, group, message_id, data)
            await client.send_text(worker, group, f"/survey {ref} đã khảo sát")
        queued = 2 * len(cards)
        async with running(db, tmp, root, **(DEPLOYED_PACING if paced else {})) as bot:
            handled = bot.relay.metrics.update_seconds

            async def all_handled() -> bool:
                seen = handled.count("telegram", "button") + handled.count("telegram", "message")
                return seen >= queued

            start, cpu = time.perf_counter(), time.process_time()
            sandbox_cpu = cpu_seconds(sandbox_pid)
            await _until(all_handled, 0.01)
            out = {
                "queued": queued,
                "rate": queued / (time.perf_counter() - start),
                "cpu_ms": (time.process_time() - cpu) * 1000 / queued,
                "sandbox_ms": (cpu_seconds(sandbox_pid) - sandbox_cpu) * 1000 / queued,
            }
            if paced:  # sending it all takes Telegram's minutes
                return out
            # The relay may still be sending what the updates wrote: its share of the
            # work, counted until the outbox is empty.
            await _drained(bot)
            out["sent_rate"] = queued / (time.perf_counter() - start)
            out["sent_cpu_ms"] = (time.process_time() - cpu) * 1000 / queued
    return out


async def bench_updates_against_disk(tmp: Path) -> None:
    bare = await asyncio.to_thread(bare_transactions, tmp / "bare.db", sized(5000))
    note("sqlite.bare_tx_per_s", bare, f"bare durable transactions (3 statements): {bare:.0f}/s")
    loose = ("journal_mode=WAL", "synchronous=NORMAL")
    unflushed = await asyncio.to_thread(bare_transactions, tmp / "loose.db", sized(5000), loose)
    note(
        "sqlite.bare_tx_per_s_unflushed",
        unflushed,
        f"  (the same with synchronous=NORMAL, no flush per commit: {unflushed:.0f}/s)",
    )
    paced = await rush(tmp / "paced", paced=True)
    limits = ", ".join(str(v) for v in DEPLOYED_PACING.values())
    what = (
        f"Telegram's limits as deployed ({limits}; {paced['queued']:.0f} updates, {TEAMS} groups)"
    )
    note_rush("sqlite.paced.", what, paced, bare, " (goal ≥ 0.05, aim 0.1)")
    free = await rush(tmp / "unthrottled", paced=False)
    what = "the relay unthrottled (Telegram's limits off; the stand-in takes every send at once)"
    note_rush("sqlite.", what, free, bare)
    note("sqlite.cpu_ms_per_update_sent", free["sent_cpu_ms"], "")
    note(
        "sqlite.updates_sent_per_s",
        free["sent_rate"],
        f"  (and every message they wrote sent: {free['sent_rate']:.0f} updates/s, "
        f"{free['sent_cpu_ms']:.1f} ms of CPU each)",
    )


def note_rush(
    prefix: str, what: str, figures: dict[str, float], bare: float, goal: str = ""
) -> None:
    """One rush's figures, their keys under `prefix`."""
    rate, cpu, sandbox = figures["rate"], figures["cpu_ms"], figures["sandbox_ms"]
    note(f"{prefix}cpu_ms_per_update", cpu, "")
    note(f"{prefix}sandbox_cpu_ms_per_update", sandbox, "")
    note(
        f"{prefix}updates_per_s",
        rate,
        f"updates handled, {what}: {rate:.0f}/s, {cpu:.1f} ms of CPU each in the bot's "
        f"process (and {sandbox:.1f} ms in the sandbox's)",
    )
    note(
        f"{prefix}updates_to_bare_ratio",
        rate / bare,
        f"  updates/s ÷ bare durable transactions/s: {rate / bare:.3f}{goal}",
    )


# --------------------------------------------------------------------------- latency


async def bench_latency(tmp: Path) -> None:
    """Intakes at 50/s, then presses and /survey at 100 updates/s, on one running bot."""
    db = f"sqlite+aiosqlite:///{tmp / 'latency.db'}"
    seconds = 10 * SCALE
    async with sandbox_elsewhere() as (root, _), SandboxClient(root) as client:
        teams = await district(client, db, tmp, root)
        codes = list(teams)
        async with running(db, tmp, root) as bot, aiohttp.ClientSession() as http:
            api = f"http://127.0.0.1:{bot.http_port}"
            sent: dict[str, float] = {}

            def intake(k: int) -> Callable[[], Awaitable[None]]:
                async def go() -> None:
                    t0 = time.time()
                    sent[await _intake(http, api, f"L-{k}", codes[k % len(codes)])] = t0

                return go

            n = max(4, int(50 * seconds))
            achieved = await paced(50, [intake(k) for k in range(n)])
            await _drained(bot)
            posted = {
                str(c.params.get("text", "")).split(" ")[1]: c.time
                for c in await client.calls("sendMessage")
                if c.ok and " " in str(c.params.get("text", ""))
            }
            lat = [(posted[ref] - t0) * 1000 for ref, t0 in sent.items() if ref in posted]
            note("sqlite.intake_to_post_p50_ms", _pct(lat, 0.5), "")
            note(
                "sqlite.intake_to_post_p99_ms",
                _pct(lat, 0.99),
                f"intake → group post at {achieved:.0f} intakes/s ({len(lat)} cases): "
                f"p50 {_pct(lat, 0.5):.0f} ms, p99 {_pct(lat, 0.99):.0f} ms (goal p99 ≤ 50 ms)",
            )
            if INTAKE_ONLY:
                return

            cards = await cards_of(client, teams)
            pressed: dict[str, float] = {}
            jobs: list[Callable[[], Awaitable[None]]] = []
            for ref, group, message_id, data, worker in cards:

                async def press(
                    group: int = group, mid: int = message_id, data: str = data, w: Any = worker
                ) -> None:
                    t0 = time.time()
                    pressed[(await client.press(w, group, mid, data)).id] = t0

                async def survey(group: int = group, ref: str = ref, w: Any = worker) -> None:
                    await client.send_text(w, group, f"/survey {ref} đã khảo sát")

                jobs += [press, survey]
            rate = await paced(100, jobs)

            async def answered() -> bool:
                calls = await client.calls("answerCallbackQuery")
                return len({c.params.get("callback_query_id") for c in calls}) >= len(pressed)

            await _until(answered, 0.05)
            toast = {
                str(c.params.get("callback_query_id")): c.time
                for c in await client.calls("answerCallbackQuery")
            }
            lat = [(toast[p] - t0) * 1000 for p, t0 in pressed.items() if p in toast]
    note("sqlite.toast_p50_ms", _pct(lat, 0.5), "")
    note(
        "sqlite.toast_p99_ms",
        _pct(lat, 0.99),
        f"press → toast while {rate:.0f} updates/s arrive ({len(lat)} presses): "
        f"p50 {_pct(lat, 0.5):.0f} ms, p99 {_pct(lat, 0.99):.0f} ms",
    )


# --------------------------------------------------------------------------- PostgreSQL


async def bench_instances(tmp: Path) -> None:
    """One instance behind the webhook URL, then two, on one PostgreSQL database."""
    from tests.reliability.harness import (
        SECRET,
        WEBHOOK_URL,
        BotProcess,
        RoundRobin,
        bot_env,
        control,
        free_port,
    )

    try:
        db_cm = database("postgres", tmp, "instances")
        db = await db_cm.__aenter__()
    except Exception as e:
        print(f"PostgreSQL instances: skipped ({type(e).__name__}: server not reachable)")
        FIGURES["postgres.skipped"] = True
        return
    try:
        async with (
            TelegramSandbox(token=TOKEN) as sandbox,
            SandboxClient(sandbox.root_url) as client,
        ):
            teams = await district(client, db, tmp, sandbox.root_url)
            ports = [free_port(), free_port()]
            bots = [
                BotProcess(
                    name,
                    bot_env(
                        db_url=db,
                        sandbox=sandbox.root_url,
                        port=port,
                        name=name,
                        telegram_mode="webhook",
                        telegram_webhook_url=WEBHOOK_URL,
                        telegram_webhook_secret=SECRET,
                        intake_token=INTAKE,
                        telegram_bot_token=TOKEN,
                        log_level="WARNING",
                    ),
                    tmp / name,
                )
                for name, port in zip(("a", "b"), ports, strict=True)
            ]
            rates: list[float] = []
            idle: list[float] = []
            try:
                await bots[0].start()
                per_team = sized(160)  # 800 updates a half: not mostly warm-up
                await intake_many(
                    bots[0].url, [(f"P-{c}-{k}", c) for k in range(per_team) for c in teams]
                )
                await wait_drained(db)
                cards = await cards_of(client, teams)
                halves = [cards[: len(cards) // 2], cards[len(cards) // 2 :]]
                for count, half in zip((1, 2), halves, strict=True):
                    if count == 2:
                        await bots[1].start()
                    for ref, group, message_id, data, worker in half:
                        await client.press(worker, group, message_id, data)
                        await client.send_text(worker, group, f"/survey {ref} đã khảo sát")
                    queued = 2 * len(half)
                    async with RoundRobin([b.url for b in bots[:count]]) as lb:
                        before = 0
                        start, ticks = time.perf_counter(), machine_ticks()
                        push = {"deliver_to": f"{lb.url}/telegram/webhook", "retry_seconds": 0.2}
                        await control(sandbox.root_url, "POST", "webhook", push)

                        async def delivered(before: int = before, queued: int = queued) -> bool:
                            state = await control(sandbox.root_url, "GET", "webhook")
                            return int(state.get("delivered", 0)) - before >= queued

                        await _until(delivered, 0.02)
                        rates.append(queued / (time.perf_counter() - start))
                        idle.append(idle_share(ticks, machine_ticks()))
                        await control(sandbox.root_url, "DELETE", "webhook")
            finally:
                for b in bots:
                    await b.stop_quietly()
        note("postgres.one_instance_updates_per_s", rates[0], "")
        note("postgres.two_instances_updates_per_s", rates[1], "")
        note("postgres.one_instance_machine_idle", idle[0], "")
        note("postgres.two_instances_machine_idle", idle[1], "")
        note(
            "postgres.second_instance_adds",
            rates[1] / rates[0] - 1,
            f"PostgreSQL behind one webhook URL: one instance {rates[0]:.0f} updates/s, "
            f"two {rates[1]:.0f} updates/s (the second adds {rates[1] / rates[0] - 1:+.0%}; "
            f"the machine's {os.cpu_count()} cores idle {idle[0]:.0%}, then {idle[1]:.0%})",
        )
    finally:
        await db_cm.__aexit__(None, None, None)


async def wait_drained(db: str) -> None:
    from tests.reliability.harness import Db

    look = Db(db)
    try:

        async def empty() -> bool:
            return await look.pending() == 0

        await _until(empty, 0.05)
    finally:
        await look.close()


# --------------------------------------------------------------------------- memory


async def bench_memory(tmp: Path) -> None:
    """Peak resident memory of `dispatchbot run` (polling) with 100,000 open cases, over a
    few reminder passes that read them."""
    from tests.reliability.harness import BotProcess, bot_env, free_port

    open_cases = sized(100_000)
    db = f"sqlite+aiosqlite:///{tmp / 'memory.db'}"
    at = datetime.now(UTC)
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        await district(client, db, tmp, sandbox.root_url)
        container = await bootstrap(_settings(db, tmp, sandbox.root_url), channels={})  # type: ignore[arg-type]
        row = {
            "kind": "new_connection",
            "customer_name": "Khách",
            "customer_phone": "0912345678",
            "customer_address": "12 Trần Hưng Đạo",
            "description": "",
            "received_at": at,
            "created_at": at,
            "updated_at": at,
            "area": "urban",
            "purpose": "domestic",
            "status": "open",
            "next_check_at": at + timedelta(days=30),
            "step_due_at": at + timedelta(days=30),
            "due_at": at + timedelta(days=30),
        }
        async with container.engine.begin() as conn:
            for start in range(0, open_cases, 20_000):
                stop = min(open_cases, start + 20_000)
                await conn.execute(
                    sa.insert(t.cases),
                    [
                        row | {"ref": f"M-{i}", "team_code": f"T{i % TEAMS}"}
                        for i in range(start, stop)
                    ],
                )
        await container.close()
        bot = BotProcess(
            "memory",
            bot_env(
                db_url=db,
                sandbox=sandbox.root_url,
                port=free_port(),
                name="memory",
                reminder_interval_seconds=1,
                telegram_bot_token=TOKEN,
                log_level="WARNING",
            ),
            tmp / "memory",
        )
        try:
            await bot.start(timeout=60)
            await asyncio.sleep(5)  # a few reminder passes over the open cases
            assert bot.proc is not None
            status = await asyncio.to_thread(Path(f"/proc/{bot.proc.pid}/status").read_text)
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            peak = int(fields["VmHWM"].split()[0]) / 1024
            now = int(fields["VmRSS"].split()[0]) / 1024
        finally:
            await bot.stop_quietly()
    note("memory.rss_mb", now, "")
    note(
        "memory.peak_rss_mb",
        peak,
        f"dispatchbot run with {open_cases:,} open cases: resident {now:.0f} MB, "
        f"peak {peak:.0f} MB (goal < 150 MB)",
    )


PARTS = {
    "disk": bench_updates_against_disk,
    "latency": bench_latency,
    "instances": bench_instances,
    "memory": bench_memory,
}


async def main(names: list[str]) -> None:
    global INTAKE_ONLY
    INTAKE_ONLY = "latency:intake" in names
    chosen = {n.split(":")[0] for n in names}
    unknown = chosen - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}; parts: {', '.join(PARTS)}")
    logging.basicConfig(level=logging.ERROR)
    out = Path(os.environ.get("BENCH_JSON", Path(tempfile.gettempdir()) / "dispatch-bench.json"))
    FIGURES.update(scale=SCALE, at=datetime.now(UTC).isoformat(timespec="seconds"))
    FIGURES.update(loop=loop_name(asyncio.get_running_loop()))
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-speed-") as tmp:
        root = Path(tmp)
        for name, part in PARTS.items():
            if chosen and name not in chosen:
                continue
            (root / name).mkdir()
            with contextlib.suppress(KeyboardInterrupt):
                await part(root / name)
    text = json.dumps(FIGURES, indent=2, sort_keys=True) + "\n"
    await asyncio.to_thread(out.write_text, text, encoding="utf-8")
    print(f"figures written to {out}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--sandbox"]:
        asyncio.run(serve_sandbox())  # the stand-in for Telegram: not the bot's loop
    else:
        run(main(sys.argv[1:]))  # the bot's in-process parts on the loop `dispatchbot run` takes
