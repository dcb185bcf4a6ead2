"""The sandbox's control API (fake users, fault injection) exists only in tests and the demo.

`dispatchbot run` must never serve it: a deployed bot with `/_sandbox/*` would let
anyone forge messages. Two proofs: the running server answers 404 there, and the
code that `run` loads never imports the sandbox package at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

import aiohttp

from bot.bootstrap import bootstrap
from bot.domain.clock import FixedClock
from bot.runner import serve
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
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


def test_what_run_loads_never_imports_the_sandbox() -> None:
    probe = (
        "import sys\n"
        "import bot.cli, bot.runner, bot.bootstrap, bot.http.server, bot.http.webhooks\n"
        "import bot.channels.telegram\n"
        "loaded = sorted(m for m in sys.modules if m.partition('.')[0] == 'sandbox')\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
