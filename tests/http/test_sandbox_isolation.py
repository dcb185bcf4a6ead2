"""The sandbox's control API (fake users, fault injection) exists only in tests and the demo.

`dispatchbot run` must never serve it: a deployed bot with `/_sandbox/*` would let
anyone forge messages. Two proofs: the running server answers 404 there (below), and
the product never imports the `sandbox` package at all, which the import contract in
pyproject.toml ([tool.importlinter], run by `make lint`) checks over every module.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from bot.bootstrap import bootstrap
from bot.domain.clock import FixedClock
from bot.runner import serve
from tests.conftest import make_settings

CONTROL_PATHS = ("/_sandbox/bot", "/_sandbox/users", "/_sandbox/reset", "/_sandbox/faults")


async def test_the_running_bot_serves_no_sandbox_control_api(
    tmp_path: Path, clock: FixedClock
) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'run.db'}", tmp_path, http_port=0)
    container = await bootstrap(settings, clock=clock, channels={})
    stop = asyncio.Event()
    task = asyncio.create_task(serve(container, stop))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while container.http_port is None:
            assert loop.time() < deadline and not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{container.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200  # the server is up and answering
            for path in CONTROL_PATHS:
                for method in ("GET", "POST"):
                    async with http.request(method, base + path, json={}) as resp:
                        assert resp.status == 404, (method, path)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        await container.close()
