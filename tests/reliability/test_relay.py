"""The relay's rules, one at a time, on SQLite and PostgreSQL, with a scripted channel.

Time is virtual where the rule is about time (backoff, 429, leases), so a 30-second wait
costs nothing and nothing depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.channels.base import Button, Capabilities, Outbound, RetryLater, TransientFailure
from bot.channels.refusals import ChatRefuses
from bot.channels.text import split_text as split_lines
from bot.config import ChannelLimits, RateLimit
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Team
from bot.relay import LeadNotices, Relay, RelayOptions
from bot.relay_setbacks import GiveUpRule
from bot.services.ports import OutboxItem
from storage import tables as t
from tests.conftest import make_settings
from tests.integration.helpers import add_member
from tests.reliability.relaykit import ScriptedChannel, SimTime, VirtualTime

GROUP = "-1001"
OTHER_GROUP = "-1002"


@dataclass
class Kit:
    container: Container
    channel: ScriptedChannel
    time: VirtualTime
    relay: Relay

    def new_relay(self, **options: object) -> Relay:
        return make_relay(self, **options)

    async def add(self, chat_id: str, text: str, **item: object) -> None:
        async with self.container.uow() as uow:
            await uow.outbox.add(
                OutboxItem(
                    channel="telegram",
                    chat_id=chat_id,
                    payload=Outbound(text=text, **item.pop("message", {})).to_json(),  # type: ignore[arg-type]
                    **item,  # type: ignore[arg-type]
                )
            )
            await uow.commit()

    async def rows(self) -> list[sa.Row[object]]:
        async with self.container.engine.connect() as conn:
            return list(await conn.execute(sa.select(t.outbox).order_by(t.outbox.c.id)))  # type: ignore[arg-type]

    async def case_id(self) -> int:
        async with self.container.engine.begin() as conn:
            now = self.container.clock.now()
            result = await conn.execute(
                sa.insert(t.cases).values(
                    ref="PL-1",
                    kind="new_connection",
                    team_code="PL",
                    status="open",
                    customer_name="Trần Văn Hưng",
                    customer_phone="0912345678",
                    customer_address="12 Trần Hưng Đạo",
                    received_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            return int(result.inserted_primary_key[0])


def make_relay(kit: Kit, **options: object) -> Relay:
    limits = options.pop("limits", None)
    return Relay(
        kit.container.store,
        {"telegram": kit.channel},
        kit.container.clock,
        limits=limits,  # type: ignore[arg-type]
        options=RelayOptions(**options),  # type: ignore[arg-type]
        notices=LeadNotices(kit.container.store, kit.container.tr, kit.container.clock),
        now=kit.time.now,
        sleep=kit.time.sleep,
    )


@pytest.fixture
async def kit(db_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Kit]:
    container = await bootstrap(make_settings(db_url, tmp_path), clock=clock, channels={})
    async with container.uow() as uow:
        await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", GROUP),)))
        await uow.commit()
    kit = Kit(container, ScriptedChannel(), VirtualTime(), None)  # type: ignore[arg-type]
    kit.relay = make_relay(kit)
    try:
        yield kit
    finally:
        await container.close()


async def test_edits_of_one_card_waiting_together_go_out_as_one_post(kit: Kit) -> None:
    card = {"card_key": "case:1"}
    await kit.add(GROUP, "card v1", dedupe_key="post:1", **card)
    for version in (2, 3, 4):
        await kit.add(GROUP, f"card v{version}", **card)
    await kit.relay.drain()
    assert [(c.op, c.text) for c in kit.channel.calls] == [("send", "card v4")]
    statuses = [r.status for r in await kit.rows()]
    assert statuses == ["superseded"] * 3 + ["sent"]

    await kit.add(GROUP, "card v5", **card)
    await kit.relay.drain()
    assert [(c.op, c.text) for c in kit.channel.calls][-1] == ("edit", "card v5")
    assert len(kit.channel.shown[GROUP]) == 1  # one card in the chat, edited in place


async def test_message_is_not_modified_counts_as_sent(kit: Kit) -> None:
    await kit.add(GROUP, "card", card_key="case:1")
    await kit.relay.drain()
    await kit.add(GROUP, "card", card_key="case:1")  # the same text again
    await kit.relay.drain()
    assert [c.op for c in kit.channel.calls] == ["send", "edit"]
    assert not kit.channel.calls[-1].ok  # the platform said "not modified"
    assert [r.status for r in await kit.rows()] == ["sent", "sent"]


async def test_a_deleted_card_is_posted_again(kit: Kit) -> None:
    await kit.add(GROUP, "card v1", card_key="case:1")
    await kit.relay.drain()
    kit.channel.shown[GROUP].clear()  # someone deleted it
    await kit.add(GROUP, "card v2", card_key="case:1")
    await kit.relay.drain()
    assert [(c.op, c.ok) for c in kit.channel.calls] == [
        ("send", True),
        ("edit", False),
        ("send", True),
    ]


async def test_long_text_goes_out_in_parts_cut_at_line_ends_and_a_retry_repeats_none(
    kit: Kit,
) -> None:
    kit.channel.max_text = 100
    lines = [f"dòng {i:02d} ✅" for i in range(40)]
    text = "\n".join(lines)
    button = Button("Nhận việc / Claim", "c:claim:PL-1")
    await kit.add(GROUP, text, message={"buttons": ((button,),), "reply_to": "7"})

    original_send = kit.channel.send
    sends = 0

    async def second_send_fails(chat_id: str, message: Outbound):  # type: ignore[no-untyped-def]
        nonlocal sends
        sends += 1
        if sends == 2:
            raise TransientFailure("502 Bad Gateway")
        return await original_send(chat_id, message)

    kit.channel.send = second_send_fails  # type: ignore[method-assign]
    await kit.relay.drain()
    (row,) = await kit.rows()
    assert row.status == "pending" and row.parts_sent == 1 and row.attempts == 1
    kit.time.advance(10)
    await kit.relay.drain()

    parts = kit.channel.sent_to(GROUP)
    assert "\n".join(p.text for p in parts) == text  # nothing lost, nothing twice, in order
    assert all(len(p.text.encode("utf-16-le")) // 2 <= 100 for p in parts)
    assert all(p.text.split("\n")[0] in lines for p in parts)  # cut between lines
    assert [p.buttons for p in parts] == [0] * (len(parts) - 1) + [1]  # buttons on the last
    assert parts[0].reply_to == "7" and all(p.reply_to is None for p in parts[1:])
    (row,) = await kit.rows()
    assert row.status == "sent" and row.parts_sent == len(parts)


def test_split_lines_cuts_only_an_overlong_line() -> None:
    assert split_lines("a\nb", 10) == ["a\nb"]
    assert split_lines("aaaa\nbbbb\ncc", 9) == ["aaaa\nbbbb", "cc"]
    assert split_lines("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_lines("😀" * 6, 4) == ["😀😀", "😀😀", "😀😀"]  # UTF-16 units, as Telegram


async def test_a_429_holds_back_only_that_chat_for_retry_after(kit: Kit) -> None:
    for i in range(3):
        await kit.add(GROUP, f"a{i}")
        await kit.add(OTHER_GROUP, f"b{i}")
    kit.channel.fail(GROUP, RetryLater(30, "Too Many Requests: retry after 30"))
    start = kit.time.now()
    await kit.relay.drain()
    assert [c.text for c in kit.channel.sent_to(OTHER_GROUP)] == ["b0", "b1", "b2"]
    assert kit.channel.sent_to(GROUP) == []
    assert kit.relay.metrics.too_many_requests.value("telegram") == 1
    async with kit.container.engine.connect() as conn:
        held = (
            await conn.execute(
                sa.select(t.outbox_chats.c.not_before).where(t.outbox_chats.c.chat_id == GROUP)
            )
        ).scalar_one()
    assert abs(held.timestamp() - (start + 30)) < 1

    kit.time.advance(29)
    await kit.relay.drain()
    assert kit.channel.sent_to(GROUP) == []  # still waiting
    kit.time.advance(2)
    await kit.relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["a0", "a1", "a2"]


async def test_errors_back_off_exponentially_with_jitter_up_to_the_cap(kit: Kit) -> None:
    # The shape of the backoff alone: no give-up bound within these eight tries.
    relay = kit.new_relay(
        base_backoff=1.0, max_backoff=20.0, give_up=GiveUpRule(attempts=100, seconds=1e6)
    )
    await kit.add(GROUP, "hello")
    kit.channel.fail(GROUP, *[TransientFailure("500 Internal Server Error")] * 8)
    waits = []
    for attempt in range(8):
        before = kit.time.now()
        await relay.drain()
        async with kit.container.engine.connect() as conn:
            held = (
                await conn.execute(
                    sa.select(t.outbox_chats.c.not_before).where(t.outbox_chats.c.chat_id == GROUP)
                )
            ).scalar_one()
        wait = held.timestamp() - before
        ceiling = min(20.0, 2.0**attempt)
        assert ceiling * 0.5 - 0.01 <= wait <= ceiling + 0.01, (attempt, wait)
        waits.append(wait)
        kit.time.advance(wait + 0.01)
    await relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["hello"]
    assert relay.metrics.retries.value("telegram", "error") == 8
    assert max(waits) <= 20.01


async def test_a_blocked_worker_is_not_retried_and_the_team_is_told_once(kit: Kit) -> None:
    case_id = await kit.case_id()
    minh = await add_member(kit.container, 3002, "Minh", Role.WORKER)
    private = minh.identities[0].external_id
    kit.channel.fail(private, ChatRefuses("Forbidden: bot was blocked by the user"))
    kit.channel.fail(private, ChatRefuses("Forbidden: bot was blocked by the user"))
    await kit.add(private, "☎️ PL-1: 0912345678", case_id=case_id)
    await kit.add(private, "PL-1 again", case_id=case_id)
    await kit.relay.drain()
    await kit.relay.drain()

    rows = await kit.rows()
    assert [(r.chat_id, r.status, r.attempts) for r in rows[:2]] == [
        (private, "failed", 1),
        (private, "failed", 1),
    ]
    notices = kit.channel.sent_to(GROUP)
    assert len(notices) == 1  # once per case and chat, not once per message
    assert "PL-1" in notices[0].text and "Minh" in notices[0].text
    assert "0912345678" not in notices[0].text
    stats = await kit.container.store.stats()
    assert stats.failed == 2 and stats.undeliverable_chats == 1


async def test_a_gone_team_group_is_told_to_the_leads_in_private(kit: Kit) -> None:
    case_id = await kit.case_id()
    lan = await add_member(kit.container, 3001, "Lan", Role.LEAD)
    await add_member(kit.container, 3002, "Minh", Role.WORKER)
    kit.channel.fail(GROUP, ChatRefuses("Bad Request: chat not found"))
    await kit.add(GROUP, "card", case_id=case_id, card_key=f"case:{case_id}")
    await kit.relay.drain()
    await kit.relay.drain()
    lead_chat = lan.identities[0].external_id
    (notice,) = kit.channel.sent_to(lead_chat)
    assert "PL-1" in notice.text and "Phủ Lý" in notice.text
    assert kit.channel.sent_to("3002") == []


async def test_a_send_interrupted_by_a_crash_is_counted_and_sent_again(kit: Kit) -> None:
    await kit.add(GROUP, "hello")
    async with kit.container.engine.begin() as conn:
        await conn.execute(sa.update(t.outbox).values(sending_at=datetime.now(UTC)))
    await kit.relay.drain()
    (row,) = await kit.rows()
    assert row.status == "sent" and row.uncertain == 1 and row.sending_at is None
    assert kit.relay.metrics.uncertain.value("telegram") == 1
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["hello"]


async def test_a_dead_instances_chat_waits_for_its_lease_then_moves_on(kit: Kit) -> None:
    for i in range(3):
        await kit.add(GROUP, f"m{i}")
    now = kit.time.now()
    claims = await kit.container.store.claim_chats(
        "dead-instance",
        datetime.fromtimestamp(now, UTC),
        datetime.fromtimestamp(now + 15, UTC),
        10,
    )
    assert [c.key.chat_id for c in claims] == [GROUP]
    await kit.relay.drain()
    assert kit.channel.calls == []  # someone else holds the chat
    kit.time.advance(16)
    await kit.relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1", "m2"]


async def test_two_relays_on_one_database_send_each_message_once_in_each_chats_order(
    kit: Kit,
) -> None:
    chats = [f"-10{i:02d}" for i in range(6)]
    for n in range(25):
        for chat in chats:
            await kit.add(chat, f"{chat}:{n:02d}")
    kit.channel.delay = 0.002  # let the relays interleave
    relays = [
        Relay(
            kit.container.store,
            {"telegram": kit.channel},
            kit.container.clock,
            options=RelayOptions(concurrency=3, batch=7),
            owner=f"instance-{i}",
        )
        for i in range(2)
    ]
    await asyncio.gather(*(r.drain() for r in relays))
    texts = [c.text for c in kit.channel.calls if c.ok]
    assert len(texts) == len(set(texts)) == 6 * 25
    for chat in chats:
        mine = [c.text for c in kit.channel.sent_to(chat)]
        assert mine == [f"{chat}:{n:02d}" for n in range(25)]
    assert all(r.sent > 0 for r in relays)  # both did part of the work


async def test_each_chat_keeps_to_its_limits_and_the_group_to_its_own(kit: Kit) -> None:
    limits = {
        "telegram": ChannelLimits(
            per_chat=RateLimit(1, 1.0), per_group=RateLimit(20, 60.0), overall=RateLimit(30, 1.0)
        )
    }
    relay = kit.new_relay(limits=limits)
    for n in range(45):
        await kit.add(GROUP, f"g{n}")
    sent_at: list[float] = []
    original = kit.channel.send

    async def timed(chat_id: str, message: Outbound):  # type: ignore[no-untyped-def]
        sent_at.append(kit.time.now())
        return await original(chat_id, message)

    kit.channel.send = timed  # type: ignore[method-assign]
    await relay.drain()
    assert len(sent_at) == 45
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) >= 1.0  # one a second in the chat
    for i in range(len(sent_at) - 20):
        assert sent_at[i + 20] - sent_at[i] >= 60.0  # twenty a minute in the group
    # ...and no slower than that: 45 messages need two full minutes plus the last burst.
    assert sent_at[-1] - sent_at[0] < 2 * 60 + 6


def test_pacing_is_stored_with_the_chat_so_another_instance_keeps_the_pace() -> None:
    from bot.pacing import ChatPacer, Window

    clock = VirtualTime()
    first = ChatPacer([Window(RateLimit(3, 10.0))], None, clock.now, clock.sleep)
    for _ in range(3):
        asyncio.run(first.acquire())
        first.done(clock.now())
    # The chat moves to another instance, which starts from the stored history.
    second = ChatPacer([Window(RateLimit(3, 10.0), first.history())], None, clock.now, clock.sleep)
    before = clock.now()
    asyncio.run(second.acquire())
    assert clock.now() - before >= 10.0 - 0.01


def test_an_instance_share_of_the_overall_limit() -> None:
    from bot.pacing import share

    assert share(RateLimit(30, 1), 1) == 30
    assert share(RateLimit(30, 1), 2) == 15
    assert share(RateLimit(30, 1), 4) == 7
    assert share(RateLimit(1, 1), 5) == 1


async def test_pacing_never_exceeds_the_limit_as_the_platform_counts_whatever_the_delays() -> None:
    """The platform counts arrivals; our tokens count from answers. With random delays
    on the way there and back, no window ever holds more than the limit, and the rate
    stays within a few per cent of it."""
    import random

    from bot.pacing import ChatPacer, Window

    rng = random.Random(7)
    clock = SimTime()
    limit = RateLimit(20, 1.0)
    shared = Window(limit)
    arrivals: list[float] = []

    async def sender(n: int) -> None:
        pacer = ChatPacer([], shared, clock.now, clock.sleep)
        for _ in range(n):
            await pacer.acquire()
            there, back = rng.uniform(0.001, 0.05), rng.uniform(0.001, 0.05)
            arrivals.append(clock.now() + there)
            await clock.sleep(there + back)
            pacer.done(clock.now())

    await clock.run(*(sender(60) for _ in range(5)))
    arrivals.sort()
    for i in range(len(arrivals) - limit.count):
        assert arrivals[i + limit.count] - arrivals[i] > limit.seconds - 1e-9
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert rate >= 0.9 * limit.count / limit.seconds


def hold_sends(kit: Kit) -> tuple[asyncio.Event, asyncio.Event]:
    """Sends wait at a gate from now on: `entered` is set when one is inside, `gate`
    lets them all go on."""
    gate, entered = asyncio.Event(), asyncio.Event()
    plain_send = kit.channel.send

    async def held_send(chat_id: str, message: Outbound) -> object:
        entered.set()
        await gate.wait()
        return await plain_send(chat_id, message)

    kit.channel.send = held_send  # type: ignore[method-assign]
    return gate, entered


async def test_a_send_answered_late_still_frees_its_token_only_when_answered() -> None:
    from bot.pacing import ChatPacer, Window

    clock = VirtualTime(0.0)
    pacer = ChatPacer([Window(RateLimit(1, 1.0))], None, clock.now, clock.sleep)
    await pacer.acquire()
    clock.advance(5.0)  # a slow answer
    pacer.done(clock.now())
    start = clock.now()
    await pacer.acquire()
    assert clock.now() - start >= 1.0


async def test_a_chat_whose_lease_lapsed_under_its_own_worker_keeps_that_one_worker(
    kit: Kit,
) -> None:
    """The database was too slow to renew the lease in time, so the chat looks free and
    this same relay claims it again: no second worker may start on it (it would send
    the same messages again)."""
    gate, entered = hold_sends(kit)
    for i in range(3):
        await kit.add(GROUP, f"m{i}")
    assert [c.key.chat_id for c in await kit.relay._claim_more()] == [GROUP]
    await asyncio.wait_for(entered.wait(), 5)  # the worker is inside its first send

    past = datetime.fromtimestamp(kit.time.now() - 1, UTC)
    async with kit.container.engine.begin() as conn:
        await conn.execute(sa.update(t.outbox_chats).values(lease_until=past))
    assert await kit.relay._claim_more() == []  # ours already: no second worker
    assert len(kit.relay._workers) == 1

    gate.set()
    tasks = [w.task for w in kit.relay._workers.values() if w.task is not None]
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1", "m2"]


async def test_rows_stored_before_outbound_had_a_language_or_summary_are_delivered(
    kit: Kit,
) -> None:
    """Payloads written by the version before: none of the newer keys (`lang`, `summary`)."""
    stored = [
        {"text": "card v1", "buttons": [], "reply_to": None, "claim_ref": "PL-1"},
        {"text": "card v2", "buttons": [], "reply_to": None, "claim_ref": None},
    ]
    for payload in stored:
        async with kit.container.uow() as uow:
            await uow.outbox.add(
                OutboxItem(channel="telegram", chat_id=GROUP, payload=payload, card_key="case:1")
            )
            await uow.commit()
        await kit.relay.drain()
    assert [(c.op, c.text, c.ok) for c in kit.channel.calls] == [
        ("send", "card v1", True),
        ("edit", "card v2", True),
    ]
    assert [r.status for r in await kit.rows()] == ["sent", "sent"]


async def test_claiming_chats_reads_each_ones_queue_as_the_queue_would(kit: Kit) -> None:
    """The claim's transaction reads the first messages of every chat it leases, the same
    rows (and card facts) a read of the chat's queue gives, at most `read` of each."""
    await kit.add(GROUP, "card v1", card_key="case:1")
    await kit.add(GROUP, "card v2", card_key="case:1")  # the first is superseded
    await kit.add(GROUP, "g3")
    for n in range(6):
        await kit.add(OTHER_GROUP, f"o{n}")
    store = kit.container.store
    at = datetime.fromtimestamp(kit.time.now(), UTC)
    claims = await store.claim_chats("me", at, at.replace(year=at.year + 1), 10, read=4)
    assert {c.key.chat_id for c in claims} == {GROUP, OTHER_GROUP}
    for claim in claims:
        assert list(claim.queue) == await store.queue(claim.key, 4)
    by_chat = {c.key.chat_id: [r.payload["text"] for r in c.queue] for c in claims}
    assert by_chat == {GROUP: ["card v1", "card v2", "g3"], OTHER_GROUP: ["o0", "o1", "o2", "o3"]}
    (group,) = [c for c in claims if c.key.chat_id == GROUP]
    assert [r.superseded for r in group.queue] == [True, False, False]
    unread = await store.claim_chats("other", at, at, 10)
    assert unread == []  # both leased


