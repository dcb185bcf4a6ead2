"""Lists that fit a phone: ten cases a page, one button each; groups stay readable."""

from __future__ import annotations

import pytest

from bot.i18n import Lang
from tests.e2e.conftest import GROUP, System, new_connection
from tests.e2e.fieldkit import LANGS, assert_catalogued, bot_message, press, speak, tr


@pytest.fixture(params=LANGS)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_open_cases_come_ten_a_page_with_a_button_each(system: System, lang: str) -> None:
    s = system
    await speak(s, s.lead, lang)
    refs = []
    for n in range(12):
        _, body = await s.intake(new_connection(f"EXT-{n}"))
        refs.append(body["ref"])
    await s.settled()
    first = await s.say(s.lead, "/open")
    title = tr(lang, "list.open_title", count=12)
    assert first.body.split("\n")[0] == tr(lang, "list.page", title=title, page=1, pages=2)
    case_buttons = [b for b in first.buttons if b.text.startswith("📋 ")]
    assert [b.text.split(" · ")[0] for b in case_buttons] == [f"📋 {r}" for r in refs[:10]]
    assert [b.text for b in first.buttons if not b.text.startswith("📋 ")] == [
        tr(lang, "list.next")
    ]
    await press(s, s.lead, first, tr(lang, "list.next"))
    second = await bot_message(
        s, GROUP, after=first.message_id, button=tr(lang, "list.prev"), contains="2/2"
    )
    assert [b.text.split(" · ")[0] for b in second.buttons if b.text.startswith("📋")] == [
        f"📋 {r}" for r in refs[10:]
    ]
    await press(s, s.lead, second, f"📋 {refs[11]}")
    shown = await bot_message(s, GROUP, after=second.message_id, contains=tr(lang, "history.title"))
    assert shown.body.startswith(f"📋 {refs[11]} · ")
    await s.settled()
    await assert_catalogued(s.client, {GROUP: None}, where=f"[{lang}]")


async def test_mine_is_compact_and_case_offers_the_next_step_privately(
    system: System, lang: str
) -> None:
    s = system
    minh = s.minh
    await speak(s, minh, lang)
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.say(minh, f"/claim {ref}")
    mine = await s.say(minh, "/mine", chat=minh.id)
    assert mine.body.split("\n")[0] == tr(lang, "list.mine_title", count=1)
    assert [b.text for b in mine.buttons] == [
        tr(lang, "list.button", ref=ref, status=tr(lang, "status.claimed"))
    ]
    await press(s, minh, mine, f"📋 {ref}")
    card = await bot_message(s, minh.id, after=mine.message_id, button=tr(lang, "button.survey"))
    assert card.body.startswith(f"📋 {ref} · ")
    await s.settled()
    await assert_catalogued(s.client, {minh.id: Lang(lang)}, where=f"[{lang}]")


async def test_commands_addressed_to_the_bot_by_name_work_and_others_are_left_alone(
    system: System,
) -> None:
    s = system
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card(ref)
    ignored = await s.client.send_text(s.minh, GROUP, f"/claim@some_other_bot {ref}")
    reply = await s.say(s.minh, f"/claim@dispatch_sandbox_bot {ref}")
    assert reply.body == tr("vi", "reply.claimed", ref=ref, name="Minh")
    await s.settled()
    assert not [m for m in await s.client.messages(GROUP) if m.reply_to == ignored.message_id]
    # The group hears only what concerns it: the card (edited in place) and the answer.
    said = [m for m in await s.client.messages(GROUP) if m.from_bot]
    assert len(said) == 2
