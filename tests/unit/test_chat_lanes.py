"""ChatLanes: one chat's updates in order, other chats' side by side, failures isolated."""

from __future__ import annotations

import asyncio

from bot.channels.lanes import ChatLanes


async def test_one_chat_in_order_while_another_chat_runs_beside_it() -> None:
    lanes = ChatLanes(limit=8)
    order: list[str] = []
    gate = asyncio.Event()
    other_ran = asyncio.Event()

    async def first() -> None:
        order.append("a1 start")
        await gate.wait()  # held until chat b has run: b does not wait behind a
        order.append("a1 end")

    async def second() -> None:
        order.append("a2")

    async def other() -> None:
        order.append("b1")
        other_ran.set()

    await lanes.submit("a", first)
    await lanes.submit("a", second)
    await lanes.submit("b", other)
    await asyncio.wait_for(other_ran.wait(), 5)
    assert "a2" not in order  # a's second update waits for its first
    gate.set()
    assert await lanes.drain(5)
    assert order.index("a1 end") < order.index("a2")
    assert order.index("b1") < order.index("a1 end")


async def test_a_failing_update_does_not_stop_its_chat() -> None:
    lanes = ChatLanes(limit=2)
    seen: list[int] = []

    async def boom() -> None:
        raise RuntimeError("handler bug")

    def note(i: int):  # type: ignore[no-untyped-def]
        async def run() -> None:
            seen.append(i)

        return run

    await lanes.submit("a", boom)
    for i in range(5):  # more than the limit: submit waits for a free slot, no deadlock
        await lanes.submit("a", note(i))
    assert await lanes.drain(5)
    assert seen == [0, 1, 2, 3, 4]
    assert lanes.busy == 0


async def test_work_beside_holds_up_no_chat_and_is_drained() -> None:
    """A press's answer: the chat's next update runs while it waits; a stop waits for it,
    and its failure is only logged."""
    lanes = ChatLanes(limit=2)
    answered = asyncio.Event()
    order: list[str] = []

    async def answer() -> None:
        await answered.wait()
        order.append("answer")

    async def failing() -> None:
        raise RuntimeError("the platform said no")

    async def press() -> None:
        order.append("press")
        lanes.beside(answer())
        lanes.beside(failing())

    async def next_update() -> None:
        order.append("next")

    await lanes.submit("a", press)
    await lanes.submit("a", next_update)
    assert not await lanes.drain(0.05)  # the answer still waits: drain says so
    assert order == ["press", "next"]
    answered.set()
    assert await lanes.drain(5)
    assert order == ["press", "next", "answer"]
