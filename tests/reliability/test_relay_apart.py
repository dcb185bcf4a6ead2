"""The relay in a process of its own (`RELAY_PROCESS=separate`, bot/relay_apart.py), with
real `dispatchbot run` processes: what the bot's process commits is posted once, a crash
of either process loses nothing, a stop flushes, and /metrics shows the child's sends."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import aiohttp

from sandbox.client import SandboxClient
from sandbox.telegram import TelegramSandbox
from tests.reliability.harness import (
    GROUP,
    TOKEN,
    BotProcess,
    Db,
    RetryingIntake,
    bot_env,
    free_port,
    group_cards,
    intake_body,
    post_intake,
    seed,
    wait_until,
)

STARTED = re.compile(r"relay process started \(pid (\d+)\)")


def apart(db_url: str, sandbox: str, tmp_path: Path, name: str, **settings: object) -> BotProcess:
    env = bot_env(
        db_url=db_url,
        sandbox=sandbox,
        port=free_port(),
        name=name,
        relay_process="separate",
        **settings,
    )
    return BotProcess(name, env, tmp_path / name)


def children(bot: BotProcess) -> list[int]:
    """The relay processes the bot said it started, in order."""
    return [
        int(found.group(1))
        for event in bot.events()
        if (found := STARTED.search(str(event.get("message", ""))))
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def posted_once(client: SandboxClient, refs: set[str]) -> dict[str, int] | None:
    cards = await group_cards(client)
    return cards if set(cards) == refs else None


async def intake(bot: BotProcess, prefix: str, n: int) -> set[str]:
    refs: set[str] = set()
    async with aiohttp.ClientSession() as http:
        for i in range(n):
            status, data = await post_intake(http, bot.url, intake_body(f"{prefix}-{i}"))
            assert status == 201, data
            refs.add(str(data["ref"]))
    return refs


async def test_the_child_posts_what_the_bot_commits_and_metrics_show_its_sends(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path)
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        await client.add_chat(GROUP, type="supergroup", title="Đội PL")
        bot = apart(db_url, sandbox.root_url, tmp_path, "apart")
        try:
            await bot.start()
            refs = await intake(bot, "APART", 12)
            cards = await wait_until(
                lambda: posted_once(client, refs), timeout=30, what="every card in the group"
            )
            assert set(cards.values()) == {1}
            [child] = children(bot)
            assert child != bot.proc.pid if bot.proc else False

            async def sent() -> bool:  # the child's report reaches the bot's /metrics
                return (await bot.metric("dispatch_messages_sent_total")) == 12

            await wait_until(sent, timeout=10, what="the child's sends in /metrics")
            assert await bot.terminate() == 0
            assert not alive(child)
        finally:
            await bot.stop_quietly()


async def test_a_child_that_dies_is_started_again_and_nothing_waits_for_ever(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path)
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        await client.add_chat(GROUP, type="supergroup", title="Đội PL")
        bot = apart(db_url, sandbox.root_url, tmp_path, "restart")
        try:
            await bot.start()
            first = await intake(bot, "BEFORE", 3)
            await wait_until(lambda: posted_once(client, first), timeout=30, what="first cards")
            [child] = children(bot)
            os.kill(child, signal.SIGKILL)
            # Committed while no relay runs: they wait in the outbox for the next child.
            later = await intake(bot, "AFTER", 3)
            await wait_until(
                lambda: asyncio.sleep(0, len(children(bot)) == 2),
                timeout=30,
                what="a second relay process",
            )
            await wait_until(
                lambda: posted_once(client, first | later), timeout=30, what="the later cards"
            )
            assert any("relay process exited" in str(e.get("message")) for e in bot.events())
            assert await bot.terminate() == 0
        finally:
            await bot.stop_quietly()


async def test_kill_9_of_the_bot_loses_no_case_and_posts_none_twice(
    db_url: str, tmp_path: Path
) -> None:
    """The crash test's load with the relay apart: the killed bot's child sees its input
    end, flushes and exits while the next bot's child starts."""
    await seed(db_url, tmp_path)
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        await client.add_chat(GROUP, type="supergroup", title="Đội PL")
        bot = apart(db_url, sandbox.root_url, tmp_path, "crash")
        db = Db(db_url)
        try:
            await bot.start()
            desk = RetryingIntake(lambda: bot.url)
            bodies = [intake_body(f"CRASH-{i:03d}") for i in range(120)]
            load = asyncio.create_task(desk.send_all(bodies))
            await wait_until(
                lambda: asyncio.sleep(0, len(desk.answers) >= 60),
                timeout=60,
                what="60 answers",
                interval=0.005,
            )
            bot.kill()
            assert await bot.wait() == -9
            [orphan] = children(bot)
            await bot.start()
            await asyncio.wait_for(load, 120)
            refs = {ref for _status, ref in desk.answers.values()}
            assert len(refs) == len(bodies)
            cards = await wait_until(
                lambda: posted_once(client, refs), timeout=60, what="every card in the group"
            )
            uncertain = await db.uncertain_refs()
            twice = {ref for ref, n in cards.items() if n > 1}
            assert twice <= uncertain, f"posted twice without a crash to blame: {twice - uncertain}"
            await wait_until(
                lambda: asyncio.sleep(0, not alive(orphan)),
                timeout=30,
                what="the killed bot's relay process to flush and exit",
            )
            assert await bot.terminate() == 0
        finally:
            await bot.stop_quietly()
            await db.close()


async def test_sigterm_sends_what_waits_before_the_exit(db_url: str, tmp_path: Path) -> None:
    await seed(db_url, tmp_path)
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        await client.add_chat(GROUP, type="supergroup", title="Đội PL")
        # Each send takes 0.3 s: most of them still wait when the stop comes.
        bot = apart(db_url, sandbox.root_url, tmp_path, "flush", shutdown_flush_seconds=20)
        try:
            await bot.start()
            await client.add_fault("stall", count=20, delay=0.3, methods=["sendMessage"])
            refs = await intake(bot, "FLUSH", 8)
            assert await bot.terminate(timeout=60) == 0
            cards = await posted_once(client, refs)
            assert cards is not None and set(cards.values()) == {1}
        finally:
            await bot.stop_quietly()
