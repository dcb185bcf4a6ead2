"""Intake to closed through the real bot, the sandbox and the HTTP API, on every channel.

The lifecycles run once per channel (`stage` is parametrized over Telegram and Zalo): the
test code is the same, only what a channel cannot do differently is looked up in tables.
"""

from __future__ import annotations

from tests.e2e.conftest import Stage, System, meter_complaint, new_connection

#: How the card offers the claim: Telegram's button, Zalo's instruction line.
CLAIM_OFFER = {
    "telegram": "✋ Nhận việc",
    "zalo": "👉 Trả lời /claim {ref} để nhận việc",
}
#: How the card names Minh: by @username, and by name on Zalo, which has no usernames.
MINH_ON_CARD = {"telegram": "@minh_pl", "zalo": "Minh"}
#: What the claimant is told: Telegram's toast, or the group's answer on Zalo.
CLAIMED = {
    "telegram": "Bạn đã nhận {ref}",
    "zalo": "✅ {ref}: Minh đã nhận việc.",
}


def actions(case: dict[str, object]) -> list[tuple[object, object]]:
    history = case["history"]
    assert isinstance(history, list)
    return [(h["action"], h["actor"]) for h in history]


async def test_new_connection_goes_from_intake_to_closed(stage: Stage) -> None:
    s = stage
    channel = s.minh.channel
    phone = s.phone(s.minh)
    group = s.group(s.minh)
    status, body = await s.intake(new_connection())
    assert status == 201
    ref = body["ref"]
    assert ref == "PL-1"

    card = await s.card(channel, ref)
    assert "0912***678" in card.body and "0912345678" not in card.body
    assert "12 Trần Hưng Đạo" in card.body and "Trần Văn Hưng" in card.body
    assert "02/12/2026 09:00" in card.body  # 3 working days from Friday 09:00
    assert card.offers == (CLAIM_OFFER[channel].format(ref=ref),)
    case = await s.case(ref)
    assert case["status"] == "open" and case["due_at"] == "2026-12-02T09:00:00+07:00"

    status, again = await s.intake(new_connection())
    assert status == 200 and again["ref"] == ref
    await s.settled()
    cards = [m for m in await phone.messages(group) if m.body.startswith(f"📋 {ref} ")]
    assert len(cards) == 1

    told = await phone.claim(s.minh, group, card, ref)
    assert CLAIMED[channel].format(ref=ref) in told
    shown = await s.card(channel, ref, contains=f"👷 Người làm: {MINH_ON_CARD[channel]}")
    assert shown.offers == ()  # nothing left to claim
    assert shown.edited == phone.edits_in_place
    private = await phone.wait_for(s.minh.user_id, "0912345678")
    assert ref in private.body
    case = await s.case(ref)
    assert case["status"] == "claimed" and case["assignee"] == s.minh.uid

    late = await s.say(s.hung, f"/claim {ref}")
    assert "Minh" in late.body and ref in late.body and "đã có người nhận" in late.body
    assert (await s.case(ref))["assignee"] == s.minh.uid

    steps = [
        (s.minh, f"/survey {ref} Cần 25m cáp", "surveyed", "Đã khảo sát"),
        (s.minh, f"/estimate {ref} 1,5tr 2.000.000 theo đơn giá", "estimated", "Đã lập dự toán"),
        (s.clerk, f"/agree {ref}", "agreed", "Khách đã đồng ý"),
        (s.minh, f"/install {ref} CT-778899 12", "installed", "Đã lắp, đóng điện"),
        (s.lead, f"/close {ref} Hồ sơ đủ", "closed", "Đã đóng hồ sơ"),
    ]
    for user, text, state, said in steps:
        reply = await s.say(user, text)
        assert reply.body.startswith(f"✅ {ref}: {said}"), reply.body
        assert (await s.case(ref))["status"] == state
        await s.card(channel, ref, contains=said)

    case = await s.case(ref)
    assert case["estimate"] == {"customer_cost": 1_500_000, "utility_cost": 2_000_000}
    assert case["meter"] == {"serial": "CT-778899", "reading": "12"}
    assert actions(case) == [
        ("intake", "api:intake"),
        ("claim", s.minh.uid),
        ("survey", s.minh.uid),
        ("estimate", s.minh.uid),
        ("agree", s.clerk.uid),
        ("install", s.minh.uid),
        ("close", s.lead.uid),
    ]
    final = await s.card(channel, ref, contains="Đã đóng hồ sơ")
    if phone.edits_in_place:  # the one card shows everything
        assert "1.500.000 đ" in final.body and "CT-778899" in final.body
    full = await s.say(s.lead, f"/case {ref}")  # on any channel, the whole file on demand
    assert "1.500.000 đ" in full.body and "CT-778899" in full.body


async def test_meter_complaint_goes_from_intake_to_closed(stage: Stage) -> None:
    s = stage
    status, body = await s.intake(meter_complaint())
    assert status == 201
    ref = body["ref"]
    await s.card(s.hung.channel, ref)
    lower = ref.lower()
    for user, text, state in (
        (s.hung, f"/claim {lower}", "claimed"),
        (s.hung, f"/inspect {ref} Công tơ chạy đúng", "inspected"),
        (s.hung, f"/resolve {ref} Đã giải thích cho khách", "resolved"),
        (s.hung, f"/close {ref}", "closed"),
    ):
        reply = await s.say(user, text)
        assert ref in reply.body, reply.body
        assert (await s.case(ref))["status"] == state
    assert [a for a, _ in actions(await s.case(ref))] == [
        "intake",
        "claim",
        "inspect",
        "resolve",
        "close",
    ]
    await s.card(s.hung.channel, ref, contains="Đã đóng hồ sơ")


async def test_ref_may_be_left_out_when_replying_to_the_card(system: System) -> None:
    """Telegram only: Zalo's Bot API does not say which message a message replies to."""
    s = system
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    card = await s.card(ref)
    reply = await s.say(s.minh, "/claim", reply_to=card.message_id)
    assert ref in reply.body and "Minh" in reply.body
    reply = await s.say(s.minh, "/survey khảo sát xong")  # Minh's only active case
    assert ref in reply.body
    assert (await s.case(ref))["status"] == "surveyed"
