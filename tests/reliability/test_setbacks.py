"""The relay's setbacks one rule at a time (scripted channel, virtual time): a message that
keeps failing is given up within its bounds only while the platform otherwise works, and
a refused token keeps every message."""

from __future__ import annotations

import sqlalchemy as sa

from bot.channels.base import TransientFailure
from bot.channels.refusals import Outcome, Refusal, TokenRefused, classify
from bot.relay_setbacks import GiveUpRule
from storage import tables as t
from tests.reliability.test_relay import GROUP, OTHER_GROUP, Kit
from tests.reliability.test_relay import kit as kit  # the fixture

FAILING = TransientFailure("500 Internal Server Error")


class Health:
    """A stand-in for bot.channel_health: whether getMe answers, and pauses asked for."""

    probe_seconds = 60.0

    def __init__(self, answers: bool) -> None:
        self.works = answers
        self.asked = 0
        self.paused: list[str] = []

    async def answers(self, channel: str) -> bool:
        self.asked += 1
        return self.works

    def is_paused(self, channel: str) -> bool:
        return channel in self.paused

    async def token_refused(self, channel: str, reason: str) -> None:
        self.paused.append(channel)


async def statuses(kit: Kit) -> list[str]:
    async with kit.container.engine.connect() as conn:
        rows = await conn.execute(sa.select(t.outbox.c.status).order_by(t.outbox.c.id))
        return [r.status for r in rows]


async def drain_for(kit: Kit, seconds: float) -> None:
    """Drain again and again while `seconds` of virtual time pass."""
    end = kit.time.now() + seconds
    while kit.time.now() < end:
        await kit.relay.drain()
        kit.time.advance(0.5)


async def test_a_message_failing_while_the_platform_works_is_given_up_within_two_minutes(
    kit: Kit,
) -> None:
    relay = kit.new_relay(give_up=GiveUpRule(attempts=100, seconds=120))
    kit.relay = relay
    health = Health(answers=True)
    relay.setbacks.health = health  # type: ignore[assignment]
    await kit.add(GROUP, "stuck")
    await kit.add(GROUP, "next")
    kit.channel.fail(GROUP, *[FAILING] * 100)
    start = kit.time.now()
    await drain_for(kit, 119)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == []
    kit.channel.failures[GROUP] = [FAILING] * 100  # still failing at the bound...
    await drain_for(kit, 3)
    # ... and given up on the dot; the chat goes on (the next one fails too: its own turn).
    assert (await statuses(kit))[0] == "failed"
    assert kit.time.now() - start <= 123
    assert health.asked >= 1
    assert relay.metrics.given_up.value("telegram", "given_up") == 1


async def test_nothing_is_given_up_while_the_platform_does_not_answer_at_all(kit: Kit) -> None:
    relay = kit.new_relay(give_up=GiveUpRule(attempts=3, seconds=120))
    kit.relay = relay
    relay.setbacks.health = Health(answers=False)  # type: ignore[assignment]
    await kit.add(GROUP, "a")
    kit.channel.fail(GROUP, *[FAILING] * 6)
    await drain_for(kit, 300)
    assert await statuses(kit) == ["sent"]  # it waited out the outage, then went
    assert relay.metrics.given_up.total() == 0


async def test_another_chat_s_success_proves_the_platform_works(kit: Kit) -> None:
    relay = kit.new_relay(give_up=GiveUpRule(attempts=2, seconds=120))
    kit.relay = relay
    health = Health(answers=False)  # never asked: the other chat's send says enough
    relay.setbacks.health = health  # type: ignore[assignment]
    await kit.add(GROUP, "stuck")
    await kit.add(GROUP, "next")
    kit.channel.fail(GROUP, FAILING, FAILING)
    await relay.drain()
    await kit.add(OTHER_GROUP, "fine")
    await drain_for(kit, 10)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["next"]
    assert await statuses(kit) == ["failed", "sent", "sent"]
    assert health.asked == 0


async def test_a_refused_token_pauses_and_counts_no_attempt(kit: Kit) -> None:
    relay = kit.relay
    health = Health(answers=True)
    relay.setbacks.health = health  # type: ignore[assignment]
    await kit.add(GROUP, "a")
    await kit.add(GROUP, "b")
    kit.channel.fail(GROUP, TokenRefused("Unauthorized"))
    await relay.drain()
    assert health.paused == ["telegram"]
    async with kit.container.engine.connect() as conn:
        attempts = (await conn.execute(sa.select(t.outbox.c.attempts))).scalars().all()
    assert attempts == [0, 0] and await statuses(kit) == ["pending", "pending"]
    await drain_for(kit, 30)  # paused: its chats are left alone
    assert kit.channel.sent_to(GROUP) == []
    health.paused.clear()
    await drain_for(kit, 6)
    assert [c.text for c in kit.channel.sent_to(GROUP)] == ["a", "b"]


def test_the_table_reads_telegram_s_and_a_proxy_s_answers() -> None:
    cases = [
        (Refusal(429, "Too Many Requests: retry after 5", {"retry_after": 5}), Outcome.RETRY_AFTER),
        (
            Refusal(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": -1001},
            ),
            Outcome.CHAT_MOVED,
        ),
        (Refusal(401, "Unauthorized"), Outcome.TOKEN_REFUSED),
        (Refusal(404, "Not Found"), Outcome.TOKEN_REFUSED),
        (
            Refusal(403, "Forbidden: bot can't initiate conversation with a user"),
            Outcome.PERSON_UNREACHABLE,
        ),
        (Refusal(403, "Forbidden: bot was blocked by the user"), Outcome.PERSON_UNREACHABLE),
        (Refusal(403, "Forbidden: bot was kicked from the group chat"), Outcome.CHAT_REFUSES),
        (Refusal(400, "Bad Request: chat not found"), Outcome.CHAT_REFUSES),
        (Refusal(400, "Bad Request: message is not modified: ..."), Outcome.NOT_MODIFIED),
        (Refusal(400, "Bad Request: message to edit not found"), Outcome.MESSAGE_GONE),
        (Refusal(400, "Bad Request: can't parse entities"), Outcome.REJECTED),
        (Refusal(413, "HTTP 413, not Telegram's answer: <html>", json=False), Outcome.REJECTED),
        (Refusal(413, "Request Entity Too Large"), Outcome.REJECTED),
        (Refusal(502, "HTTP 502, not Telegram's answer: <html>", json=False), Outcome.TRANSIENT),
        (Refusal(500, "Internal Server Error"), Outcome.TRANSIENT),
        (Refusal(409, "Conflict: terminated by other getUpdates request"), Outcome.TRANSIENT),
        (Refusal(None, "Timed out"), Outcome.TRANSIENT),
    ]
    assert [classify(r) for r, _ in cases] == [o for _, o in cases]
