"""A commit that writes to a chat nobody holds leases it to this process's running relay in
that same commit, and the relay delivers it with no claim transaction (issue 16,
storage/outbox_handoff.py). A chat another instance holds is left to it; a lease left
behind by a process that died after such a commit runs out, and another relay sends the
message, once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage import tables as t
from tests.reliability.test_relay import GROUP, Kit, hold_sends
from tests.reliability.test_relay import kit as kit  # the fixture
from tests.reliability.test_relay_pipeline import (
    commit_after_the_release,
    count_transactions,
    wakes_relay,
)


async def lease(kit: Kit) -> tuple[str | None, datetime | None]:
    async with kit.container.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(t.outbox_chats.c.lease_owner, t.outbox_chats.c.lease_until).where(
                    t.outbox_chats.c.chat_id == GROUP
                )
            )
        ).one()
    return row.lease_owner, row.lease_until


async def a_known_chat(kit: Kit) -> None:
    """GROUP has had a message delivered: its chat row is there, nobody's lease on it."""
    await kit.add(GROUP, "m0")
    await kit.relay.drain()
    assert await lease(kit) == (None, None)


async def workers_done(kit: Kit) -> None:
    tasks = [w.task for w in kit.relay._workers.values() if w.task is not None]
    assert tasks
    await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_a_commit_to_a_free_chat_leases_it_to_this_relay_which_sends_it_unclaimed(
    kit: Kit,
) -> None:
    await a_known_chat(kit)
    claims = wakes_relay(kit)
    kit.relay.take_commits()
    kit.relay._changed.clear()
    gate, entered = hold_sends(kit)
    begun = count_transactions(kit)
    await kit.add(GROUP, "m1")
    await asyncio.wait_for(entered.wait(), 10)  # sending, with no claim made
    committed = begun[0]
    owner, until = await lease(kit)
    assert owner == kit.relay.owner
    assert until is not None and until > datetime.fromtimestamp(kit.time.now(), UTC)
    assert not kit.relay._changed.is_set()  # nor asked for
    gate.set()
    await workers_done(kit)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1"]
    assert claims[0] == 0
    # The commit that wrote m1 and leased the chat, m1's start; then (after the look at
    # the lease) m1's record, which gave the chat back.
    assert committed == 2 and begun[0] == committed + 1 + 1
    assert await lease(kit) == (None, None)
    assert [r.status for r in await kit.rows()] == ["sent", "sent"]


async def test_a_chat_another_instance_holds_is_not_taken(kit: Kit) -> None:
    await a_known_chat(kit)
    until = datetime.fromtimestamp(kit.time.now(), UTC) + timedelta(seconds=60)
    async with kit.container.engine.begin() as conn:
        await conn.execute(sa.update(t.outbox_chats).values(lease_owner="other", lease_until=until))
    claims = wakes_relay(kit)
    kit.relay.take_commits()
    kit.relay._changed.clear()
    await kit.add(GROUP, "m1")
    assert await lease(kit) == ("other", until)
    assert not kit.relay._workers
    assert kit.relay._changed.is_set()  # woken as before: a claim will look
    await kit.relay.drain()  # and find the chat leased
    assert claims[0] == 1
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0"]


async def test_a_lease_left_by_a_process_dead_after_its_commit_runs_out_and_is_sent_once(
    kit: Kit,
) -> None:
    await a_known_chat(kit)
    dead = kit.new_relay()
    dead.take_commits()

    def died(*_args: Any) -> None:
        """The process dies right after the commit: no worker ever starts."""

    dead.taken = died  # type: ignore[method-assign]
    await kit.add(GROUP, "m1")
    assert (await lease(kit))[0] == dead.owner
    await kit.relay.drain()  # the lease has not run out: the chat is not claimed
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0"]
    kit.time.advance(dead.options.lease_seconds + 1)
    await kit.relay.drain()
    await kit.relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1"]
    rows = await kit.rows()
    assert [(r.status, r.uncertain) for r in rows] == [("sent", 0), ("sent", 0)]
    assert await lease(kit) == (None, None)


async def test_a_commit_just_after_the_record_that_gave_the_chat_back_keeps_its_worker_on_it(
    kit: Kit,
) -> None:
    """The commit leases the chat again before its worker has ended: that worker goes on
    with the queue read in the commit; no release, no claim."""
    await a_known_chat(kit)
    claims = wakes_relay(kit)
    kit.relay.take_commits()
    added = commit_after_the_release(kit, "m2")  # the chat given back, its worker on it
    await kit.add(GROUP, "m1")
    kit.relay._changed.clear()
    (worker,) = kit.relay._workers.values()
    await workers_done(kit)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1", "m2"]
    assert added == ["m2"] and claims[0] == 0
    assert worker.gave_back is not None and not worker.claimed_again
    assert not kit.relay._changed.is_set()  # nothing left for a claim
    assert await lease(kit) == (None, None)


async def test_a_commit_while_the_visits_last_record_waits_its_turn_keeps_the_chat(
    kit: Kit,
) -> None:
    """The record asks, in its own transaction, whether rows came meanwhile: they did, so
    it keeps the chat and its worker reads them; no release, no claim."""
    await a_known_chat(kit)
    claims = wakes_relay(kit)
    kit.relay.take_commits()
    store = kit.container.store
    plain, plain_release = store.part_sent, store.release_chat
    releases: list[object] = []

    async def after_a_commit(*args: Any, **kwargs: Any) -> None:
        if kwargs.get("release") and not releases:
            releases.append("asked")
            await kit.add(GROUP, "m2")  # committed before this record's transaction
        await plain(*args, **kwargs)

    async def release_chat(*args: Any) -> None:
        releases.append(args)
        await plain_release(*args)

    store.part_sent = after_a_commit  # type: ignore[method-assign]
    store.release_chat = release_chat  # type: ignore[method-assign]
    await kit.add(GROUP, "m1")
    kit.relay._changed.clear()
    await workers_done(kit)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1", "m2"]
    assert releases == ["asked"] and claims[0] == 0  # m2's record gave the chat back
    assert not kit.relay._changed.is_set()
    assert await lease(kit) == (None, None)


async def test_a_worker_whose_lease_lapsed_and_was_taken_by_a_commit_never_sends_twice(
    kit: Kit,
) -> None:
    """The commit read the chat's queue while the worker was still sending it: that read is
    old by the time the worker gives the chat back, so the worker does not go on with it
    (it gives the chat back again, and the rest is claimed)."""
    await a_known_chat(kit)
    wakes_relay(kit)
    kit.relay.take_commits()
    gate, entered = hold_sends(kit)
    await kit.add(GROUP, "m1")
    await asyncio.wait_for(entered.wait(), 10)  # the handed-over worker is sending m1
    (worker,) = kit.relay._workers.values()
    lapsed = kit.time.now() - 1  # the database was too slow to renew it
    worker.lease_deadline = lapsed
    async with kit.container.engine.begin() as conn:
        past = datetime.fromtimestamp(lapsed, UTC)
        await conn.execute(sa.update(t.outbox_chats).values(lease_until=past))
    await kit.add(GROUP, "m2")  # leased again by this commit, the queue read with m1 in it
    assert worker.claimed_again
    await kit.add(GROUP, "m3")  # the lease is ours again: the worker reads it (`more`)
    gate.set()
    await workers_done(kit)
    await kit.relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1", "m2", "m3"]
    assert await lease(kit) == (None, None)
