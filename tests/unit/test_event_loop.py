"""The commands run on uvloop when it imports, and on asyncio's own loop when it does not."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from bot.event_loop import loop_factory, loop_name, run


async def running_loop() -> str:
    return loop_name(asyncio.get_running_loop())


def test_uvloop_runs_when_it_imports() -> None:
    assert loop_factory() is uvloop.new_event_loop
    assert run(running_loop()) == "uvloop"


def test_the_standard_loop_runs_when_uvloop_does_not_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    assert loop_factory() is None
    assert run(running_loop()) == "asyncio"


def test_a_failure_inside_comes_out_as_it_would_from_asyncio_run() -> None:
    async def fails() -> None:
        raise LookupError("inside")

    with pytest.raises(LookupError, match="inside"):
        run(fails())
