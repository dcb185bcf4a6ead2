"""Rate limits: 200 intakes into one team while the sandbox enforces Telegram's limits.

The sandbox never has to answer 429, all 200 posts arrive once each, and the relay's
pacing waits no longer than the limit requires. The limits are settings on both sides, so
the test runs them higher than Telegram's 20 a minute (20 a second in the group) and takes
seconds, not ten minutes; the rule that keeps the relay under them does not depend on the numbers.

The first post is held (a stalled call) until all 200 cases are in, so what is measured
is the relay draining a backlog, not the speed of the intake calls.

The wall-clock rate is not asserted here: on a busy machine the relay's own work between
sends (not its pacing) sets it. That the pacing keeps 90 % of the limit's rate, and the
relay no slower than its limits, is shown in simulated time, where only the pacing counts
(tests/reliability/test_relay.py: `test_pacing_never_exceeds_the_limit_as_the_platform_…`
and `test_each_chat_keeps_to_its_limits_and_the_group_to_its_own`); here the seconds the
pacing made sends wait are bounded by what the limit requires, which a slower machine only
lowers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from sandbox.client import SandboxClient
from sandbox.telegram import Limit, RateLimits, TelegramSandbox
from tests.reliability.harness import (
    GROUP,
    TOKEN,
    Db,
    control,
    group_cards,
    intake_body,
    post_intake,
    running_bot,
    seed,
    wait_until,
)

POSTS = 200
GROUP_RATE = Limit(20, 1.0)


async def test_the_relay_never_makes_the_platform_answer_429_nor_waits_longer_than_needed(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path)
    limits = RateLimits(per_chat=Limit(40, 1.0), per_group=GROUP_RATE, overall=Limit(30, 1.0))
    async with (
        TelegramSandbox(token=TOKEN, rate_limits=limits) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        await client.add_chat(GROUP, type="supergroup", title="Đội PL")
        db = Db(db_url)
        async with (
            running_bot(
                db_url,
                tmp_path,
                sandbox.root_url,
                telegram_rate_per_chat="40/1",
                telegram_rate_per_group="20/1",
                telegram_rate_global="30/1",
                # The held post must not time out on the bot's side: the platform would
                # still carry it out when released, a send the relay no longer counts
                # (it would meet a 429 and wait, as it should, but not what this test shows).
                platform_timeout_seconds=120,
            ) as bot,
            aiohttp.ClientSession() as http,
        ):
            api = f"http://127.0.0.1:{bot.http_port}"
            await client.add_fault("stall", count=1, delay=120, methods=["sendMessage"])
            semaphore = asyncio.Semaphore(8)

            async def intake(i: int) -> None:
                async with semaphore:
                    status, _ = await post_intake(http, api, intake_body(f"RATE-{i:04d}"))
                    assert status == 201

            await asyncio.gather(*(intake(i) for i in range(POSTS)))
            await wait_until(
                lambda: pending_is(db, POSTS), timeout=30, what="all cases waiting to be posted"
            )
            await client.clear_faults()  # the held post goes; the backlog follows

            cards = await wait_until(
                lambda: all_cards(client),
                timeout=POSTS / GROUP_RATE.count * 3 + 30,
                what="200 posts",
            )
            assert all(n == 1 for n in cards.values())

            limits_seen = await control(sandbox.root_url, "GET", "limits")
            assert limits_seen["enforced"] and limits_seen["rejected"] == 0
            assert not [c for c in await client.calls() if c.error_code == 429]
            assert bot.relay.metrics.too_many_requests.total() == 0
            # 199 posts after the held one need 199 / 20 windows of waiting at most, plus
            # the window the held one's token is out for; the relay's work between sends
            # only shortens the waits.
            needed = (POSTS - 1) / GROUP_RATE.count * GROUP_RATE.seconds + GROUP_RATE.seconds
            waited = bot.relay.metrics.pacing_seconds.total()
            assert waited <= needed, f"waited {waited:.1f} s, the limit needs {needed:.1f} s"
        await db.close()


async def pending_is(db: Db, n: int) -> bool:
    return await db.pending() == n


async def all_cards(client: SandboxClient) -> dict[str, int] | None:
    cards = await group_cards(client)
    return cards if len(cards) == POSTS else None
