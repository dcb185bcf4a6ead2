"""Two `dispatchbot run` processes in webhook mode on one PostgreSQL database, behind one
load balancer and one webhook URL, as docs/operations.md describes.

- Mixed load: intakes through the balancer while workers race on the Claim buttons,
  their presses pushed by the sandbox to the webhook URL and spread over both instances.
  Each card is posted once, each claim has one winner, the winner alone gets the phone.
- Scheduler: reminders come from whichever instance holds the lock; `kill -9` of that
  instance moves the lock to the other, and every overdue case is reminded once.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.domain.model import Role
from sandbox.client import SandboxClient, SandboxUser
from sandbox.telegram import TelegramSandbox
from storage import tables as t
from tests.reliability.harness import (
    CARD_TITLE,
    GROUP,
    SECRET,
    TOKEN,
    WEBHOOK_URL,
    BotProcess,
    Db,
    Person,
    RetryingIntake,
    RoundRobin,
    bot_env,
    bot_messages,
    control,
    free_port,
    group_cards,
    intake_body,
    seed,
    wait_until,
)

LEAD = Person(3001, "Lan", Role.LEAD, "lan_pl")
WORKERS = [Person(3002 + i, f"Thợ {i}", Role.WORKER, f"tho_{i}") for i in range(6)]
CLAIMED = 30
OVERDUE = 8

#: Work around the clock, so reminders do not depend on when the test runs.
POLICY = """
[calendar]
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
windows = ["00:00-23:59"]
public_holidays = false

