"""The relay in a process of its own (`RELAY_PROCESS=separate`), seen from `dispatchbot run`.

The bot's process handles updates and intakes; its event loop is one core's worth of
Python. Delivering what they wrote (a Bot API call, the send's start and record, the
relay's bookkeeping) cost about as much again per update (docs/performance.md), on the
same core, while the machine's other core sat idle. With the relay apart, the bot's
process starts a child (`python -m bot.relay_child`) that runs the relay, its token
probes and, on PostgreSQL, its LISTEN, and nothing else; the bot's process runs
everything but the relay.

Nothing about delivery changes: the child is this instance's relay, with the same
leases, limits and records in the database, so a message is never lost or sent twice
whichever process dies. What crosses between them, one JSON object per line:

- to the child's standard input: first the settings, then each commit's chats
  (`{"wake": [[channel, chat_id], ...]}`, an empty list for "look at everything"),
  which the bot's own relay would have been woken with. The end of its input (the bot
  stopping, or dying) is the child's signal to flush and stop;
- from its standard output: every second, its relay's figures and its channels'
  health, which `/metrics` and `/healthz` show as this instance's.

A child that dies is started again after a pause; meanwhile messages wait in the
outbox, as they would for a relay that had stalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from bot.config import Settings
from bot.domain.people import ChatAddress

log = logging.getLogger(__name__)

#: Seconds between the child's reports of its figures.
REPORT_SECONDS = 1.0
#: Pauses before starting a child that died again: it doubles up to the last.
RESTART_PAUSES = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: A child that ran this long before dying starts again after the first pause.
STEADY_SECONDS = 60.0
#: Seconds the child may take past its flush before it is killed at stop (within the
#: 10 s `serve` gives the relay past the flush).
STOP_GRACE = 5.0


Wake = Callable[[Collection[ChatAddress]], None]


class WakeLine:
    """Where commits' wakes go: the relay in this process, or the one in the child.

    Built with the relay at start-up and handed to everything that wakes it (the units
    of work, kept messages released, a group that moved); `serve` points it at the child
    when the relay runs apart."""

    def __init__(self, target: Wake) -> None:
        self.target = target

    def __call__(self, chats: Collection[ChatAddress] = ()) -> None:
        self.target(chats)


def wake_line(chats: Collection[ChatAddress]) -> bytes:
    """One wake as the child reads it."""
    pairs = [[chat.channel, chat.chat_id] for chat in chats]
    return json.dumps({"wake": pairs}, separators=(",", ":")).encode() + b"\n"


def read_wake(message: dict[str, object]) -> list[ChatAddress] | None:
    """The chats of a wake line; None when the line is not a wake."""
    pairs = message.get("wake")
    if not isinstance(pairs, list):
        return None
    return [ChatAddress(str(channel), str(chat_id)) for channel, chat_id in pairs]


@dataclass
class ChildReport:
    """The child's latest figures and channel states, as `/metrics` and `/healthz` show."""

    metrics: list[str] = field(default_factory=list)
    health: dict[str, str] = field(default_factory=dict)


class RelayProcess:
    """Starts the relay's child, tells it of commits, keeps it running, stops it last."""

    def __init__(
        self, settings: Settings, *, sender: str | None = None, module: str = "bot.relay_child"
    ) -> None:
        self.settings = settings
        #: This process's name in its PostgreSQL notifications: the child ignores them.
        self.sender = sender
        self.module = module
        self.report = ChildReport()
        self.starts = 0  # children started, the first included (for tests and logs)
        #: Set by the running child's first report: its relay runs.
        self.ready = asyncio.Event()
        self._child: asyncio.subprocess.Process | None = None
        self._pending: set[ChatAddress] = set()
        self._blind = False
        self._flushing = False

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return self._child.pid if self._child is not None else None

    def wake(self, chats: Collection[ChatAddress] = ()) -> None:
        """After a commit: the chats go to the child at the loop's next turn, gathered with
        those of the other commits of the same turn into one line."""
        if chats:
            self._pending.update(chats)
        else:
            self._blind = True
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        chats: Collection[ChatAddress] = () if self._blind else self._pending
        self._pending, self._blind = set(), False
        child = self._child
        if child is None or child.stdin is None or child.stdin.is_closing():
            return  # a child that starts claims every chat with messages waiting
        child.stdin.write(wake_line(chats))

    async def run(self, stop: asyncio.Event) -> None:
        """Keep a child running until `stop` is set, then let it flush and wait for it."""
        pause = 0
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            child, reports = await self._start()
            exited = asyncio.create_task(self._lifetime(child, reports))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait((exited, stopping), return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not exited.done():
                await self._stop(child, exited)
                return
            self._child = None
            ran = asyncio.get_running_loop().time() - started
            pause = 0 if ran >= STEADY_SECONDS else min(pause + 1, len(RESTART_PAUSES) - 1)
            wait = RESTART_PAUSES[pause]
            log.error(
                "relay process exited with %s; starting it again in %.1fs (messages wait)",
                child.returncode,
                wait,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def _start(self) -> tuple[asyncio.subprocess.Process, asyncio.Task[None]]:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdin is not None and child.stdout is not None
        settings = self.settings.model_dump(mode="json", exclude_none=True)
        first = {"settings": settings, "sender": self.sender}
        child.stdin.write(json.dumps(first).encode() + b"\n")
        self._child = child
        self.ready.clear()
        self.starts += 1
        log.info("relay process started (pid %s)", child.pid)
        return child, asyncio.create_task(self._read_reports(child.stdout))

    @staticmethod
    async def _lifetime(child: asyncio.subprocess.Process, reports: asyncio.Task[None]) -> int:
        """Until the child exited and its last report was read."""
        code = await child.wait()
        with contextlib.suppress(Exception):
            await reports
        return code

    async def _read_reports(self, out: asyncio.StreamReader) -> None:
        while line := await out.readline():
            try:
                message = json.loads(line)
                metrics, health = message["metrics"], message["health"]
            except (ValueError, KeyError, TypeError):
                log.warning("relay process: an unreadable report line (%d bytes)", len(line))
                continue
            self.report = ChildReport(list(metrics), dict(health))
            self.ready.set()

    async def _stop(self, child: asyncio.subprocess.Process, exited: asyncio.Task[int]) -> None:
        """End its input: it flushes for SHUTDOWN_FLUSH_SECONDS and exits."""
        if child.stdin is not None:
            child.stdin.close()
        grace = self.settings.shutdown_flush_seconds + STOP_GRACE
        try:
            await asyncio.wait_for(asyncio.shield(exited), grace)
        except TimeoutError:
            log.warning("relay process did not stop within %.0fs; killing it", grace)
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await exited
        self._child = None
        if child.returncode:
            log.warning("relay process exited with %s", child.returncode)
