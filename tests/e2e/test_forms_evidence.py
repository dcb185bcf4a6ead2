"""Evidence outside the forms: a photo or a location replying to a case's message, or a
photo whose caption is a step command. Each records who sent it and when."""

from __future__ import annotations

import base64
import dataclasses
import os

from sandbox.telegram import make_png
from tests.e2e.conftest import GROUP, INTAKE, System, new_connection
from tests.e2e.fieldkit import bot_message, tr


async def _claimed(s: System) -> str:
    _, body = await s.intake(new_connection())
    ref = str(body["ref"])
    await s.card(ref)
    await s.say(s.minh, f"/claim {ref}")
    return ref


async def _evidence(s: System, ref: str) -> list[dict[str, object]]:
    case = await s.case(ref)
    items = case["evidence"]
    assert isinstance(items, list)
    return items


async def test_a_photo_replying_to_the_card_and_a_location_replying_in_private_are_kept(
    system: System,
) -> None:
    s = system
    ref = await _claimed(s)
    card = await s.card(ref)
    photo = make_png(40, 30)
    sent = await s.client.send_photo(s.minh, GROUP, photo, reply_to=card.message_id)
    saved = await s.client.wait_for_message(GROUP, where=lambda m: m.reply_to == sent.message_id)
    assert saved.body == tr("vi", "evidence.saved", ref=ref, photos=1, places=0)
    contact = await bot_message(s, s.minh.id, contains="0912345678")
    sent = await s.client.send_location(s.minh, s.minh.id, 20.5, 105.9, reply_to=contact.message_id)
    saved = await bot_message(s, s.minh.id, after=sent.message_id)
    assert saved.body == tr("vi", "evidence.saved", ref=ref, photos=0, places=1)
    items = await _evidence(s, ref)
    assert [(i["kind"], i["actor"]) for i in items] == [
        ("photo", f"telegram:{s.minh.id}"),
        ("location", f"telegram:{s.minh.id}"),
    ]
    async with s.http.get(
        s.api + str(items[0]["url"]), headers={"Authorization": f"Bearer {INTAKE}"}
    ) as resp:
        assert resp.status == 200 and await resp.read() == photo
    async with s.http.get(
        f"{s.api}/api/v1/cases/{ref}/evidence/{items[1]['id']}",
        headers={"Authorization": f"Bearer {INTAKE}"},
    ) as resp:
        assert resp.status == 404  # a location has no file
    assert (await s.case(ref))["status"] == "claimed"  # evidence is no step


async def test_a_photo_with_a_step_command_as_caption_does_the_step_and_keeps_the_photo(
    system: System,
) -> None:
    s = system
    ref = await _claimed(s)
    sent = await s.client.send_photo(
        s.minh, GROUP, make_png(20, 20), caption=f"/survey {ref} cột gần nhà"
    )
    reply = await s.client.wait_for_message(GROUP, where=lambda m: m.reply_to == sent.message_id)
    assert reply.body.startswith(f"✅ {ref}: Đã khảo sát")
    assert [i["kind"] for i in await _evidence(s, ref)] == ["photo"]


async def test_install_can_require_a_meter_photo(system: System) -> None:
    s = system
    service = s.container.service
    service.policy = dataclasses.replace(service.policy, install_requires_photo=True)
    ref = await _claimed(s)
    for text in (f"/survey {ref} ok", f"/estimate {ref} 1tr 1tr", f"/agree {ref}"):
        await s.say(s.minh, text)
    before = await s.case(ref)
    refused = await s.say(s.minh, f"/install {ref} CT-1 5")
    assert refused.body == tr("vi", "err.photo_required", ref=ref)
    assert await s.case(ref) == before
    sent = await s.client.send_photo(
        s.minh, GROUP, make_png(30, 30), caption=f"/install {ref} CT-1 5"
    )
    reply = await s.client.wait_for_message(GROUP, where=lambda m: m.reply_to == sent.message_id)
    assert reply.body.startswith(f"✅ {ref}: Đã lắp")
    case = await s.case(ref)
    assert case["meter"] == {"serial": "CT-1", "reading": "5"}
    assert [i["kind"] for i in case["evidence"]] == ["photo"]


async def test_what_is_not_a_photo_or_too_big_or_not_ones_own_is_refused_and_not_kept(
    system: System,
) -> None:
    s = system
    ref = await _claimed(s)
    card = await s.card(ref)
    fake = await s.client.send_message(
        s.minh,
        GROUP,
        document={
            "base64": base64.b64encode(b"not really a jpeg").decode(),
            "file_name": "meter.jpg",
            "mime_type": "image/jpeg",
        },
        reply_to_message_id=card.message_id,
    )
    told = await s.client.wait_for_message(GROUP, where=lambda m: m.reply_to == fake.message_id)
    assert told.body == tr("vi", "evidence.not_image")

    s.container.media.max_bytes = 1024 * 1024
    big = make_png(10, 10) + os.urandom(1024 * 1024 + 1)
    sent = await s.client.send_photo(s.minh, GROUP, big, reply_to=card.message_id)
    told = await s.client.wait_for_message(GROUP, where=lambda m: m.reply_to == sent.message_id)
    assert told.body == tr("vi", "evidence.too_big", mb=1)

    sent = await s.client.send_photo(s.hung, GROUP, make_png(9, 9), reply_to=card.message_id)
    told = await s.client.wait_for_message(GROUP, where=lambda m: m.reply_to == sent.message_id)
    assert "là việc của Minh" in told.body

    assert await _evidence(s, ref) == []
    files = [p for p in s.container.settings.media_dir.rglob("*") if p.is_file()]
    assert files == []


async def test_a_photo_in_private_without_a_case_gets_a_hint(system: System) -> None:
    s = system
    sent = await s.client.send_photo(s.minh, s.minh.id, make_png(5, 5))
    hint = await bot_message(s, s.minh.id, after=sent.message_id)
    assert hint.body == tr("vi", "evidence.how")
