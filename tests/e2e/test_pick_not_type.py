"""Issue 15, item 4: pick instead of type.

A missing ref offers the person's cases; `/assign` the team's workers with their load,
and a part of a name; `/rate`, `/lang`, `/invite` and `/hold` their choices; the case's
private message carries hold, release and a map; `/new` in a group opens the private
chat. Every choice is a button whose payload fits Telegram's 64 bytes (the sandbox
refuses longer ones as Telegram does). In Vietnamese and in English.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from tests.e2e.conftest import GROUP, System, new_connection
from tests.e2e.fieldkit import LANGS, assert_catalogued, bot_message, press, speak, tr

ADDRESS = "12 Trần Hưng Đạo, Phủ Lý"


@pytest.fixture(params=LANGS)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _case(s: System, n: int, claimer: object | None = None) -> str:
    _, body = await s.intake(new_connection(f"TTHCC-PL-2026-{n:05d}"))
    ref = str(body["ref"])
    await s.card(ref)
    if claimer is not None:
        await s.say(claimer, f"/claim {ref}")  # type: ignore[arg-type]
    return ref


def _labels(message: object) -> list[str]:
    return [b.text for b in message.buttons]  # type: ignore[attr-defined]


async def test_a_missing_ref_offers_the_persons_cases(system: System, lang: str) -> None:
    s = system
    await speak(s, s.minh, lang)
    first, second = await _case(s, 1, s.minh), await _case(s, 2, s.minh)
    asked = await s.say(s.minh, "/survey", chat=s.minh.id)
    usage = tr(lang, "usage.survey", ref="PL-17")
    assert asked.body == tr(lang, "pick.which_case", usage=usage)
    shown = [tr(lang, "pick.case", ref=ref, address=ADDRESS[:28]) for ref in (first, second)]
    assert _labels(asked) == shown
    await press(s, s.minh, asked, shown[1])
    form = await bot_message(
        s, s.minh.id, after=asked.message_id, contains=tr(lang, "form.ask.note_survey")
    )
    assert second in form.body and first not in form.body
    await assert_catalogued(s.client, {s.minh.id: None})


async def test_assign_offers_the_workers_with_their_load_and_reads_part_of_a_name(
    system: System, lang: str
) -> None:
    s = system
    await speak(s, s.lead, lang)
    await _case(s, 1, s.minh)
    ref = await _case(s, 2)
    asked = await s.say(s.lead, f"/assign {ref}")
    assert asked.body == tr(lang, "pick.ask_worker", ref=ref)
    minh = tr(lang, "pick.worker", name="Minh", count=1)
    hung = tr(lang, "pick.worker", name="Hùng", count=0)
    assert _labels(asked) == [hung, minh]  # the least loaded first
    await press(s, s.lead, asked, hung)
    await s.settled()
    assert (await s.case(ref))["assignee"] == f"telegram:{s.hung.id}"
    # A part of the name, without diacritics.
    other = await _case(s, 3)
    await s.say(s.lead, f"/assign {other} hun")
    assert (await s.case(other))["assignee"] == f"telegram:{s.hung.id}"
    # Several fit: asked, with a button for each.
    third = await _case(s, 4)
    asked = await s.say(s.lead, f"/assign {third} h")
    assert asked.body == tr(lang, "pick.which_member", who="h")
    picks = [tr(lang, "pick.member", name=name) for name in ("Minh", "Hùng")]
    assert sorted(_labels(asked)) == sorted(picks)
    await press(s, s.lead, asked, picks[0])
    await s.settled()
    assert (await s.case(third))["assignee"] == f"telegram:{s.minh.id}"
    await assert_catalogued(s.client, {GROUP: None})


async def test_rate_lang_and_invite_offer_buttons(system: System, lang: str) -> None:
    s = system
    await speak(s, s.lead, lang)
    ref = await _case(s, 1, s.minh)
    for text in (f"/survey {ref} x", f"/estimate {ref} 1tr500k 2tr"):
        await s.say(s.minh, text)
    await s.say(s.clerk, f"/agree {ref}")
    await s.say(s.minh, f"/install {ref} CT-1 12")
    asked = await s.say(s.lead, f"/rate {ref}")
    assert asked.body == tr(lang, "pick.ask_score", ref=ref)
    assert _labels(asked) == [tr(lang, "pick.score", n=n) for n in range(1, 11)]
    await press(s, s.lead, asked, tr(lang, "pick.score", n=8))
    await s.settled()
    rated = [h["note"] for h in (await s.case(ref))["history"] if h["action"] == "rate"]
    assert rated == ["8"]

    me = s.lead.id
    asked = await s.say(s.lead, "/lang", chat=me)
    assert asked.body == tr(lang, "pick.ask_lang")
    other = "en" if lang == "vi" else "vi"
    await press(s, s.lead, asked, tr(lang, f"pick.lang_{other}"))
    await bot_message(s, me, after=asked.message_id, contains=tr(other, "lang.set"))

    asked = await s.say(s.lead, "/invite", chat=me)
    worker = tr(other, "role.worker")
    assert worker in _labels(asked) and tr(other, "pick.invite_link") in _labels(asked)
    await press(s, s.lead, asked, worker)
    await bot_message(s, me, after=asked.message_id, contains="https://t.me/")
    await assert_catalogued(s.client, {GROUP: None, me: None})


async def test_the_claimers_message_has_a_map_hold_resume_and_release(
    system: System, lang: str
) -> None:
    s = system
    me = s.minh.id
    await speak(s, s.minh, lang)
    ref = await _case(s, 1)
    card = await s.card(ref)
    await press(s, s.minh, card, "Nhận việc")
    contact = await bot_message(s, me, contains="0912345678")  # as text: a call link on a phone
    maps = [b.url for b in contact.buttons if b.url]
    assert maps == ["https://www.google.com/maps/search/?api=1&query=" + quote_plus(ADDRESS)]
    assert tr(lang, "button.map") in _labels(contact)
    await press(s, s.minh, contact, tr(lang, "button.hold"))
    asked = await bot_message(
        s,
        me,
        after=contact.message_id,
        contains=tr(lang, "pick.ask_hold", ref=ref, usage=tr(lang, "usage.hold", ref=ref)),
    )
    reason = tr(lang, "hold.reason.materials")
    await press(s, s.minh, asked, tr(lang, "pick.hold_reason", reason=reason))
    held = await bot_message(s, me, after=asked.message_id, button=tr(lang, "button.resume"))
    case = await s.case(ref)
    assert case["status"] == "on_hold" and case["history"][-1]["note"] == reason
    await press(s, s.minh, held, tr(lang, "button.resume"))
    resumed = await bot_message(s, me, after=held.message_id, button=tr(lang, "button.release"))
    assert (await s.case(ref))["status"] == "claimed"
    await press(s, s.minh, resumed, tr(lang, "button.release"))
    await s.settled()
    case = await s.case(ref)
    assert case["status"] == "open" and case["assignee"] is None
    await assert_catalogued(s.client, {me: None})


async def test_new_in_a_group_offers_a_button_to_the_private_chat(
    system: System, lang: str
) -> None:
    s = system
    await speak(s, s.clerk, lang)
    told = await s.say(s.clerk, "/new")
    assert told.body == tr(lang, "new.in_private")
    bot = (await s.client.bot_user())["username"]
    assert [b.url for b in told.buttons] == [f"https://t.me/{bot}?start=new"]
    sent = await s.client.send_text(s.clerk, s.clerk.id, "/start new")  # what the link sends
    await bot_message(s, s.clerk.id, after=sent.message_id, contains=tr(lang, "form.ask.kind"))
    refused = await s.say(s.minh, "/new")  # a worker files nothing: no button either
    assert refused.buttons == ()
