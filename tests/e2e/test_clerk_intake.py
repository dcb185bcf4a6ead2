"""A clerk files cases from the private chat: `/new`, or by forwarding a customer's message.

Each form asks one thing at a time, refuses a bad phone number on the spot, and the
new case is posted to its team's group like one from the intake API.
"""

from __future__ import annotations

import pytest

from bot.i18n import Lang
from tests.e2e.conftest import GROUP, System
from tests.e2e.fieldkit import LANGS, assert_catalogued, bot_message, press, speak, tr


@pytest.fixture(params=LANGS)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def answer(s: System, text: str, expect: str) -> None:
    """The clerk types `text`; the bot asks the next question (containing `expect`)."""
    typed = await s.client.send_text(s.clerk, s.clerk.id, text)
    await bot_message(s, s.clerk.id, after=typed.message_id, contains=expect)


async def test_a_clerk_files_a_case_with_new_and_it_is_posted_to_the_team(
    system: System, lang: str
) -> None:
    s = system
    clerk = s.clerk
    await speak(s, clerk, lang)
    typed = await s.client.send_text(clerk, clerk.id, "/new")
    kinds = await bot_message(
        s, clerk.id, after=typed.message_id, contains=tr(lang, "form.ask.kind")
    )
    assert kinds.body.startswith(tr(lang, "form.title_new"))
    await press(s, clerk, kinds, tr(lang, "kind.new_connection"))
    teams = await bot_message(
        s, clerk.id, after=kinds.message_id, contains=tr(lang, "form.ask.team")
    )
    await press(s, clerk, teams, tr(lang, "form.team_option", code="PL", name="Phủ Lý"))
    await bot_message(s, clerk.id, after=teams.message_id, contains=tr(lang, "form.ask.name"))
    await answer(s, "Nguyễn Văn An", tr(lang, "form.ask.phone"))
    # A bad number is refused inline and asked again; nothing is stored yet.
    await answer(s, "0912 345", tr(lang, "form.bad_phone.wrong_length"))
    await answer(s, "+84 912 000 111", tr(lang, "form.ask.address"))
    typed = await s.client.send_text(clerk, clerk.id, "7 Biên Hòa, Phủ Lý")
    areas = await bot_message(
        s, clerk.id, after=typed.message_id, contains=tr(lang, "form.ask.area")
    )
    await press(s, clerk, areas, tr(lang, "area.rural"))
    purposes = await bot_message(
        s, clerk.id, after=areas.message_id, contains=tr(lang, "form.ask.purpose")
    )
    await press(s, clerk, purposes, tr(lang, "purpose.domestic"))
    await bot_message(
        s, clerk.id, after=purposes.message_id, contains=tr(lang, "form.ask.description")
    )
    typed = await s.client.send_text(clerk, clerk.id, "Lắp công tơ cho nhà mới")
    summary = await bot_message(
        s, clerk.id, after=typed.message_id, contains=tr(lang, "form.confirm")
    )
    assert tr(lang, "form.sum.phone", value="0912000111") in summary.body
    assert tr(lang, "form.sum.area", value=tr(lang, "area.rural")) in summary.body
    async with s.http.get(
        f"{s.api}/api/v1/cases", headers={"Authorization": "Bearer test-intake-token"}
    ) as resp:
        assert await resp.json() == []
    await press(s, clerk, summary, tr(lang, "form.btn.confirm"))
    created = await bot_message(
        s,
        clerk.id,
        after=summary.message_id,
        contains=tr(lang, "reply.created", ref="PL-1", team="PL"),
    )
    assert created.reply_to == summary.message_id

    card = await s.card("PL-1")
    assert "0912***111" in card.body and "0912000111" not in card.body
    assert "Nguyễn Văn An" in card.body and "nông thôn" in card.body
    case = await s.case("PL-1")
    assert case["customer"] == {
        "name": "Nguyễn Văn An",
        "phone": "0912000111",
        "address": "7 Biên Hòa, Phủ Lý",
    }
    assert (case["kind"], case["area"], case["purpose"]) == ("new_connection", "rural", "domestic")
    assert case["history"][0]["actor"] == f"telegram:{clerk.id}"
    assert case["due_at"] is not None
    await s.settled()
    await assert_catalogued(s.client, {GROUP: None, clerk.id: Lang(lang)}, where=f"[{lang}]")


async def test_a_forwarded_customer_message_starts_the_form_with_its_text(
    system: System, lang: str
) -> None:
    s = system
    clerk = s.clerk
    await speak(s, clerk, lang)
    text = "Công tơ nhà tôi quay nhanh bất thường, nhờ kiểm tra giúp. Gọi 0912 000 333"
    forwarded = await s.client.forward_text(clerk, clerk.id, text, hidden_sender_name="Bà Mai")
    kinds = await bot_message(
        s, clerk.id, after=forwarded.message_id, contains=tr(lang, "form.ask.kind")
    )
    await press(s, clerk, kinds, tr(lang, "kind.meter_complaint"))
    teams = await bot_message(
        s, clerk.id, after=kinds.message_id, contains=tr(lang, "form.ask.team")
    )
    await press(s, clerk, teams, tr(lang, "form.team_option", code="PL", name="Phủ Lý"))
    await bot_message(s, clerk.id, after=teams.message_id, contains=tr(lang, "form.ask.name"))
    await answer(s, "Nguyễn Thị Mai", tr(lang, "form.ask.phone"))
    await answer(s, "0987 654 321", tr(lang, "form.ask.address"))
    # No area, purpose or description questions: a complaint has no SLA by area, and the
    # forwarded text is the description.
    typed = await s.client.send_text(clerk, clerk.id, "5 Lê Lợi, Phủ Lý")
    summary = await bot_message(
        s, clerk.id, after=typed.message_id, contains=tr(lang, "form.confirm")
    )
    assert tr(lang, "form.sum.description", value=text) in summary.body
    await press(s, clerk, summary, tr(lang, "form.btn.confirm"))
    await bot_message(
        s,
        clerk.id,
        after=summary.message_id,
        contains=tr(lang, "reply.created", ref="PL-1", team="PL"),
    )
    card = await s.card("PL-1")
    assert "Công tơ nhà tôi quay nhanh bất thường" in card.body and "0987***321" in card.body
    assert "0912 000 333" not in card.body  # a number in the message is masked in the group
    case = await s.case("PL-1")
    assert case["kind"] == "meter_complaint" and case["status"] == "open"
    await s.settled()
    await assert_catalogued(s.client, {GROUP: None, clerk.id: Lang(lang)}, where=f"[{lang}]")


async def test_a_worker_cannot_file_a_case_and_new_is_for_the_private_chat(system: System) -> None:
    s = system
    refused = await s.say(s.minh, "/new", chat=s.minh.id)
    assert "Chỉ giao dịch viên / đội trưởng" in refused.body
    in_group = await s.say(s.clerk, "/new")  # issue 15: a button opens the private chat
    assert in_group.body == tr("vi", "new.in_private") and len(in_group.buttons) == 1
    forwarded = await s.client.forward_text(
        s.minh, s.minh.id, "xin lắp điện", hidden_sender_name="X"
    )
    told = await bot_message(s, s.minh.id, after=forwarded.message_id)
    assert "Chỉ giao dịch viên / đội trưởng" in told.body
