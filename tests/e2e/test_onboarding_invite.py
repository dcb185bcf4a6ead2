"""Onboarding without ids: a lead's invite link, the lead's «Đồng ý», a first claim.

Run in Vietnamese and in English: the newcomer's phone reports the language, which the
bot uses until the person chooses one with /lang.
"""

from __future__ import annotations

import re

import pytest

from bot.i18n import Lang
from tests.e2e.conftest import GROUP, System, new_connection
from tests.e2e.fieldkit import LANGS, assert_catalogued, bot_message, press, speak, tr

BOT = "dispatch_sandbox_bot"


@pytest.fixture(params=LANGS)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def code_in(text: str) -> str:
    found = re.search(r"/start ([A-Z0-9]{10})", text)
    assert found is not None, text
    return found.group(1)


async def test_a_worker_joins_by_invite_link_and_claims_a_case(system: System, lang: str) -> None:
    s = system
    lead = s.lead
    await speak(s, lead, lang)
    # Typed in the group, the invite goes to the lead's private chat, never to the group.
    said = await s.say(lead, "/invite worker")
    assert said.body == tr(lang, "invite.sent_privately", command="/invite worker")
    invite = await bot_message(s, lead.id, contains="/start ")
    code = code_in(invite.body)
    assert f"https://t.me/{BOT}?start={code}" in invite.body  # one tap on a phone
    assert tr(lang, "invite.typed", code=code) in invite.body  # and what to type on Zalo
    await s.settled()
    in_group = [m.body for m in await s.client.messages(GROUP) if m.from_bot]
    assert not any(code in body or "t.me/" in body for body in in_group), in_group

    # A new person opens the link: Telegram sends "/start CODE" in the private chat.
    tam = await s.client.add_user(3010, "Tâm", username="tam_pl", language_code=lang)
    waiting = await s.say(tam, f"/start {code}", chat=tam.id)
    assert waiting.body == tr(lang, "invite.waiting", lead="Lan", team="PL")
    before = await s.say(tam, "/mine", chat=tam.id)
    assert f"telegram:{tam.id}" in before.body  # not a member until the lead agrees

    # The lead is asked privately and agrees with one press.
    asked = await bot_message(
        s,
        lead.id,
        contains=tr(
            lang, "invite.request", who="Tâm (@tam_pl)", team="PL", role=tr(lang, "role.worker")
        ),
    )
    pressed = await s.client.press(
        lead,
        lead.id,
        asked.message_id,
        asked.button(tr(lang, "invite.btn.approve")).callback_data or "",
    )
    answer = await s.client.wait_for_answer(pressed)
    assert answer.text == tr(lang, "invite.approved", name="Tâm", team="PL")
    welcome = await bot_message(s, tam.id, after=before.message_id, contains="🎉")
    assert welcome.body.startswith(
        tr(lang, "invite.welcome", name="Tâm", role=tr(lang, "role.worker"), team="PL")
    )

    # The invite was for one person: a second opener is told so.
    other = await s.client.add_user(3011, "Khánh", language_code=lang)
    used = await s.say(other, f"/start {code}", chat=other.id)
    assert used.body == tr(lang, "invite.invalid.used")
    # Pressing «Đồng ý» again changes nothing.
    again = await s.client.press(
        lead,
        lead.id,
        asked.message_id,
        asked.button(tr(lang, "invite.btn.approve")).callback_data or "",
    )
    assert (await s.client.wait_for_answer(again)).text == tr(lang, "invite.invalid.used")

    # Tâm is in the team and claims a case from the group card.
    await s.client.add_member(GROUP, tam)
    members = await s.say(lead, "/members")
    assert "• Tâm · " in members.body and "@tam_pl" in members.body
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    card = await s.card(ref)
    await press(s, tam, card, "Nhận việc")
    contact = await bot_message(s, tam.id, contains="0912345678")
    assert contact.body.startswith(
        tr(lang, "contact.title", ref=ref, kind=tr(lang, "kind.new_connection")).split(" · ")[0]
    )
    assert (await s.case(ref))["assignee"] == f"telegram:{tam.id}"
    await s.card(ref)
    await s.client.wait_for_message(GROUP, contains="👷 Người làm: @tam_pl")

    # The lead takes Tâm out again; the case is named for reassignment.
    removed = await s.say(lead, "/remove ok @tam_pl")
    assert tr(lang, "member.removed", name="Tâm", team="PL") in removed.body
    assert ref in removed.body
    after = await s.say(tam, "/mine", chat=tam.id)
    assert f"telegram:{tam.id}" in after.body  # a stranger again

    await s.settled()
    await assert_catalogued(
        s.client,
        {GROUP: None, lead.id: Lang(lang), tam.id: Lang(lang), other.id: Lang(lang)},
        where=f"[{lang}]",
    )


