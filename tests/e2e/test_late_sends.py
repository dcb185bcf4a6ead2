"""A card the platform posted after the bot stopped waiting (issue 14, item 5), through the
real Telegram adapter and the sandbox, which stalls a send and then carries it out.

Either the late answer comes before the relay sent the card again (then that answer is
its delivery: one card), or after (then both copies are known: a press on the extra copy
acts on the case, and both copies show what happened)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.clock import FixedClock
from sandbox import FaultKind, SandboxClient
from sandbox.client import ChatMessage
from tests.e2e.conftest import CAST, GROUP, Stage, new_connection, running_stage
from tests.e2e.fieldkit import tr
from tests.reliability.harness import wait_until

#: The adapter stops waiting for an answer after this many seconds; the relay then tries
#: again after 0.5 to 1 s (its first backoff).
TIMEOUT = 0.5


async def cards(client: SandboxClient, ref: str) -> list[ChatMessage]:
    return [m for m in await client.messages(GROUP) if (m.text or "").startswith(f"📋 {ref} ")]


def client_of(s: Stage) -> SandboxClient:
    client = s.phones["telegram"].client
    assert isinstance(client, SandboxClient)
    return client


async def late_outcomes(s: Stage) -> None:
    """Every late answer the relay's channels were waiting for is recorded."""
    for channel in s.container.relay.channels.values():
        settled = getattr(channel, "settled", None)
        if settled is not None:
            await settled()


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_card_posted_after_its_timeout_and_again_has_both_copies_kept_up(
    lang: str, database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(CAST, "telegram")
    async with running_stage(
        database_url, tmp_path, clock, where, team_lang=lang, platform_timeout_seconds=TIMEOUT
    ) as s:
        client = client_of(s)
        # The first post of the card hangs 2 s, then Telegram carries it out anyway: after
        # the relay posted it again, within the adapter's bound on a call (5 × 0.5 s).
        await client.add_fault(FaultKind.STALL, count=1, delay=2.0, methods=["sendMessage"])
        status, made = await s.intake(new_connection())
        assert status == 201
        ref = str(made["ref"])

        async def two_cards() -> list[ChatMessage] | None:
            found = await cards(client, ref)
            return found if len(found) == 2 else None

        again, late = await wait_until(two_cards, timeout=10, what="both copies of the card")
        assert late.message_id > again.message_id  # the stalled post came last
        await late_outcomes(s)
        await s.settled()

        # A press on the extra copy acts on the case ...
        minh = int(s.minh.user_id)
        pressed = await client.press(
            minh, GROUP, late.message_id, late.button(tr(lang, "button.claim")).callback_data or ""
        )
        await client.wait_for_answer(pressed)
        case = await s.case(ref)
        assert case["status"] == "claimed" and case["assignee"] == s.minh.uid

        # ... and both copies show it: neither offers the claim any more.
        async def both_edited() -> list[ChatMessage] | None:
            found = await cards(client, ref)
            done = [m for m in found if "@minh_pl" in (m.text or "") and not m.buttons]
            return found if len(done) == 2 else None

        both = await wait_until(both_edited, timeout=10, what="both copies edited")
        assert {m.message_id for m in both} == {again.message_id, late.message_id}
        assert all(m.edited for m in both)
        said = tr(lang, "held.not_started", name="Minh")  # nobody was kept waiting here
        assert not any(said in (m.text or "") for m in await client.messages(GROUP))


async def test_a_card_answered_late_before_the_retry_is_posted_once(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(CAST, "telegram")
    async with running_stage(
        database_url, tmp_path, clock, where, platform_timeout_seconds=TIMEOUT
    ) as s:
        client = client_of(s)
        # Telegram answers 0.2 s after the adapter gave up, before the relay tries again.
        await client.add_fault(
            FaultKind.STALL, count=1, delay=TIMEOUT + 0.2, methods=["sendMessage"]
        )
        status, made = await s.intake(new_connection())
        assert status == 201
        ref = str(made["ref"])
        (card,) = await wait_until(lambda: cards(client, ref), timeout=10, what="the card")
        await late_outcomes(s)
        await s.settled()
        assert len(await cards(client, ref)) == 1  # recorded as delivered, never repeated
        sends = [c for c in await client.calls("sendMessage") if c.ok]
        assert len(sends) == 1

        # The one card is the one edited when the case moves on.
        await s.say(s.minh, f"/claim {ref}")

        async def edited() -> ChatMessage | None:
            found = await cards(client, ref)
            return found[0] if len(found) == 1 and "@minh_pl" in (found[0].text or "") else None

        shown = await wait_until(edited, timeout=10, what="the card edited")
        assert shown.message_id == card.message_id and shown.edited
