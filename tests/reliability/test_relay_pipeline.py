"""A busy chat's sends follow each other with one transaction between them: the record of
one send writes the start of the next (issue 16, intake → post latency).

Each send's start is still committed before it is made, and each result right after it:
these tests look at the database from inside the channel's call.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.channels.base import Outbound, Sent
from bot.config import ChannelLimits, RateLimit
from bot.pacing import ChatPacer, Window
from storage import tables as t
from storage.outbox_model import ChatKey
from tests.reliability.relaykit import VirtualTime
from tests.reliability.test_relay import GROUP, OTHER_GROUP, Kit, hold_sends
from tests.reliability.test_relay import kit as kit  # the fixture


def count_transactions(kit: Kit) -> list[int]:
    """A counter of the transactions begun on the kit's engine from now on."""
    begun = [0]

    def count(_conn: object) -> None:
        begun[0] += 1

    sa.event.listen(kit.container.engine.sync_engine, "begin", count)
    return begun


async def states_seen_by_sends(kit: Kit) -> list[dict[str, tuple[bool, str]]]:
    """From now on, at each send: every row's (start written, status) as committed."""
    seen: list[dict[str, tuple[bool, str]]] = []
    plain = kit.channel.send

    async def looking(chat_id: str, message: Outbound) -> Sent:
        async with kit.container.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.outbox.c.payload, t.outbox.c.sending_at, t.outbox.c.status)
            )
            seen.append({r.payload["text"]: (r.sending_at is not None, r.status) for r in rows})
        return await plain(chat_id, message)

    kit.channel.send = looking  # type: ignore[method-assign]
    return seen


async def test_the_record_of_a_send_writes_the_start_of_the_chats_next(kit: Kit) -> None:
    for n in range(3):
        await kit.add(GROUP, f"m{n}")
    seen = await states_seen_by_sends(kit)
    begun = count_transactions(kit)
    await kit.relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1", "m2"]
    # The claim, m0's start, m0's record with m1's start, m1's with m2's, m2's with the
    # release; then drain's second claim (and the looks from inside the sends). One start
    # and one record per send would be 8.
    assert begun[0] - len(seen) == 6
    # Each send found its own start committed and the one before it recorded.
    assert [s[f"m{n}"][0] for n, s in enumerate(seen)] == [True, True, True]
    assert seen[1]["m0"] == (False, "sent") and seen[2]["m1"] == (False, "sent")
    assert seen[1]["m2"][0] is False  # a start is written only for the very next send
    rows = await kit.rows()
    assert [(r.status, r.sending_at) for r in rows] == [("sent", None)] * 3


async def test_a_long_text_writes_each_parts_start_with_the_record_of_the_one_before(
    kit: Kit,
) -> None:
    kit.channel.max_text = 20
    await kit.add(GROUP, "\n".join(f"line {n:02d} of it" for n in range(4)))
    seen = await states_seen_by_sends(kit)
    begun = count_transactions(kit)
    await kit.relay.drain()
    assert len(kit.channel.sent_to(GROUP)) == 4
    assert all(started for state in seen for started, _ in state.values())
    # The claim, the first part's start, four records, drain's second claim; and the looks.
    assert begun[0] - len(seen) == 1 + 1 + 4 + 1


async def test_no_start_is_written_ahead_for_a_send_that_must_wait_for_a_token(kit: Kit) -> None:
    """Its start goes in just before it, after the wait, as for any send: written ahead, a
    crash during the wait would count a message never sent as maybe sent."""
    relay = kit.new_relay(limits={"telegram": ChannelLimits(RateLimit(1, 1.0), None, None)})
    for n in range(2):
        await kit.add(GROUP, f"m{n}")
    store = kit.container.store
    starts: list[str] = []
    plain = store.begin_send

    async def noted(row: Any, at: datetime) -> None:
        starts.append(row.payload["text"])
        await plain(row, at)

    store.begin_send = noted  # type: ignore[method-assign]
    await relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1"]
    assert starts == ["m0", "m1"]


async def test_a_next_send_started_but_not_made_gives_its_tokens_back_and_counts_as_uncertain(
    kit: Kit,
) -> None:
    """The lease is lost between the record that wrote the next start and that send: it is
    not made by this worker (another instance may have the chat); whoever sends it next
    knows it may have gone out."""
    for n in range(2):
        await kit.add(GROUP, f"m{n}")
    store = kit.container.store
    plain = store.part_sent

    async def then_lost(*args: Any, **kwargs: Any) -> None:
        await plain(*args, **kwargs)
        for worker in kit.relay._workers.values():
            worker.lost = True

    store.part_sent = then_lost  # type: ignore[method-assign]
    await kit.relay.drain()  # the worker stops; the chat, given back, is claimed again
    # m1 went out once, by the next visit, which found its start and counted it.
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1"]
    rows = await kit.rows()
    assert [(r.status, r.sending_at, r.uncertain) for r in rows] == [
        ("sent", None, 0),
        ("sent", None, 1),
    ]