async def test_a_one_message_visit_costs_the_claim_the_start_and_the_record(kit: Kit) -> None:
    """The queue is read with the claim, and the record of the visit's last message gives
    the chat back: no transaction of its own for either."""
    await kit.add(GROUP, "hello")
    begun = 0

    def count(_conn: object) -> None:
        nonlocal begun
        begun += 1

    sa.event.listen(kit.container.engine.sync_engine, "begin", count)
    try:
        await kit.relay.drain()
    finally:
        sa.event.remove(kit.container.engine.sync_engine, "begin", count)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["hello"]
    # The claim with its queue, the start, the record with the release; then drain's
    # second claim, which finds nothing.
    assert begun == 4
    async with kit.container.engine.connect() as conn:
        chats = t.outbox_chats.c
        lease = (await conn.execute(sa.select(chats.lease_owner, chats.lease_until))).one()
    assert tuple(lease) == (None, None)


async def test_a_chat_claimed_again_as_its_worker_gives_it_back_is_given_back_again(
    kit: Kit,
) -> None:
    """A new message commits and this relay claims the chat between the record that gave it
    back and the end of the worker: the worker still on it must give it back again, else
    the new message waits for the lease to run out."""
    await kit.add(GROUP, "m0")
    store = kit.container.store
    plain = store.part_sent
    reclaimed: list[object] = []

    async def then_claimed(*args: Any, **kwargs: Any) -> None:
        await plain(*args, **kwargs)
        if kwargs.get("release") and not reclaimed:
            await kit.add(GROUP, "m1")
            reclaimed.append(await kit.relay._claim_more())

    store.part_sent = then_claimed  # type: ignore[method-assign]
    await kit.relay.drain()
    assert reclaimed == [[]]  # the chat was ours again, its worker not yet ended
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1"]  # no lease wait


