"""Issue 15, item 2: nothing a person sends meets silence, and nothing they send is lost
before they say where it goes; on Telegram and Zalo, in Vietnamese and English.

Zalo has no replies to a message and does not mark a message as forwarded, so the
card reply and the forwards are Telegram's; its files arrive as "unsupported" events
with nothing in them, answered all the same."""

from __future__ import annotations

import pytest

from sandbox import make_png
from sandbox.phones import Person, Seen, TelegramPhone, ZaloPhone
from tests.e2e import fieldkit as kit
from tests.e2e.conftest import GROUP, Stage, System, new_connection
from tests.e2e.fieldkit import LANGS, tr
from tests.e2e.test_handover_and_undo import a_case, press, telegram
from tests.e2e.test_next_person import mark, opening, speak, told


async def photo_privately(stage: Stage, who: Person) -> Seen:
    """The person sends a photo to the bot, replying to nothing."""
    phone = stage.phone(who)
    if isinstance(phone, TelegramPhone):
        sent = await phone.client.send_photo(int(who.user_id), int(who.user_id), make_png(64, 48))
        return phone._seen(sent)
    assert isinstance(phone, ZaloPhone)
    return phone._seen(await phone.client.send_photo(who.user_id, who.user_id, make_png(64, 48)))


async def photos_of(stage: Stage, ref: str) -> bool:
    async with stage.container.uow() as uow:
        case = await uow.cases.get_by_ref(ref)
        assert case is not None and case.id is not None
        return await uow.evidence.has_photo(case.id)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_mistyped_command_gets_the_nearest_real_one(stage: Stage, lang: str) -> None:
    await speak(stage, stage.minh, lang)
    answer = await stage.say(stage.minh, "/inpsect PL-1", chat=stage.minh.user_id)
    assert answer.body == tr(lang, "err.unknown_command_near", command="/inpsect", near="/inspect")
    far = await stage.say(stage.minh, "/xyzzyq", chat=stage.minh.user_id)
    assert far.body == tr(lang, "err.unknown_command", command="/xyzzyq")


@pytest.mark.parametrize("lang", LANGS)
async def test_a_plain_private_text_is_answered_with_the_persons_cases(
    stage: Stage, lang: str
) -> None:
    await speak(stage, stage.minh, lang)
    ref = await a_case(stage)
    await stage.say(stage.minh, f"/claim {ref}")
    answer = await stage.say(stage.minh, "alo, bây giờ làm gì?", chat=stage.minh.user_id)
    assert answer.body.startswith(tr(lang, "unheard.private"))
    assert tr(lang, "unheard.your_cases", refs=ref, ref=ref) in answer.body
    if telegram(stage, stage.minh):
        assert answer.offers == (ref,)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_stray_photo_is_kept_until_its_case_is_chosen(stage: Stage, lang: str) -> None:
    await speak(stage, stage.minh, lang)
    ref = await a_case(stage)
    other = await a_case(stage, "TTHCC-PL-2026-00502")
    for r in (ref, other):
        await stage.say(stage.minh, f"/claim {r}")
    at = await mark(stage, stage.minh)
    await photo_privately(stage, stage.minh)
    asked = await told(stage, stage.minh, at, opening(lang, "unheard.photo_which"))
    assert not await photos_of(stage, other)  # kept, not attached anywhere yet
    at = await mark(stage, stage.minh)
    if telegram(stage, stage.minh):
        labels = tuple(tr(lang, "button.attach_to", ref=r) for r in (ref, other))
        assert asked.offers == labels
        await press(stage, stage.minh, asked, labels[1])
    else:
        await stage.phone(stage.minh).send(stage.minh, stage.minh.user_id, other)
    await told(stage, stage.minh, at, opening(lang, "evidence.saved", ref=other))
    assert await photos_of(stage, other) and not await photos_of(stage, ref)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_pdf_is_answered_with_what_is_kept(stage: Stage, lang: str) -> None:
    await speak(stage, stage.minh, lang)
    phone = stage.phone(stage.minh)
    if isinstance(phone, TelegramPhone):
        me = int(stage.minh.user_id)
        sent = await phone.client.send_document(
            me, me, b"%PDF-1.4 ban ve", "ban_ve.pdf", mime_type="application/pdf"
        )
        answer = await phone.client.wait_for_message(
            me, where=lambda m: m.reply_to == sent.message_id
        )
        assert answer.body == tr(lang, "unheard.document")
        return
    # Zalo hands a file over as an "unsupported" event that carries nothing else.
    assert isinstance(phone, ZaloPhone)
    at = await mark(stage, stage.minh)
    me = stage.minh.user_id
    await phone.client.queue_update(
        {
            "event_name": "message.unsupported.received",
            "message": {
                "from": {"id": me, "display_name": "Minh", "is_bot": False},
                "chat": {"id": me, "chat_type": "PRIVATE"},
                "message_id": "f1e2d3c4b5a697887766554433221100",
                "date": 1_764_200_000_000,
            },
        }
    )
    await told(stage, stage.minh, at, tr(lang, "unheard.document"))


