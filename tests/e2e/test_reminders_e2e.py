"""A late case is named in its group by a reminder pass, and listed by /overdue."""

from __future__ import annotations

from bot.reminders import ReminderDeps, ReminderKind, remind_pass
from tests.e2e.conftest import GROUP, System, new_connection


async def test_a_case_received_long_ago_is_reminded_in_the_group_and_listed_overdue(
    system: System,
) -> None:
    s = system
    status, body = await s.intake(new_connection(received_at="2026-11-20T08:00:00+07:00"))
    assert status == 201
    ref = body["ref"]
    await s.card(ref)

    on_time, _ = await s.intake(new_connection("TTHCC-PL-2026-00999"))
    assert on_time == 201

    deps = ReminderDeps.of(s.container)
    actions = await remind_pass(deps, s.container.clock.now())
    assert [(a.kind, a.ref) for a in actions if a.ref.startswith("PL")] == [
        (ReminderKind.DIGEST, "PL"),
        (ReminderKind.REMIND, ref),
    ]
    digest = await s.client.wait_for_message(GROUP, contains="📋 Tổng hợp sáng 27/11/2026")
    assert "Đang xử lý: 2 · Chưa ai nhận: 2" in digest.body
    assert "Quá hạn: 1" in digest.body and f"Quá hạn: {ref} " in digest.body
    reminder = await s.client.wait_for_message(GROUP, contains=f"⏰ {ref} ")
    assert "chưa ai nhận" in reminder.body
    await s.settled()
    assert await remind_pass(deps, s.container.clock.now()) == []

    listed = await s.say(s.lead, "/overdue")
    assert ref in listed.body and "PL-2" not in listed.body
