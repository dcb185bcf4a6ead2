"""Issue 15, item 6: a group bound by mistake (the bot is not in it) gives the team's
leads one warning that names the group, however many cases fail to reach it."""

from __future__ import annotations

import pytest

from bot.domain.people import ChatBinding
from tests.e2e.conftest import Stage, new_connection
from tests.e2e.fieldkit import LANGS, tr
from tests.e2e.test_next_person import opening, speak

#: A group id on each channel that no chat of the sandbox has.
WRONG = {"telegram": "-100424242", "zalo": "9f9f9f9f9f9f9f9f9f9f"}


@pytest.mark.parametrize("lang", LANGS)
async def test_a_wrong_group_is_named_once_to_the_lead(stage: Stage, lang: str) -> None:
    await speak(stage, stage.lead, lang)
    channel = stage.lead.channel
    wrong = WRONG[channel]
    async with stage.container.uow() as uow:
        await uow.teams.bind_chat("PL", ChatBinding(channel, wrong))
        await uow.commit()
    refs = []
    for n in range(3):
        _, body = await stage.intake(new_connection(f"TTHCC-PL-2026-0090{n}"))
        refs.append(str(body["ref"]))
    first = opening(lang, "relay.team_chat_undeliverable", team="PL", name="Phủ Lý")
    warning = await stage.phone(stage.lead).wait_for(stage.lead.user_id, first)
    assert wrong in warning.body and f"--chat {wrong}" in warning.body
    await stage.settled()
    said = await stage.phone(stage.lead).messages(stage.lead.user_id)
    warnings = [m for m in said if m.from_bot and m.body.startswith(first)]
    assert len(warnings) == 1, [m.body for m in warnings]
    assert tr(lang, "relay.undeliverable", ref=refs[1], who="Phủ Lý") not in [m.body for m in said]