@pytest.mark.parametrize("lang", LANGS)
async def test_a_reply_to_a_card_offers_claim_or_note_and_strangers_get_nothing(
    stage: Stage, lang: str
) -> None:
    if not telegram(stage, stage.minh):
        pytest.skip("Zalo has no replies to a message")
    phone = stage.phone(stage.minh)
    assert isinstance(phone, TelegramPhone)
    await speak(stage, stage.minh, lang)
    _, body = await stage.intake(new_connection("TTHCC-PL-2026-00601"))
    ref = str(body["ref"])
    card = await stage.card("telegram", ref)
    stranger = await phone.client.add_user(3999, "Khách lạ", username="khach_la")
    await phone.client.add_member(GROUP, stranger.id)
    outsider = await phone.client.send_text(stranger.id, GROUP, "em nhận", reply_to=int(card.id))

    sent = await phone.client.send_text(
        int(stage.minh.user_id), GROUP, "em nhận", reply_to=int(card.id)
    )
    offer = await phone.client.wait_for_message(
        GROUP, where=lambda m: m.reply_to == sent.message_id
    )
    assert offer.body == tr(lang, "unheard.card_reply_open", ref=ref)
    labels = [b.text for b in offer.buttons]
    assert labels == [tr(lang, "button.claim"), tr(lang, "button.keep_note")]
    seen = phone._seen(offer)
    await press(stage, stage.minh, seen, tr(lang, "button.claim"))
    await stage.card("telegram", ref, contains="@minh_pl")

    later = await phone.client.send_text(
        int(stage.minh.user_id), GROUP, "khách hẹn 2h chiều", reply_to=int(card.id)
    )
    offer = await phone.client.wait_for_message(
        GROUP, where=lambda m: m.reply_to == later.message_id
    )
    assert offer.body == tr(lang, "unheard.card_reply", ref=ref)
    await press(stage, stage.minh, phone._seen(offer), tr(lang, "button.keep_note"))
    await phone.client.wait_for_message(
        GROUP, contains=tr(lang, "unheard.note_kept", ref=ref), after=offer.message_id
    )
    history = (await stage.case(ref))["history"]
    assert [h["note"] for h in history if h["action"] == "note"] == ["khách hẹn 2h chiều"]
    await stage.settled()
    answers = [m for m in await phone.client.messages(GROUP) if m.reply_to == outsider.message_id]
    assert answers == []


@pytest.mark.parametrize("lang", LANGS)
async def test_a_second_forward_asks_before_it_replaces_the_open_form(
    system: System, lang: str
) -> None:
    """Telegram only: Zalo does not mark a message as forwarded."""
    s, clerk = system, system.clerk
    await kit.speak(s, clerk, lang)
    first = await s.client.forward_text(
        clerk, clerk.id, "xin lắp điện nhà mới", hidden_sender_name="A"
    )
    kinds = await kit.bot_message(
        s, clerk.id, after=first.message_id, contains=tr(lang, "form.ask.kind")
    )
    second = await s.client.forward_text(
        clerk, clerk.id, "công tơ quay nhanh", hidden_sender_name="B"
    )
    asked = await s.client.wait_for_message(
        clerk.id, where=lambda m: m.reply_to == second.message_id
    )
    assert asked.body == tr(lang, "unheard.second_forward")
    # The first form is still there: its question is answered as before.
    await kit.press(s, clerk, kinds, tr(lang, "kind.meter_complaint"))
    await kit.bot_message(s, clerk.id, after=asked.message_id, contains=tr(lang, "form.ask.team"))
    # Pressing the question's button drops it for the second message's case.
    await kit.press(s, clerk, asked, tr(lang, "button.start_new_case"))
    fresh = await kit.bot_message(
        s, clerk.id, after=asked.message_id + 1, contains=tr(lang, "form.ask.kind")
    )
    assert fresh.message_id > kinds.message_id


@pytest.mark.parametrize("lang", LANGS)
async def test_a_forwarded_photo_is_filed_with_the_case(system: System, lang: str) -> None:
    """Telegram only: Zalo does not mark a message as forwarded."""
    s, clerk = system, system.clerk
    await kit.speak(s, clerk, lang)
    text = "Công tơ nhà tôi cháy, ảnh đây"
    photo = {"photo": {"width": 64, "height": 48}, "caption": text}
    forwarded = await s.client.send_message(clerk, clerk.id, **photo, forward_sender_name="Bà Mai")
    kinds = await kit.bot_message(
        s, clerk.id, after=forwarded.message_id, contains=tr(lang, "form.ask.kind")
    )
    await kit.press(s, clerk, kinds, tr(lang, "kind.meter_complaint"))
    teams = await kit.bot_message(
        s, clerk.id, after=kinds.message_id, contains=tr(lang, "form.ask.team")
    )
    await kit.press(s, clerk, teams, tr(lang, "form.team_option", code="PL", name="Phủ Lý"))
    await kit.bot_message(s, clerk.id, after=teams.message_id, contains=tr(lang, "form.ask.name"))
    for typed, next_question in (
        ("Nguyễn Thị Mai", "form.ask.phone"),
        ("0987 654 321", "form.ask.address"),
        ("5 Lê Lợi, Phủ Lý", "form.confirm"),
    ):
        sent = await s.client.send_text(clerk, clerk.id, typed)
        summary = await kit.bot_message(
            s, clerk.id, after=sent.message_id, contains=tr(lang, next_question)
        )
    await kit.press(s, clerk, summary, tr(lang, "form.btn.confirm"))
    await kit.bot_message(
        s,
        clerk.id,
        after=summary.message_id,
        contains=tr(lang, "reply.created", ref="PL-1", team="PL"),
    )
    async with s.container.uow() as uow:
        case = await uow.cases.get_by_ref("PL-1")
        assert case is not None and case.id is not None
        assert await uow.evidence.has_photo(case.id)
