"""`dispatchbot run` sets start-up's objects aside from the garbage collector before serving."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from bot import cli


def test_settle_freezes_what_start_up_built() -> None:
    # In a process of its own: frozen objects are never collected, so not in pytest's.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc; from bot.heap import settle; settle(); print(gc.get_freeze_count())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(done.stdout) > 0


async def test_run_settles_the_heap_after_bootstrap_and_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[str] = []
    container = SimpleNamespace(channels={"telegram": object()})

    async def bootstrap(settings: Any) -> Any:
        steps.append("bootstrap")
        return container

    async def run_forever(given: Any) -> None:
        assert given is container
        steps.append("serve")

    monkeypatch.setattr("bot.bootstrap.bootstrap", bootstrap)
    monkeypatch.setattr("bot.heap.settle", lambda: steps.append("settle"))
    monkeypatch.setattr("bot.runner.run_forever", run_forever)
    assert await cli._run(SimpleNamespace()) == 0  # type: ignore[arg-type]
    assert steps == ["bootstrap", "settle", "serve"]