async def test_a_batch_that_fills_the_read_keeps_the_chat_until_its_queue_is_empty(
    kit: Kit,
) -> None:
    relay = kit.new_relay(batch=2)
    for n in range(5):
        await kit.add(GROUP, f"m{n}")
    await relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == [f"m{n}" for n in range(5)]
    async with kit.container.engine.connect() as conn:
        owner = (await conn.execute(sa.select(t.outbox_chats.c.lease_owner))).scalar_one()
    assert owner is None


async def test_an_edit_in_place_writes_no_start_as_made_twice_it_shows_once(kit: Kit) -> None:
    await kit.add(GROUP, "card v1", card_key="case:1")
    await kit.relay.drain()
    store = kit.container.store
    starts: list[str] = []
    plain_begin, plain_record = store.begin_send, store.part_sent
    lost = 8  # every try to record the edit fails: as if the process died right after it

    async def noted(row: Any, at: datetime) -> None:
        starts.append(row.payload["text"])
        await plain_begin(row, at)

    async def recorded(*args: Any, **kwargs: Any) -> None:
        nonlocal lost
        if lost:
            lost -= 1
            raise ConnectionError("the database went away")
        await plain_record(*args, **kwargs)

    store.begin_send = noted  # type: ignore[method-assign]
    store.part_sent = recorded  # type: ignore[method-assign]
    await kit.add(GROUP, "card v2", card_key="case:1")
    await kit.relay.drain()
    assert [r.status for r in await kit.rows()] == ["sent", "pending"]
    kit.time.advance(60)
    await kit.relay.drain()
    assert [r.status for r in await kit.rows()] == ["sent", "sent"]
    assert starts == []  # neither edit wrote its start
    assert [(c.op, c.ok) for c in kit.channel.calls] == [
        ("send", True),
        ("edit", True),
        ("edit", False),  # "not modified": made again, shown once
    ]
    assert list(kit.channel.shown[GROUP].values()) == ["card v2"]
    assert kit.relay.metrics.uncertain.value("telegram") == 0


