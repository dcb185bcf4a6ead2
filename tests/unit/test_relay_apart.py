"""What crosses between the bot's process and its relay's (bot/relay_apart.py): wakes
gathered per turn of the loop, read back as the relay's chats; the relay's figures shown
in place of the bot's own."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import RelayPlacement, load_settings
from bot.domain.people import ChatAddress
from bot.metrics import Metrics
from bot.relay_apart import RelayProcess, WakeLine, read_wake, wake_line
from bot.relay_child import _listen
from storage.outbox_wakeup import OUTBOX_CHANNEL, OutboxListener, sender_of

A = ChatAddress("telegram", "-100")
B = ChatAddress("telegram", "42")
C = ChatAddress("zalo", "abc")


@dataclass
class Pipe:
    lines: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.lines.append(data)

    def is_closing(self) -> bool:
        return False


@dataclass
class Child:
    stdin: Pipe = field(default_factory=Pipe)


def process_with_child() -> tuple[RelayProcess, Pipe]:
    process = RelayProcess(load_settings(database_url="sqlite+aiosqlite:///:memory:"))
    child = Child()
    process._child = cast(Any, child)
    return process, child.stdin


async def test_the_wakes_of_one_turn_go_as_one_line_with_all_their_chats() -> None:
    process, pipe = process_with_child()
    process.wake([A])
    process.wake([B, A])
    assert pipe.lines == []  # not before the loop's next turn
    await asyncio.sleep(0)
    [line] = pipe.lines
    assert sorted(map(str, read_wake(json.loads(line)) or [])) == ["telegram:-100", "telegram:42"]
    process.wake([C])
    await asyncio.sleep(0)
    assert read_wake(json.loads(pipe.lines[1])) == [C]


async def test_a_wake_without_chats_is_passed_on_as_one() -> None:
    process, pipe = process_with_child()
    process.wake([A])
    process.wake()
    await asyncio.sleep(0)
    assert [read_wake(json.loads(line)) for line in pipe.lines] == [[]]


async def test_without_a_child_wakes_are_dropped_its_start_claims_everything() -> None:
    process = RelayProcess(load_settings(database_url="sqlite+aiosqlite:///:memory:"))
    process.wake([A])
    await asyncio.sleep(0)
    assert process._pending == set()


def test_a_line_is_read_back_as_the_chats_written() -> None:
    assert read_wake(json.loads(wake_line([A, C]))) == [A, C]
    assert read_wake({"metrics": []}) is None


def test_the_wake_line_calls_where_it_points() -> None:
    seen: list[object] = []
    line = WakeLine(lambda chats: seen.append(("here", tuple(chats))))
    line([A])
    line.target = lambda chats: seen.append(("apart", tuple(chats)))
    line()
    assert seen == [("here", (A,)), ("apart", ())]


def test_the_relays_figures_stand_in_for_the_bots_own() -> None:
    metrics = Metrics()
    metrics.sent.inc("telegram")  # as if this process had sent: it is not shown
    metrics.update_seconds.observe(0.01, "telegram", "button")
    reported = ['dispatch_messages_sent_total{channel="telegram"} 7']
    lines = metrics.render(reported)
    assert 'dispatch_messages_sent_total{channel="telegram"} 7' in lines
    assert 'dispatch_messages_sent_total{channel="telegram"} 1' not in lines
    assert any(line.startswith("dispatch_update_seconds_count") for line in lines)
    assert 'dispatch_messages_sent_total{channel="telegram"} 1' in metrics.render()


@dataclass
class Woken:
    chats: list[list[ChatAddress]] = field(default_factory=list)

    def wake(self, chats: list[ChatAddress]) -> None:
        self.chats.append(chats)


@dataclass
class Holder:
    relay: Woken = field(default_factory=Woken)


async def test_the_child_wakes_its_relay_per_line_until_its_input_ends() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(wake_line([A, B]) + wake_line([]) + b'{"other": 1}\n')
    reader.feed_eof()
    holder = Holder()
    await _listen(reader, cast(Any, holder))
    assert holder.relay.chats == [[A, B], []]


def test_relay_process_is_a_setting_with_two_places() -> None:
    assert load_settings(relay_process="separate").relay_process is RelayPlacement.SEPARATE
    with pytest.raises(Exception, match="RELAY_PROCESS"):
        load_settings(relay_process="elsewhere")


async def test_the_childs_listener_does_not_hear_its_bots_commits() -> None:
    """They reach it over the pipe already: hearing them too would cost it a claim each."""
    engine = create_async_engine("sqlite+aiosqlite://")
    woken: list[int] = []
    try:
        listener = OutboxListener(engine, lambda: woken.append(1), ignore=["the-bot"])
        for sender in ("the-bot", sender_of(engine), "another-instance"):
            listener._heard(None, 0, OUTBOX_CHANNEL, sender)
    finally:
        await engine.dispose()
    assert woken == [1]