async def test_an_invite_is_refused_when_the_lead_says_no(system: System, lang: str) -> None:
    s = system
    lead = s.lead
    await speak(s, lead, lang)
    code = code_in((await s.say(lead, "/invite clerk", chat=lead.id)).body)
    who = await s.client.add_user(3012, "Lạ", language_code=lang)
    await s.say(who, f"/start {code}", chat=who.id)
    asked = await bot_message(s, lead.id, button=tr(lang, "invite.btn.refuse"))
    await press(s, lead, asked, tr(lang, "invite.btn.refuse"))
    await bot_message(s, who.id, contains=tr(lang, "invite.declined", team="PL"))
    async with s.container.uow() as uow:
        assert await uow.members.by_identity("telegram", str(who.id)) is None


async def test_only_a_lead_invites_and_a_wrong_code_is_explained(system: System) -> None:
    s = system
    refused = await s.say(s.minh, "/invite worker")
    assert "Chỉ đội trưởng" in refused.body
    usage = await s.say(s.lead, "/invite boss")
    assert "/invite nhân viên, /invite đội trưởng, /invite giao dịch viên" in usage.body
    wrong = await s.say(s.stranger, "/start ABCDEFGHJK", chat=s.stranger.id)
    assert wrong.body == tr("vi", "invite.invalid.unknown")


async def test_the_command_menus_are_published_per_scope_and_language(system: System) -> None:
    s = system
    sets = await s.client.wait_for_calls("setMyCommands", count=6)
    assert len(sets) >= 6
    menus = {
        (c.scope["type"], c.language_code): dict(c.commands) for c in await s.client.commands()
    }
    assert set(menus) == {
        (scope, code)
        for scope in ("all_private_chats", "all_group_chats")
        for code in ("", "vi", "en")
    }
    assert menus[("all_private_chats", "vi")]["survey"] == tr("vi", "menu.survey")
    assert menus[("all_private_chats", "en")]["survey"] == tr("en", "menu.survey")
    assert "claim" in menus[("all_group_chats", "")] and "new" in menus[("all_private_chats", "")]
    assert menus[("all_group_chats", "")]["claim"] == tr("vi", "menu.claim")
    # In a group `/invite` is a team invite only: no link code is offered there.
    for code, lang in (("", "vi"), ("vi", "vi"), ("en", "en")):
        assert menus[("all_group_chats", code)]["invite"] == tr(lang, "menu.invite_team")
        assert menus[("all_private_chats", code)]["invite"] == tr(lang, "menu.invite")
    assert "Zalo" not in tr("vi", "menu.invite_team") + tr("en", "menu.invite_team")


async def test_a_lead_without_buttons_agrees_by_typing_the_code(system: System) -> None:
    """On Zalo the lead's message cannot carry buttons: `/invite ok CODE` does the same."""
    s = system
    code = code_in((await s.say(s.lead, "/invite worker", chat=s.lead.id)).body)
    who = await s.client.add_user(3013, "Nam", language_code="vi")
    await s.say(who, f"/start {code}", chat=who.id)
    await bot_message(s, s.lead.id, contains="🙋 Nam")
    agreed = await s.say(s.lead, f"/invite ok {code.lower()}", chat=s.lead.id)
    assert agreed.body == tr("vi", "invite.approved", name="Nam", team="PL")
    async with s.container.uow() as uow:
        member = await uow.members.by_identity("telegram", str(who.id))
    assert member is not None and member.team_code == "PL" and member.role.value == "worker"


