"""A worker the bot cannot write to first (issue 14, item 1), through the real adapters
against both sandboxes: his private message with the customer's phone is kept, not lost;
the team's group is told once, naming him, with the way to open the bot; everything kept
goes out in order as soon as he writes to the bot; what waits too long expires, told."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.domain.clock import FixedClock
from sandbox.client import SandboxClient
from sandbox.phones import Seen
from storage.held_store import HeldStore
from storage.outbox_model import DeliveryState
from storage.tables import OUTBOX
from tests.e2e.conftest import CAST, CHANNELS, Stage, meter_complaint, new_connection, running_stage
from tests.e2e.fieldkit import tr

BOT = "dispatch_sandbox_bot"
#: Each customer's full phone: only ever in the claimant's private chat.
PHONES = ("0912345678", "0987654321")
#: What a person who wants his messages types to the bot, per channel: Telegram's Start
#: button of the notice's link (`/start held`), or any words on Zalo.
OPENS = {"telegram": "/start held", "zalo": "chào bot"}


async def notices(s: Stage, channel: str, text: str) -> list[Seen]:
    return [m for m in await s.phones[channel].messages(s.groups[channel]) if text in m.body]


async def claimed_by_minh(s: Stage, ext: str, body: dict[str, object]) -> str:
    channel = s.minh.channel
    status, made = await s.intake(dict(body, external_ref=ext))
    assert status == 201, made
    ref = str(made["ref"])
    card = await s.card(channel, ref)
    await s.phone(s.minh).claim(s.minh, s.group(s.minh), card, ref)
    await s.card(channel, ref, contains="👷")
    return ref


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_worker_who_never_pressed_start_gets_his_messages_when_he_writes(
    channel: str, lang: str, database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(CAST, channel)
    async with running_stage(
        database_url, tmp_path, clock, where, unstarted=("minh",), team_lang=lang
    ) as s:
        phone, group = s.phone(s.minh), s.group(s.minh)
        first = await claimed_by_minh(s, "TTHCC-HELD-1", new_connection())
        said = tr(lang, "held.not_started", name="Minh")
        notice = await phone.wait_for(group, said)
        second = await claimed_by_minh(s, "TTHCC-HELD-2", meter_complaint())
        await s.settled()

        # Told once for both messages, naming him, with the way to open the bot.
        assert len(await notices(s, channel, said)) == 1
        if channel == "telegram":
            client = s.phones["telegram"].client
            assert isinstance(client, SandboxClient)
            shown = next(m for m in await client.messages(int(group)) if said in m.body)
            button = shown.button(tr(lang, "held.open_button"))
            assert button.url == f"https://t.me/{BOT}?start=held"
        else:
            assert tr(lang, "held.open_text", name="Minh") in notice.body
        group_text = await phone.transcript(group)
        assert not any(number in group_text for number in PHONES)  # never a phone there
        # Nothing reached him, nothing is lost: both are kept for him.
        private = [m for m in await phone.messages(s.minh.user_id) if m.from_bot]
        assert private == []
        kept = await HeldStore(s.container.engine).people()
        assert [(p.key.chat_id, p.name, p.count, p.reason) for p in kept] == [
            (s.minh.user_id, "Minh", 2, "not_started")
        ]

        # He opens the bot: both go out, oldest first, before the answer to what he typed.
        await phone.send(s.minh, s.minh.user_id, OPENS[channel])
        got_first = await phone.wait_for(s.minh.user_id, PHONES[0])
        got_second = await phone.wait_for(s.minh.user_id, PHONES[1])
        assert first in got_first.body and second in got_second.body
        assert got_first.index < got_second.index
        # Then the answer to what he typed: his update is handled to its end (the kept
        # messages may all be out before that answer is written).
        answer = await phone.wait_for(s.minh.user_id, "", after=got_second.index)
        await s.settled()
        private = [m for m in await phone.messages(s.minh.user_id) if m.from_bot]
        assert private[2].id == answer.id
        assert private[0].id == got_first.id and private[1].id == got_second.id
        assert not any(tr("vi", "invite.invalid.unknown") in m.body for m in private[2:])
        assert await HeldStore(s.container.engine).people() == []
        async with s.container.engine.connect() as conn:
            states = (await conn.execute(sa.select(OUTBOX.status).distinct())).scalars().all()
        assert set(states) <= {DeliveryState.SENT.value, DeliveryState.SUPERSEDED.value}
        # Still said once: the spell of waiting is over, nothing more was posted.
        assert len(await notices(s, channel, said)) == 1


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("why", ["blocked", "deactivated"])
async def test_blocked_or_deleted_accounts_have_their_words_and_expire_told(
    why: str, lang: str, database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(CAST, "telegram")
    async with running_stage(
        database_url, tmp_path, clock, where, team_lang=lang, held_message_hours=24
    ) as s:
        client = s.phones["telegram"].client
        assert isinstance(client, SandboxClient)
        minh = int(s.minh.user_id)
        await (client.block(minh) if why == "blocked" else client.deactivate(minh))
        status, made = await s.intake(new_connection("TTHCC-HELD-3"))
        assert status == 201, made
        ref = str(made["ref"])
        await s.card("telegram", ref)
        await s.say(s.lead, f"/assign {ref} @minh_pl")  # the lead gives him the case
        said = tr(lang, f"held.{why}", name="Minh", hours=24)
        await s.phone(s.minh).wait_for(s.group(s.minh), said)
        shown = next(m for m in await client.messages(int(s.group(s.minh))) if said in m.body)
        # A deleted account has nothing to open: no button, the lead has to act.
        assert bool(shown.buttons) == (why == "blocked")

        held = s.container.relay.held
        assert held is not None
        clock.advance(timedelta(hours=23))
        assert await held.expire(clock.now()) == []
        clock.advance(timedelta(hours=2))
        expired = await held.expire(clock.now())
        assert [(e.key.chat_id, e.count, e.refs) for e in expired] == [(s.minh.user_id, 1, (ref,))]
        gone = tr(lang, "held.expired", name="Minh", count=1, hours=24, refs=ref)
        await s.phone(s.minh).wait_for(s.group(s.minh), gone)
        assert await HeldStore(s.container.engine).people() == []
        assert await held.expire(clock.now()) == []  # told once
        await s.settled()
        assert len(await notices(s, "telegram", gone)) == 1


async def test_a_mixed_team_hears_it_in_each_group_as_that_group_can_show_it(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Minh on Telegram never pressed Start; the team's Zalo group has no buttons, so it
    gets the link as a line to tap."""
    where = {"lead": "telegram", "minh": "telegram", "hung": "zalo", "clerk": "zalo"}
    async with running_stage(database_url, tmp_path, clock, where, unstarted=("minh",)) as s:
        await claimed_by_minh(s, "TTHCC-HELD-4", new_connection())
        said = tr("vi", "held.not_started", name="Minh")
        link = f"https://t.me/{BOT}?start=held"
        await s.phones["telegram"].wait_for(s.groups["telegram"], said)
        on_zalo = await s.phones["zalo"].wait_for(s.groups["zalo"], said)
        assert tr("vi", "held.open_link", name="Minh", link=link) in on_zalo.body
        await s.settled()
        for channel in ("telegram", "zalo"):
            assert len(await notices(s, channel, said)) == 1
            assert PHONES[0] not in await s.phones[channel].transcript(s.groups[channel])