async def test_an_edit_that_posts_a_message_instead_writes_its_start(kit: Kit) -> None:
    """Where the channel cannot edit in place (Zalo), an edit posts a status message: made
    twice it would show twice, so its start is written as a send's."""

    class PostsEdits(ScriptedChannel):
        @property
        def capabilities(self) -> Capabilities:
            return Capabilities(buttons=False, edits=False, max_text=self.max_text)

    kit.channel = PostsEdits()
    relay = kit.new_relay()
    await kit.add(GROUP, "card v1", card_key="case:1")
    await relay.drain()
    starts: list[str] = []
    plain = kit.container.store.begin_send

    async def noted(row: Any, at: datetime) -> None:
        starts.append(row.payload["text"])
        await plain(row, at)

    kit.container.store.begin_send = noted  # type: ignore[method-assign]
    await kit.add(GROUP, "card v2", card_key="case:1")
    await relay.drain()
    assert [c.op for c in kit.channel.calls] == ["send", "edit"]
    assert starts == ["card v2"]


async def test_a_visit_wakes_the_relay_at_its_end_only_when_a_claim_came_meanwhile(
    kit: Kit,
) -> None:
    """Nothing claimed while the chat was ours: a message written since woke a claim that
    comes after the chat was given back, so the visit's end claims nothing more. A claim
    that came meanwhile may have found the chat leased: then the end wakes the relay."""
    relay = kit.relay
    await kit.add(GROUP, "m0")
    assert [c.key.chat_id for c in await relay._claim_more()] == [GROUP]
    relay._changed.clear()
    await asyncio.wait_for(asyncio.gather(*[w.task for w in relay._workers.values() if w.task]), 10)
    assert not relay._changed.is_set()

    gate, entered = hold_sends(kit)
    await kit.add(GROUP, "m1")
    assert [c.key.chat_id for c in await relay._claim_more()] == [GROUP]
    await asyncio.wait_for(entered.wait(), 5)
    await kit.add(GROUP, "m2")  # its wake's claim finds the chat leased
    assert await relay._claim_more() == []
    relay._changed.clear()
    gate.set()
    await asyncio.wait_for(asyncio.gather(*[w.task for w in relay._workers.values() if w.task]), 10)
    assert relay._changed.is_set()
    await relay.drain()
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["m0", "m1", "m2"]