def test_a_token_taken_at_once_only_when_every_limit_has_one_free() -> None:
    clock = VirtualTime(0.0)
    own, shared = Window(RateLimit(2, 1.0)), Window(RateLimit(10, 1.0))
    pacer = ChatPacer([own], shared, clock.now, clock.sleep)
    assert pacer.take_now() and pacer.take_now()
    assert not pacer.take_now()  # the chat's two are out
    pacer.cancel()
    ticket = shared.line_up()  # another chat waits for the shared limit: it goes first
    assert not pacer.take_now()
    shared.leave(ticket)
    assert pacer.take_now()


def wakes_relay(kit: Kit) -> list[int]:
    """The kit's units of work wake the kit's relay, as the bot's wake its own; a counter
    of the relay's claims from now on."""
    kit.container.units = replace(kit.container.units, wake=kit.relay.wake)
    claims = [0]
    plain = kit.container.store.claim_chats

    async def counted(*args: Any, **kwargs: Any) -> Any:
        claims[0] += 1
        return await plain(*args, **kwargs)

    kit.container.store.claim_chats = counted  # type: ignore[method-assign]
    return claims


async def test_a_message_for_a_chat_whose_worker_is_on_it_is_read_by_that_worker(
    kit: Kit,
) -> None:
    """No claim for it: one would find the chat leased, and the chat would be given back
    and claimed anew after the visit."""
    claims = wakes_relay(kit)
    gate, entered = hold_sends(kit)
    await kit.add(GROUP, "m0")
    kit.relay._changed.clear()  # drain claims without it
    draining = asyncio.create_task(kit.relay.drain())
    await asyncio.wait_for(entered.wait(), 10)
    await kit.add(GROUP, "m1")  # committed while m0's send is under way
    assert not kit.relay._changed.is_set()  # no claim asked for
    gate.set()
    await asyncio.wait_for(draining, 10)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1"]
    assert claims[0] == 2  # drain's first, and its last that finds nothing
    rows = await kit.rows()
    assert [r.status for r in rows] == ["sent", "sent"]
    async with kit.container.engine.connect() as conn:
        owner = (await conn.execute(sa.select(t.outbox_chats.c.lease_owner))).scalar_one()
    assert owner is None


def commit_after_the_release(kit: Kit, text: str) -> list[str]:
    """From now on, the first record that gives the chat back is followed, before its
    worker goes on, by the commit of `text` to GROUP; the texts so committed."""
    store = kit.container.store
    plain = store.part_sent
    added: list[str] = []

    async def then_added(*args: Any, **kwargs: Any) -> None:
        await plain(*args, **kwargs)
        if kwargs.get("release") and not added:
            added.append(text)
            await kit.add(GROUP, text)

    store.part_sent = then_added  # type: ignore[method-assign]
    return added


async def test_a_message_committed_as_the_visits_last_record_gives_the_chat_back_is_claimed(
    kit: Kit,
) -> None:
    """Too late for the worker, which has given the chat back: the relay claims again."""
    wakes_relay(kit)
    commit_after_the_release(kit, "m1")  # its worker is still on the chat, ending
    await kit.add(GROUP, "m0")
    kit.relay._changed.clear()
    await kit.relay.drain()
    assert kit.relay._changed.is_set()  # the run loop claims again
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1"]


async def test_a_claim_for_the_chats_a_wake_named_makes_no_other_worker_look_again(
    kit: Kit,
) -> None:
    """Rows a commit wrote to a chat with a worker here are that worker's to read (`wake`);
    a claim asked for the other chats it named misses none, so a worker alive meanwhile
    does not claim again at its end. (A claim that may miss some, the idle poll's or one
    for another instance's commit, still makes it look: test_relay.)"""
    relay = kit.relay
    gate, entered = hold_sends(kit)
    await kit.add(GROUP, "m0")
    assert [c.key.chat_id for c in await relay._claim_more(False)] == [GROUP]
    await asyncio.wait_for(entered.wait(), 10)
    await kit.add(OTHER_GROUP, "n0")
    other = {ChatKey("telegram", OTHER_GROUP)}
    assert [c.key.chat_id for c in await relay._claim_more(False, other)] == [OTHER_GROUP]
    relay._changed.clear()
    gate.set()
    await asyncio.wait_for(asyncio.gather(*[w.task for w in relay._workers.values() if w.task]), 10)
    assert not relay._changed.is_set()
    assert [c.text for c in kit.channel.calls] == ["m0", "n0"]
