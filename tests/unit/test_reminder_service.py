"""The reminder pass on the in-memory unit of work: pace, escalation, stale claims, digest.

The same pass runs on SQLite and PostgreSQL in tests/integration/test_reminders.py and
test_digest.py; here each rule is shown alone, fast, with no database and no chat.
"""

from __future__ import annotations

import pytest

from bot.domain.events import CaseReleased
from bot.domain.model import Action, CaseStatus, Source
from bot.reminders import ReminderAction, ReminderKind, digest_figures
from bot.services import commands as c
from bot.services.ports import CaseQuery
from tests.unit.servicekit import GROUP, POLICY, TR, WORKER, Desk, local, worker


@pytest.fixture
async def desk() -> Desk:
    return await Desk().seed()


# ----------------------------------------------------------------------- reminders
async def test_an_overdue_case_is_reminded_once_in_its_team_chat(desk: Desk) -> None:
    ref = await desk.intake(local(27, 16, 30))  # the claim is due Monday 09:00
    assert await desk.kinds(local(30, 8, 59)) == []
    actions = [a for a in await desk.run(local(30, 9)) if a.kind is ReminderKind.REMIND]
    assert [(a.ref, a.channel, a.chat_id) for a in actions] == [(ref, "telegram", GROUP)]
    assert actions[0].text.startswith(f"⏰ {ref} quá hạn") and "chưa ai nhận" in actions[0].text
    assert await desk.kinds(local(30, 9)) == []  # the same instant again: nothing twice
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None and case.reminder_count == 1
    assert case.next_check_at == local(30, 11)  # the policy's pace: 2 working hours
    reminders = [i for i in desk.uow.outbox.items if (i.dedupe_key or "").startswith("remind:")]
    assert [i.dedupe_key for i in reminders] == [f"remind:{case.id}:1:telegram:{GROUP}"]


async def test_reminders_repeat_at_the_policys_pace_and_reach_the_lead_once(
    desk: Desk,
) -> None:
    ref = await desk.intake(local(27, 16, 30))
    assert await desk.kinds(local(30, 9)) == [ReminderKind.REMIND]
    assert await desk.kinds(local(30, 10, 59)) == []
    second = await desk.run(local(30, 11))
    assert [a.kind for a in second if a.kind is not ReminderKind.DIGEST] == [
        ReminderKind.REMIND,
        ReminderKind.ESCALATE,
    ]
    escalation = second[-1]
    assert (escalation.chat_id, escalation.to) == ("5", "Lan")  # the lead, in private
    # 11:00 + 2 working hours, over the lunch break: 14:30
    assert await desk.kinds(local(30, 14, 29)) == []
    assert await desk.kinds(local(30, 14, 30)) == [ReminderKind.REMIND]  # no second escalation
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None and case.reminder_count == 3
    history = await desk.uow.cases.history(case.id or 0)
    assert [e.note for e in history if e.action is Action.ESCALATE] == ["2"]


async def test_progress_on_a_late_case_does_not_bring_its_next_reminder_forward(
    desk: Desk,
) -> None:
    ref = await desk.intake(local(23, 8))  # due Thursday 26th 08:00: late whatever is done
    assert await desk.kinds(local(27, 9)) == [ReminderKind.REMIND]
    await desk.claim(ref, local(27, 9, 30))
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None and case.next_check_at == local(27, 11)
    assert await desk.kinds(local(27, 9, 31)) == []


async def test_nothing_is_sent_outside_working_hours_and_one_message_catches_up(
    desk: Desk,
) -> None:
    await desk.intake(local(27, 16, 30))
    for at in (local(28, 10), local(29, 23), local(30, 7, 0)):  # weekend, and before opening
        assert await desk.run(at) == []
    assert await desk.kinds(local(30, 9, 45)) == [ReminderKind.REMIND]


async def test_a_case_on_hold_is_not_reminded(desk: Desk) -> None:
    ref = await desk.intake(local(27, 16, 30))
    await desk.hold(ref, local(27, 16, 45))
    assert await desk.kinds(local(30, 9)) == []


async def test_a_dry_run_lists_the_messages_and_changes_nothing(desk: Desk) -> None:
    ref = await desk.intake(local(27, 16, 30))
    planned = await desk.run(local(30, 9), dry_run=True)
    assert [a.kind for a in planned if a.ref == ref] == [ReminderKind.REMIND]
    assert desk.uow.outbox.items == []
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None and case.reminder_count == 0
    assert await desk.kinds(local(30, 9)) == [ReminderKind.REMIND]