[reminders]
interval_minutes = 600
escalate_after = 5
stale_claim_hours = 0
"""

REMINDER = re.compile(r"^⏰ (\S+) quá hạn")


async def test_two_instances_share_the_work_and_hand_over_the_scheduler(
    pg_url: str, tmp_path: Path
) -> None:
    await seed(pg_url, tmp_path, [LEAD, *WORKERS])
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    rng = random.Random(4)
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        users = {
            p.user_id: await client.add_user(p.user_id, p.name, username=p.username)
            for p in [LEAD, *WORKERS]
        }
        await client.add_chat(
            GROUP, type="supergroup", title="Đội PL", members=list(users.values())
        )
        ports = [free_port(), free_port()]
        async with RoundRobin([f"http://127.0.0.1:{p}" for p in ports]) as lb:
            await control(
                sandbox.root_url,
                "POST",
                "webhook",
                {"deliver_to": f"{lb.url}/telegram/webhook", "retry_seconds": 0.2},
            )
            bots = [
                BotProcess(
                    name,
                    bot_env(
                        db_url=pg_url,
                        sandbox=sandbox.root_url,
                        port=port,
                        name=name,
                        telegram_mode="webhook",
                        telegram_webhook_url=WEBHOOK_URL,
                        telegram_webhook_secret=SECRET,
                        reminder_interval_seconds=0.5,
                        scheduler_lock_check_seconds=0.5,
                        policy_file=policy,
                    ),
                    tmp_path / name,
                )
                for name, port in zip(("a", "b"), ports, strict=True)
            ]
            db = Db(pg_url)
            try:
                await asyncio.gather(*(b.start() for b in bots))

                # ---------------------------------------------------------- mixed load
                desk = RetryingIntake(lambda: lb.url)
                intakes = asyncio.create_task(
                    desk.send_all([intake_body(f"TWO-{i:03d}") for i in range(CLAIMED)], 4)
                )
                pressed = await race_for_cards(client, users, CLAIMED, rng)
                await intakes
                await wait_until(lambda: all_claimed(db, CLAIMED), timeout=60, what="every claim")
                await wait_until(lambda: drained(db), timeout=60, what="the outbox to drain")

                assert set(lb.served) == {b.url for b in bots}, "both instances took updates"
                claims = await db.rows(
                    sa.select(t.cases.c.ref, sa.func.count())
                    .select_from(
                        t.case_events.join(t.cases, t.cases.c.id == t.case_events.c.case_id)
                    )
                    .where(t.case_events.c.action == "claim")
                    .group_by(t.cases.c.ref)
                )
                assert len(claims) == CLAIMED and all(n == 1 for _ref, n in claims)
                owners = {
                    r.ref: int(r.assignee.split(":")[1])
                    for r in await db.rows(sa.select(t.cases.c.ref, t.cases.c.assignee))
                }
                cards = await group_cards(client)
                assert set(cards) == set(owners) and all(n == 1 for n in cards.values())
                for card in await bot_messages(client, GROUP):
                    if not CARD_TITLE.match(card.body):
                        continue  # the morning digest, when the test runs after its time
                    ref = card.body.split(" ")[1]
                    winner = users[owners[ref]]
                    assert card.body.endswith(f"👷 Người làm: @{winner.username}")
                for ref, presser_ids in pressed.items():
                    assert owners[ref] in presser_ids
                    for uid in presser_ids:
                        contacts = [
                            m
                            for m in await bot_messages(client, uid)
                            if m.body.startswith(f"Bạn đã nhận {ref} ·")
                        ]
                        assert len(contacts) == (1 if uid == owners[ref] else 0), (ref, uid)
                answers = [c for c in await client.calls("answerCallbackQuery") if c.ok]
                assert len(answers) == sum(len(p) for p in pressed.values())

                # ---------------------------------------------------------- scheduler
                leader = await wait_until(lambda: the_leader(bots), timeout=30, what="one leader")
                other = bots[1 - bots.index(leader)]
                late = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
                first = [intake_body(f"LATE-{i:03d}", received_at=late) for i in range(OVERDUE)]
                second = [intake_body(f"LATER-{i:03d}", received_at=late) for i in range(OVERDUE)]
                await desk.send_all(first, 4)
                first_refs = {desk.answers[b["external_ref"]][1] for b in first}
                await wait_until(
                    lambda: reminded(client, first_refs), timeout=30, what="the first reminders"
                )
                await desk.send_all(second, 4)
                leader.kill()  # perhaps in the middle of its pass
                await leader.wait()
                second_refs = {desk.answers[b["external_ref"]][1] for b in second}
                assert await wait_until(
                    lambda: the_leader([other]), timeout=30, what="a new leader"
                )
                await wait_until(
                    lambda: reminded(client, first_refs | second_refs),
                    timeout=60,
                    what="every reminder after the handover",
                )
                await wait_until(lambda: drained(db), timeout=60, what="the outbox to drain")

                counts = Counter(
                    m.group(1)
                    for msg in await bot_messages(client, GROUP)
                    if (m := REMINDER.match(msg.body))
                )
                uncertain = await db.uncertain_refs()
                for ref in first_refs | second_refs:
                    assert counts[ref] == 1 or (counts[ref] == 2 and ref in uncertain), ref
                reminders_in_db = await db.rows(
                    sa.select(t.cases.c.ref, t.cases.c.reminder_count).where(
                        t.cases.c.ref.in_(first_refs | second_refs)
                    )
                )
                assert all(r.reminder_count == 1 for r in reminders_in_db)
                cards = await group_cards(client)
                doubled = {ref for ref, n in cards.items() if n != 1}
                assert doubled <= uncertain

                # The killed instance comes back as a standby: still one leader.
                await leader.start()
                await asyncio.sleep(0)  # let it check the lock at least once
                await wait_until(lambda: checked_lock(leader), timeout=20, what="a lock check")
                assert [await b.metric("dispatch_scheduler_leader") for b in bots].count(1.0) == 1

                for b in bots:
                    assert await b.terminate() == 0
            finally:
                for b in bots:
                    await b.stop_quietly()
                await db.close()


async def race_for_cards(
    client: SandboxClient, users: dict[int, SandboxUser], n: int, rng: random.Random
) -> dict[str, set[int]]:
    """As each card appears, three workers press its Claim button at once."""
    pressed: dict[str, set[int]] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while len(pressed) < n:
        assert loop.time() < deadline, f"only {len(pressed)} cards appeared"
        for card in await bot_messages(client, GROUP):
            ref = card.body.split(" ")[1] if card.body.startswith("📋 ") else None
            if ref is None or ref in pressed or not card.buttons:
                continue
            crowd = rng.sample(WORKERS, 3)
            pressed[ref] = {p.user_id for p in crowd}
            button = card.buttons[0]
            await asyncio.gather(
                *(
                    client.press(
                        users[p.user_id], GROUP, card.message_id, button.callback_data or ""
                    )
                    for p in crowd
                )
            )
        await asyncio.sleep(0.05)
    return pressed


async def all_claimed(db: Db, n: int) -> bool:
    taken = await db.scalar(
        sa.select(sa.func.count()).select_from(t.cases).where(t.cases.c.assignee.is_not(None))
    )
    return int(taken) == n


async def drained(db: Db) -> bool:
    return await db.pending() == 0


async def the_leader(bots: list[BotProcess]) -> BotProcess | None:
    leading = [b for b in bots if await b.metric("dispatch_scheduler_leader") == 1.0]
    return leading[0] if len(leading) == 1 else None


async def checked_lock(bot: BotProcess) -> bool:
    return await bot.metric("dispatch_scheduler_leader") is not None


async def reminded(client: SandboxClient, refs: set[str]) -> bool:
    seen = {
        m.group(1) for msg in await bot_messages(client, GROUP) if (m := REMINDER.match(msg.body))
    }
    return refs <= seen
