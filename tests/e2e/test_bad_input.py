"""Every careless input gets a clear answer in the user's language and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import GROUP, System, new_connection


async def _claimed_case(s: System) -> tuple[str, dict[str, Any]]:
    _, body = await s.intake(new_connection())
    ref = str(body["ref"])
    await s.card(ref)
    await s.say(s.minh, f"/claim {ref}")
    return ref, await s.case(ref)


@pytest.mark.parametrize(
    ("who", "text", "expected"),
    [
        ("minh", "/survey PL-99 ghi chú", "Không tìm thấy hồ sơ PL-99"),
        ("minh", "/install {ref} CT-1", "Bước tiếp theo: /survey {ref}"),
        ("hung", "/survey {ref} ghi chú", "là việc của Minh"),
        ("minh", "/estimate {ref} abc 2tr", "không phải số tiền"),
        ("minh", "/cancel {ref} khách hủy", "Chỉ đội trưởng"),
        ("minh", "/survey {ref}", "Cách dùng: /survey {ref}"),
        ("hung", "/claim {ref}", "đã có người nhận: Minh"),
        ("minh", "/frobnicate", "Không hiểu lệnh"),
        ("clerk", "/install {ref} CT-1", "là việc của Minh"),
        # `²` passes str.isdigit() and fails int(): it was answered with an internal error.
        ("lead", "/rate {ref} ²", "Khách chấm {ref} mấy điểm"),  # asked, with buttons
        ("lead", "/rate {ref} ①", "Khách chấm {ref} mấy điểm"),
    ],
)
async def test_refusal_is_explained_and_nothing_changes(
    system: System, who: str, text: str, expected: str
) -> None:
    s = system
    ref, before = await _claimed_case(s)
    reply = await s.say(getattr(s, who), text.format(ref=ref))
    assert expected.format(ref=ref) in reply.body
    assert await s.case(ref) == before


async def test_english_speaker_is_answered_in_english(system: System) -> None:
    s = system
    ref, before = await _claimed_case(s)
    reply = await s.say(s.hung, "/lang en")
    assert "English" in reply.body
    reply = await s.say(s.hung, f"/survey {ref} note")
    assert f"{ref} belongs to Minh" in reply.body
    assert await s.case(ref) == before


async def test_stranger_in_group_is_ignored_and_in_private_told_how_to_join(system: System) -> None:
    s = system
    ref, before = await _claimed_case(s)
    ignored = await s.client.send_text(s.stranger, GROUP, f"/close {ref}")
    later = await s.say(s.minh, "/mine")  # handled after the stranger's message
    assert ref in later.body
    await s.settled()
    assert not [m for m in await s.client.messages(GROUP) if m.reply_to == ignored.message_id]
    answer = await s.say(s.stranger, "/start", chat=s.stranger.id)
    assert f"telegram:{s.stranger.id}" in answer.body and "chưa là thành viên" in answer.body
    assert await s.case(ref) == before


async def test_other_teams_lead_cannot_touch_the_case(system: System) -> None:
    s = system
    ref, before = await _claimed_case(s)
    reply = await s.say(s.other_lead, f"/cancel {ref} thử", chat=s.other_lead.id)
    assert "chưa là thành viên" in reply.body
    assert await s.case(ref) == before


async def test_odd_digits_typed_into_a_form_are_asked_again_not_a_crash(system: System) -> None:
    """`²` at a numbered question: asked again, and the form goes on (it crashed)."""
    s = system
    clerk = s.clerk

    async def answer_to(text: str) -> str:
        sent = await s.client.send_text(clerk, clerk.id, text)
        got = await s.client.wait_for_message(
            clerk.id, where=lambda m: m.message_id > sent.message_id
        )
        return got.body

    first = await answer_to("/new")
    assert "Loại hồ sơ nào?" in first
    for odd in ("²", "①", "٣"):
        again = await answer_to(odd)
        assert "Loại hồ sơ nào?" in again and "Có lỗi" not in again, again
    # Full-width digits from an IME count as digits, as in amounts: option 1 is taken
    # and the form asks its next question.
    taken = await answer_to("１")
    assert "Đội nào xử lý?" in taken and "Loại hồ sơ nào?" not in taken, taken