# ----------------------------------------------------------------- stale claims
async def test_a_claim_left_untouched_goes_back_to_the_team_once(desk: Desk) -> None:
    ref = await desk.intake(local(30, 8))
    await desk.claim(ref, local(30, 9))
    assert await desk.kinds(local(30, 14, 29)) == []  # 4 working hours end at 14:30
    released = await desk.run(local(30, 14, 30))
    assert [(a.kind, a.chat_id) for a in released] == [(ReminderKind.AUTO_RELEASE, GROUP)]
    assert "@mi" in released[0].text  # the worker who held it
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None
    assert (case.status, case.assignee, case.claimed_at) == (CaseStatus.OPEN, None, None)
    # the claim deadline passed long ago; the release notice is this interval's message
    assert case.next_check_at == local(30, 16, 30)
    history = await desk.uow.cases.history(case.id or 0)
    assert (history[-1].action, history[-1].actor, history[-1].note) == (
        Action.AUTO_RELEASE,
        "scheduler",
        WORKER.uid,
    )
    event = desk.uow.published[-1]
    assert isinstance(event, CaseReleased) and event.automatic and event.previous == WORKER.uid
    assert await desk.kinds(local(30, 14, 31)) == []
    assert await desk.kinds(local(30, 16, 30)) == [ReminderKind.REMIND]


async def test_progress_keeps_a_claim(desk: Desk) -> None:
    ref = await desk.intake(local(30, 8))
    await desk.claim(ref, local(30, 9))
    await desk.step(ref, Action.SURVEY, local(30, 14))
    assert await desk.kinds(local(30, 14, 30)) == []
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None and case.assignee == WORKER.uid


# ----------------------------------------------------------------------- digest
def digests(actions: list[ReminderAction]) -> list[ReminderAction]:
    return [a for a in actions if a.kind is ReminderKind.DIGEST]


async def test_the_morning_digest_goes_once_per_working_day_with_the_teams_numbers(
    desk: Desk,
) -> None:
    done = await desk.intake(local(27, 8))
    await desk.claim(done, local(27, 8, 30))
    for action in (Action.SURVEY, Action.AGREE):
        if action is Action.AGREE:
            await desk.service.estimate(
                c.RecordEstimate(
                    worker(), Source.TELEGRAM, None, ref=done, customer_cost=1, utility_cost=1
                ),
                desk.uow,
            )
        await desk.step(done, action, local(27, 9))
    desk.clock.set(local(27, 10))
    await desk.service.install(
        c.RecordInstall(worker(), Source.TELEGRAM, None, ref=done, meter_serial="CT1"), desk.uow
    )
    late = await desk.intake(local(27, 9))  # its claim was due Friday 11:00
    await desk.intake(local(27, 16))  # due on Monday: still in time at 07:30

    assert digests(await desk.run(local(28, 8))) == []  # Saturday
    assert digests(await desk.run(local(30, 7, 29))) == []
    sent = digests(await desk.run(local(30, 7, 30)))
    assert [(a.ref, a.chat_id, a.dedupe_key) for a in sent] == [
        ("PL", GROUP, f"digest:PL:2026-11-30:telegram:{GROUP}")
    ]
    lines = sent[0].text.splitlines()
    assert lines[0] == "📋 Tổng hợp sáng 30/11/2026 — Đội Phủ Lý"
    assert lines[1:] == [
        TR.t("vi", "digest.open", open=2, unclaimed=2),
        TR.t("vi", "digest.due", due_today=0, overdue=1),
        TR.t("vi", "digest.completed", day="27/11", count=1),
        TR.t("vi", "digest.late_refs", refs=late),
    ]
    assert digests(await desk.run(local(30, 9))) == []  # once a day, whatever the passes
    assert len(digests(await desk.run(local(1, 7, 30)))) == 1  # the next working day


async def test_digest_figures_count_on_the_lateness_rule(desk: Desk) -> None:
    due_today = await desk.intake(local(25, 10))  # due Monday 10:00; its claim was late
    late = await desk.intake(local(27, 8))  # its claim was due Friday 10:00
    await desk.intake(local(30, 7, 30))  # its claim is due at 09:30: not late yet
    active = await desk.uow.cases.find(CaseQuery(active_only=True))
    figures = digest_figures(POLICY, active, local(30, 8), completed=3)
    assert (figures.open, figures.unclaimed, figures.due_today) == (3, 3, 1)
    assert (figures.overdue, figures.completed) == (2, 3)
    assert figures.late_refs == (due_today, late)  # the oldest missed deadline first