async def test_a_lead_invites_and_answers_in_vietnamese_words(system: System) -> None:
    """`/invite đội trưởng` (diacritics optional) and `/invite không CODE`: no English
    word is needed, as the usage text shows none."""
    s = system
    for typed, role in (("/invite đội trưởng", "lead"), ("/invite giao dich vien", "clerk")):
        text = (await s.say(s.lead, typed, chat=s.lead.id)).body
        assert tr("vi", f"role.{role}") in text.split("\n", 1)[0], text
    code = code_in((await s.say(s.lead, "/invite Nhân viên", chat=s.lead.id)).body)
    who = await s.client.add_user(3014, "Tâm", last_name="Nguyễn Văn", language_code="vi")
    await s.say(who, f"/start {code}", chat=who.id)
    await bot_message(s, s.lead.id, contains="🙋 Nguyễn Văn Tâm")  # family name first
    refused = await s.say(s.lead, f"/invite không {code}", chat=s.lead.id)
    assert refused.body == tr("vi", "invite.refused", name="Nguyễn Văn Tâm")
    async with s.container.uow() as uow:
        assert await uow.members.by_identity("telegram", str(who.id)) is None


async def test_a_person_approved_by_two_teams_stays_in_the_first_and_both_leads_hear_it(
    system: System,
) -> None:
    """Issue 12: invites of PL and DL opened by one person, both approved. The second
    approval used to move them silently; now it changes nothing until PL lets them go."""
    s = system
    lan, quang = s.lead, s.other_lead
    pl = code_in((await s.say(lan, "/invite worker", chat=lan.id)).body)
    dl = code_in((await s.say(quang, "/invite worker", chat=quang.id)).body)
    tam = await s.client.add_user(3014, "Tâm", username="tam_moi", language_code="vi")
    for code, lead, team in ((pl, "Lan", "PL"), (dl, "Quang", "DL")):
        waiting = await s.say(tam, f"/start {code}", chat=tam.id)
        assert waiting.body == tr("vi", "invite.waiting", lead=lead, team=team)
    asked_pl = await bot_message(s, lan.id, contains="🙋 Tâm")
    asked_dl = await bot_message(s, quang.id, contains="🙋 Tâm")

    await press(s, lan, asked_pl, tr("vi", "invite.btn.approve"))
    approve = asked_dl.button(tr("vi", "invite.btn.approve")).callback_data or ""
    pressed = await s.client.press(quang, quang.id, asked_dl.message_id, approve)
    answer = await s.client.wait_for_answer(pressed)
    assert answer.text == tr("vi", "invite.joiner_elsewhere", name="Tâm", team="PL")
    told = await bot_message(
        s,
        lan.id,
        contains=tr(
            "vi", "invite.wanted_elsewhere", lead="Quang", team="DL", name="Tâm", yours="PL"
        ),
    )
    assert not told.buttons
    async with s.container.uow() as uow:
        member = await uow.members.by_identity("telegram", str(tam.id))
    assert member is not None and member.team_code == "PL" and member.active

    # Pressed again, Lan is not told twice; once PL lets Tâm go, DL's approval works.
    again = await s.client.press(quang, quang.id, asked_dl.message_id, approve)
    assert (await s.client.wait_for_answer(again)).text == answer.text
    await s.say(lan, "/remove ok @tam_moi", chat=lan.id)
    last = await s.client.press(quang, quang.id, asked_dl.message_id, approve)
    assert (await s.client.wait_for_answer(last)).text == tr(
        "vi", "invite.approved", name="Tâm", team="DL"
    )
    async with s.container.uow() as uow:
        member = await uow.members.by_identity("telegram", str(tam.id))
    assert member is not None and member.team_code == "DL" and member.active
    await s.settled()
    notices = [m for m in await s.client.messages(lan.id) if m.body.startswith("ℹ️")]
    assert len(notices) == 1, [m.body for m in notices]


async def test_approving_someone_who_joined_the_same_team_meanwhile_changes_nothing(
    system: System,
) -> None:
    """Two invites of one team (worker and lead): the second approval must not silently
    change the person's role."""
    s = system
    lan = s.lead
    first = code_in((await s.say(lan, "/invite worker", chat=lan.id)).body)
    second = code_in((await s.say(lan, "/invite lead", chat=lan.id)).body)
    vy = await s.client.add_user(3015, "Vy", language_code="vi")
    await s.say(vy, f"/start {first}", chat=vy.id)
    await s.say(vy, f"/start {second}", chat=vy.id)
    await s.say(lan, f"/invite ok {first}", chat=lan.id)
    refused = await s.say(lan, f"/invite ok {second}", chat=lan.id)
    assert refused.body == tr("vi", "invite.joiner_here", name="Vy", team="PL")
    async with s.container.uow() as uow:
        member = await uow.members.by_identity("telegram", str(vy.id))
    assert member is not None and member.role.value == "worker"
