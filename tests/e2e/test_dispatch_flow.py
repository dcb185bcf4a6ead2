"""Intake to closed through the real bot, the sandbox and the HTTP API."""

from __future__ import annotations

from tests.e2e.conftest import GROUP, System, meter_complaint, new_connection


def actions(case: dict[str, object]) -> list[tuple[object, object]]:
    history = case["history"]
    assert isinstance(history, list)
    return [(h["action"], h["actor"]) for h in history]


async def test_new_connection_goes_from_intake_to_closed(system: System) -> None:
    s = system
    status, body = await s.intake(new_connection())
    assert status == 201
    ref = body["ref"]
    assert ref == "PL-1"

    card = await s.card(ref)
    assert "0912***678" in card.body and "0912345678" not in card.body
    assert "12 Trần Hưng Đạo" in card.body and "Trần Văn Hưng" in card.body
    assert "02/12/2026 09:00" in card.body  # 3 working days from Friday 09:00
    assert [b.text for b in card.buttons] == ["Nhận việc / Claim"]
    case = await s.case(ref)
    assert case["status"] == "open" and case["due_at"] == "2026-12-02T09:00:00+07:00"

    status, again = await s.intake(new_connection())
    assert status == 200 and again["ref"] == ref
    await s.settled()
    cards = [m for m in await s.client.messages(GROUP) if m.body.startswith(f"📋 {ref} ")]
    assert len(cards) == 1

    press = await s.client.press_button(s.minh, GROUP, card.message_id, "Nhận việc / Claim")
    answer = await s.client.wait_for_answer(press)
    assert ref in (answer.text or "")
    edited = await s.client.wait_for(
        GROUP,
        lambda ms: next((m for m in ms if m.message_id == card.message_id and m.edited), None),
        what="the card edited after the claim",
    )
    assert "Minh" in edited.body or "@minh_pl" in edited.body
    assert edited.buttons == ()
    private = await s.client.wait_for_message(s.minh.id, contains="0912345678")
    assert ref in private.body
    case = await s.case(ref)
    assert case["status"] == "claimed" and case["assignee"] == f"telegram:{s.minh.id}"

    late = await s.say(s.hung, f"/claim {ref}")
    assert "Minh" in late.body and ref in late.body
    assert (await s.case(ref))["assignee"] == f"telegram:{s.minh.id}"

    steps = [
        (s.minh, f"/survey {ref} Cần 25m cáp", "surveyed", "Đã khảo sát"),
        (s.minh, f"/estimate {ref} 1,5tr 2.000.000 theo đơn giá", "estimated", "Đã lập dự toán"),
        (s.clerk, f"/agree {ref}", "agreed", "Khách đã đồng ý"),
        (s.minh, f"/install {ref} CT-778899 12", "installed", "Đã lắp, đóng điện"),
        (s.lead, f"/close {ref} Hồ sơ đủ", "closed", "Đã đóng hồ sơ"),
    ]
    for user, text, state, shown in steps:
        reply = await s.say(user, text)
        assert ref in reply.body and shown in reply.body, reply.body
        assert (await s.case(ref))["status"] == state

    case = await s.case(ref)
    assert case["estimate"] == {"customer_cost": 1_500_000, "utility_cost": 2_000_000}
    assert case["meter"] == {"serial": "CT-778899", "reading": "12"}
    assert actions(case) == [
        ("intake", "api:intake"),
        ("claim", f"telegram:{s.minh.id}"),
        ("survey", f"telegram:{s.minh.id}"),
        ("estimate", f"telegram:{s.minh.id}"),
        ("agree", f"telegram:{s.clerk.id}"),
        ("install", f"telegram:{s.minh.id}"),
        ("close", f"telegram:{s.lead.id}"),
    ]
    final = await s.client.wait_for(
        GROUP,
        lambda ms: next(
            (m for m in ms if m.message_id == card.message_id and "Đã đóng hồ sơ" in m.body), None
        ),
        what="the card showing the case closed",
    )
    assert "1.500.000 đ" in final.body and "CT-778899" in final.body


async def test_meter_complaint_goes_from_intake_to_closed(system: System) -> None:
    s = system
    status, body = await s.intake(meter_complaint())
    assert status == 201
    ref = body["ref"]
    await s.card(ref)
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


async def test_ref_may_be_left_out_when_replying_to_the_card(system: System) -> None:
    s = system
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    card = await s.card(ref)
    reply = await s.say(s.minh, "/claim", reply_to=card.message_id)
    assert ref in reply.body and "Minh" in reply.body
    reply = await s.say(s.minh, "/survey khảo sát xong")  # Minh's only active case
    assert ref in reply.body
    assert (await s.case(ref))["status"] == "surveyed"
