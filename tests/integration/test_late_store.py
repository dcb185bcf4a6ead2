"""Late answers on SQLite and PostgreSQL: the delivery of a message still waiting, or an
extra copy known with its case and found again when the card is edited."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.domain.clock import FixedClock
from storage import tables
from storage.late_store import EXTRA, LateOutcome, LateStore
from storage.outbox_model import ChatKey, DeliveryState
from storage.tables import CHAT_MESSAGES, OUTBOX
from tests.conftest import make_settings

CHAT = ChatKey("telegram", "-1001")


async def test_a_late_answer_delivers_a_waiting_message_or_is_an_extra_copy(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock)
    try:
        store, late = container.store, LateStore(container.engine)
        for n in (1, 2):
            async with container.engine.begin() as conn:
                await conn.execute(
                    sa.insert(tables.outbox).values(
                        channel=CHAT.channel,
                        chat_id=CHAT.chat_id,
                        payload={"text": f"📋 PL-{n}"},
                        card_key=f"case:{n}",
                        status=DeliveryState.PENDING.value,
                        attempts=0,
                        not_before=clock.now(),
                        created_at=clock.now(),
                    )
                )
        first, second = await store.queue(CHAT)
        assert await late.in_flight(CHAT) is None

        # PL-1: the send under way times out; its answer comes before any retry.
        await store.begin_send(first, clock.now())
        flight = await late.in_flight(CHAT)
        assert flight is not None and flight.row_id == first.id and flight.parts_sent == 0
        await store.retry(first, clock.now(), "no answer")
        assert await late.arrived(flight, ["41"], clock.now(), last=True) is LateOutcome.DELIVERED
        assert [r.id for r in await store.queue(CHAT)] == [second.id]  # never sent again
        assert await store.card_message("case:1", CHAT.channel, CHAT.chat_id) == "41"

        # PL-2: its answer comes after the retry posted it again (id 43).
        await store.begin_send(second, clock.now())
        flight = await late.in_flight(CHAT)
        assert flight is not None and flight.row_id == second.id
        await store.mark_sent(second, ["43"], clock.now(), new_card=True)
        assert await late.arrived(flight, ["42"], clock.now(), last=True) is LateOutcome.EXTRA_COPY
        # The card is still the retry's; the late one is its extra copy, with the case.
        assert await store.card_message("case:2", CHAT.channel, CHAT.chat_id) == "43"
        assert await late.extra_copies(CHAT, "43") == ["42"]
        assert await late.extra_copies(CHAT, "42") == []
        assert await late.extra_copies(CHAT, "41") == []
        async with container.engine.connect() as conn:
            extra = (
                await conn.execute(
                    sa.select(CHAT_MESSAGES.case_id, CHAT_MESSAGES.card_key).where(
                        CHAT_MESSAGES.message_id == "42"
                    )
                )
            ).one()
            states = dict((await conn.execute(sa.select(OUTBOX.id, OUTBOX.status))).all())
        assert extra.card_key == f"case:2{EXTRA}"
        assert states == {first.id: "sent", second.id: "sent"}
    finally:
        await container.close()
