"""A whole new connection through buttons and guided forms, in Vietnamese and in English.

Nobody types a command with arguments: the worker presses «Nhận việc», then the
button of each next step in the private chat, and answers one question at a time,
with two photos and the location of the survey as evidence.
"""

from __future__ import annotations

import pytest

from bot.i18n import Lang
from sandbox.telegram import make_png
from tests.e2e.conftest import GROUP, INTAKE, System, new_connection
from tests.e2e.fieldkit import LANGS, assert_catalogued, bot_message, press, speak, tr

LAT, LON = 20.54123, 105.91234


@pytest.fixture(params=LANGS)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_a_new_connection_is_carried_out_with_buttons_and_forms_only(
    system: System, lang: str
) -> None:
    s = system
    minh, lead = s.minh, s.lead
    await speak(s, minh, lang)
    status, body = await s.intake(new_connection())
    assert status == 201
    ref = body["ref"]

    # Claim: the card's button; the private chat gets the contact and the next step's button.
    card = await s.card(ref)
    await press(s, minh, card, "Nhận việc")
    contact = await bot_message(s, minh.id, contains="0912345678", button=tr(lang, "button.survey"))
    assert ref in contact.body

    # Survey: a note, two photos, "done", the location, then confirm.
    await press(s, minh, contact, tr(lang, "button.survey"))
    asked = await bot_message(
        s, minh.id, after=contact.message_id, contains=tr(lang, "form.ask.note_survey")
    )
    assert tr(lang, "form.title", ref=ref, step=tr(lang, "form.kind.survey")) in asked.body
    note = await s.client.send_text(minh, minh.id, "Cần 25m cáp vặn xoắn, cột gần nhà")
    photos_asked = await bot_message(
        s, minh.id, after=note.message_id, contains=tr(lang, "form.ask.photos_survey")
    )
    first = make_png(64, 48, (200, 10, 10))
    second = make_png(32, 32, (10, 200, 10))
    sent = await s.client.send_photo(minh, minh.id, first)
    got_one = await bot_message(
        s, minh.id, after=sent.message_id, contains=tr(lang, "form.ask.photos_more", count=1)
    )
    sent = await s.client.send_photo(minh, minh.id, second)
    got_two = await bot_message(
        s, minh.id, after=sent.message_id, contains=tr(lang, "form.ask.photos_more", count=2)
    )
    assert got_one.message_id > photos_asked.message_id
    await press(s, minh, got_two, tr(lang, "form.btn.done"))
    where = await bot_message(
        s, minh.id, after=got_two.message_id, contains=tr(lang, "form.ask.location")
    )
    assert where.reply_keyboard is not None
    assert tr(lang, "form.btn.location") in where.reply_keyboard[0]
    shown = await s.client.chat(minh.id)
    assert shown.reply_keyboard is not None  # the "send location" key is on the phone
    located = await s.client.send_location(minh, minh.id, LAT, LON)
    summary = await bot_message(
        s, minh.id, after=located.message_id, contains=tr(lang, "form.confirm")
    )
    assert tr(lang, "form.sum.photos", count=2) in summary.body
    assert tr(lang, "form.sum.location", lat=f"{LAT:.5f}", lon=f"{LON:.5f}") in summary.body
    assert (await s.client.chat(minh.id)).reply_keyboard is None  # taken away again
    assert (await s.case(ref))["status"] == "claimed"  # nothing happens before confirming
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    done = await bot_message(
        s, minh.id, after=summary.message_id, button=tr(lang, "button.estimate")
    )
    assert done.reply_to == summary.message_id
    assert done.body.startswith(f"✅ {ref}: {tr(lang, 'status.surveyed')}")
    await s.card(ref)
    await s.client.wait_for_message(GROUP, contains="Trạng thái: Đã khảo sát")

    # Estimate: two amounts typed as people type them, the note skipped.
    await press(s, minh, done, tr(lang, "button.estimate"))
    await bot_message(
        s, minh.id, after=done.message_id, contains=tr(lang, "form.ask.customer_cost")
    )
    typed = await s.client.send_text(minh, minh.id, "1,5tr")
    await bot_message(
        s, minh.id, after=typed.message_id, contains=tr(lang, "form.ask.utility_cost")
    )
    typed = await s.client.send_text(minh, minh.id, "2.000.000")
    optional = await bot_message(
        s, minh.id, after=typed.message_id, contains=tr(lang, "form.ask.note_estimate")
    )
    await press(s, minh, optional, tr(lang, "form.btn.skip"))
    summary = await bot_message(
        s, minh.id, after=optional.message_id, contains=tr(lang, "form.confirm")
    )
    assert tr(lang, "form.sum.customer_cost", value="1.500.000 đ") in summary.body
    assert tr(lang, "form.sum.utility_cost", value="2.000.000 đ") in summary.body
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    done = await bot_message(s, minh.id, after=summary.message_id, button=tr(lang, "button.agree"))

    # Agree: nothing to ask, only to confirm.
    await press(s, minh, done, tr(lang, "button.agree"))
    summary = await bot_message(
        s, minh.id, after=done.message_id, contains=tr(lang, "form.confirm")
    )
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    done = await bot_message(
        s, minh.id, after=summary.message_id, button=tr(lang, "button.install")
    )

    # Install: serial and reading typed; no more photos; the location skipped from the keyboard.
    await press(s, minh, done, tr(lang, "button.install"))
    await bot_message(s, minh.id, after=done.message_id, contains=tr(lang, "form.ask.serial"))
    typed = await s.client.send_text(minh, minh.id, "CT-2026-778899")
    await bot_message(s, minh.id, after=typed.message_id, contains=tr(lang, "form.ask.reading"))
    typed = await s.client.send_text(minh, minh.id, "12")  # a number, not option 12
    photos_asked = await bot_message(
        s, minh.id, after=typed.message_id, contains=tr(lang, "form.ask.photos_install")
    )
    await press(s, minh, photos_asked, tr(lang, "form.btn.done"))
    where = await bot_message(
        s, minh.id, after=photos_asked.message_id, contains=tr(lang, "form.ask.location")
    )
    skipped = await s.client.send_text(minh, minh.id, tr(lang, "form.btn.skip"))  # the key
    summary = await bot_message(
        s, minh.id, after=skipped.message_id, contains=tr(lang, "form.confirm")
    )
    assert tr(lang, "form.sum.serial", value="CT-2026-778899") in summary.body
    assert tr(lang, "form.sum.reading", value="12") in summary.body
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    done = await bot_message(s, minh.id, after=summary.message_id, button=tr(lang, "button.close"))

    # Close, with the optional note skipped.
    await press(s, minh, done, tr(lang, "button.close"))
    optional = await bot_message(
        s, minh.id, after=done.message_id, contains=tr(lang, "form.ask.note_close")
    )
    await press(s, minh, optional, tr(lang, "form.btn.skip"))
    summary = await bot_message(
        s, minh.id, after=optional.message_id, contains=tr(lang, "form.confirm")
    )
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    await bot_message(
        s, minh.id, after=summary.message_id, contains=f"✅ {ref}: {tr(lang, 'status.closed')}"
    )
    await s.client.wait_for_message(GROUP, contains="Trạng thái: Đã đóng hồ sơ")

    # The case, as the desk's system sees it: every step by Minh, three pieces of evidence.
    case = await s.case(ref)
    assert case["status"] == "closed"
    assert case["estimate"] == {"customer_cost": 1_500_000, "utility_cost": 2_000_000}
    assert case["meter"] == {"serial": "CT-2026-778899", "reading": "12"}
    steps = [(h["action"], h["actor"]) for h in case["history"]]
    uid = f"telegram:{minh.id}"
    for action in ("claim", "survey", "estimate", "agree", "install", "close"):
        assert (action, uid) in steps
    evidence = case["evidence"]
    assert [e["kind"] for e in evidence] == ["photo", "photo", "location"]
    assert all(e["actor"] == uid and e["at"].startswith("2026-11-27T09:00") for e in evidence)
    assert (evidence[2]["latitude"], evidence[2]["longitude"]) == (LAT, LON)
    headers = {"Authorization": f"Bearer {INTAKE}"}
    for item, sent_bytes in zip(evidence[:2], (first, second), strict=True):
        async with s.http.get(s.api + item["url"], headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "image/png"
            assert await resp.read() == sent_bytes
        async with s.http.get(s.api + item["url"]) as resp:
            assert resp.status == 401

    # /case shows the history and the evidence; every word came from both catalogues.
    shown_case = await s.say(minh, f"/case {ref}", chat=minh.id)
    assert tr(lang, "evidence.title", count=3) in shown_case.body
    assert f"{LAT:.5f}, {LON:.5f}" in shown_case.body
    await s.settled()
    checked = await assert_catalogued(
        s.client, {GROUP: None, minh.id: Lang(lang)}, where=f"[{lang}]"
    )
    assert checked > 40
    assert lead is not None


async def test_a_form_can_be_cancelled_and_changes_nothing(system: System, lang: str) -> None:
    s = system
    minh = s.minh
    await speak(s, minh, lang)
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.say(minh, f"/claim {ref}")
    before = await s.case(ref)
    typed = await s.client.send_text(minh, minh.id, "/survey")  # the only case: its form
    await bot_message(s, minh.id, after=typed.message_id, contains=tr(lang, "form.ask.note_survey"))
    note = await s.client.send_text(minh, minh.id, "ghi chú")
    photos = await bot_message(
        s, minh.id, after=note.message_id, contains=tr(lang, "form.ask.photos_survey")
    )
    sent = await s.client.send_photo(minh, minh.id, make_png(8, 8))
    await bot_message(
        s, minh.id, after=sent.message_id, contains=tr(lang, "form.ask.photos_more", count=1)
    )
    await press(s, minh, photos, tr(lang, "form.btn.cancel"))
    await bot_message(s, minh.id, after=sent.message_id, contains=tr(lang, "form.cancelled"))
    assert await s.case(ref) == before
    media = s.container.settings.media_dir
    assert not [p for p in media.rglob("*") if p.is_file()]  # the photo went with the form
    # A button of the cancelled form does nothing but say so.
    pressed = await s.client.press(
        minh,
        minh.id,
        photos.message_id,
        photos.button(tr(lang, "form.btn.done")).callback_data or "",
    )
    answer = await s.client.wait_for_answer(pressed)
    assert answer.text == tr(lang, "form.gone")
    await s.settled()
    await assert_catalogued(s.client, {GROUP: None, minh.id: Lang(lang)}, where=f"[{lang}]")
