"""The reminder pass on SQLite and PostgreSQL: pace, escalation, holds, stale claims, restarts."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Action, CaseStatus, Role, Source
from bot.domain.people import Member
from bot.reminders import ReminderDeps, ReminderKind, remind_pass
from bot.services import commands as c
from storage import tables as t
from tests.conftest import make_settings
from tests.integration.helpers import GROUP, actor_of, add_member, intake_cmd, origin, seed_team

HN = ZoneInfo("Asia/Ho_Chi_Minh")
LEAD_ID = 5
WORKER_ID = 7


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A local time in Hà Nội, late November 2026 (27th is a Friday, 30th a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=HN)


@pytest.fixture
async def system(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Container]:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(container)
        await add_member(container, LEAD_ID, "Trưởng nhóm Lan", Role.LEAD)
        await add_member(container, WORKER_ID, "Thợ Minh", Role.WORKER)
        yield container
    finally:
        await container.close()


async def intake_at(container: Container, clock: FixedClock, received: datetime) -> int:
    clock.set(received)
    cmd = dataclasses.replace(intake_cmd(f"R-{received.isoformat()}"), received_at=received)
    case, _ = await container.service.intake(cmd, container.uow())
    assert case.id is not None
    return case.id


async def pass_at(
    container: Container, clock: FixedClock, at: datetime, *, dry_run: bool = False
) -> list[ReminderKind]:
    """The kinds sent about cases; the morning digest has tests of its own."""
    clock.set(at)
    actions = await remind_pass(ReminderDeps.of(container), at, dry_run=dry_run)
    return [a.kind for a in actions if a.kind is not ReminderKind.DIGEST]


async def outbox_rows(container: Container) -> list[Any]:
    async with container.engine.connect() as conn:
        return list(await conn.execute(sa.select(t.outbox).order_by(t.outbox.c.id)))


async def reminder_rows(container: Container) -> list[Any]:
    return [
        r
        for r in await outbox_rows(container)
        if r.dedupe_key
        and r.dedupe_key.split(":")[0]
        in {k.value for k in ReminderKind if k is not ReminderKind.DIGEST}
    ]


async def case_row(container: Container, case_id: int) -> Any:
    async with container.engine.connect() as conn:
        return (await conn.execute(sa.select(t.cases).where(t.cases.c.id == case_id))).one()


async def member(container: Container, user_id: int) -> Member:
    async with container.uow() as uow:
        found = await uow.members.get(f"telegram:{user_id}")
    assert found is not None
    return found


async def test_overdue_claim_is_reminded_once_per_interval_then_escalated_to_the_lead(
    system: Container, clock: FixedClock
) -> None:
    case_id = await intake_at(system, clock, local(27, 16, 30))
    assert (await case_row(system, case_id)).next_check_at == local(30, 9)

    assert await pass_at(system, clock, local(28, 10)) == []  # Saturday: nothing
    assert await pass_at(system, clock, local(30, 8, 59)) == []  # not due yet
    assert await pass_at(system, clock, local(30, 9)) == [ReminderKind.REMIND]
    assert await pass_at(system, clock, local(30, 9)) == []  # same instant: nothing twice

    rows = await reminder_rows(system)
    assert [(r.chat_id, r.dedupe_key) for r in rows] == [
        (GROUP, f"remind:{case_id}:1:telegram:{GROUP}")
    ]
    text = rows[0].payload["text"]
    assert text.startswith("⏰ PL-1 quá hạn")
    assert "chưa ai nhận" in text
    row = await case_row(system, case_id)
    assert row.reminder_count == 1
    assert row.next_check_at == local(30, 11)  # the policy's interval: 2 working hours

    assert await pass_at(system, clock, local(30, 10, 59)) == []
    assert await pass_at(system, clock, local(30, 11)) == [
        ReminderKind.REMIND,
        ReminderKind.ESCALATE,
    ]
    escalation = (await reminder_rows(system))[-1]
    assert escalation.chat_id == str(LEAD_ID)  # the lead's private chat
    assert escalation.dedupe_key == f"escalate:{case_id}:telegram:{LEAD_ID}"
    assert "PL-1" in escalation.payload["text"]

    # 11:00 + 2 working hours crosses the lunch break: 14:30. No second escalation.
    assert (await case_row(system, case_id)).next_check_at == local(30, 14, 30)
    assert await pass_at(system, clock, local(30, 14, 30)) == [ReminderKind.REMIND]
    kinds = [r.dedupe_key.split(":")[0] for r in await reminder_rows(system)]
    assert kinds == ["remind", "remind", "escalate", "remind"]
    async with system.uow() as uow:
        history = await uow.cases.history(case_id)
    assert [h.action for h in history].count(Action.ESCALATE) == 1


async def test_weekend_backlog_gives_one_message_per_case_at_the_next_opening(
    system: Container, clock: FixedClock
) -> None:
    first = await intake_at(system, clock, local(27, 8))
    second = await intake_at(system, clock, local(27, 8, 30))
    assert await pass_at(system, clock, local(27, 17, 30)) == []  # after hours
    assert await pass_at(system, clock, local(29, 9)) == []  # Sunday
    assert await pass_at(system, clock, local(30, 7, 30)) == [
        ReminderKind.REMIND,
        ReminderKind.REMIND,
    ]
    assert {r.case_id for r in await reminder_rows(system)} == {first, second}
    assert await pass_at(system, clock, local(30, 7, 31)) == []


async def test_a_case_on_hold_is_not_reminded_and_is_again_once_resumed(
    system: Container, clock: FixedClock
) -> None:
    case_id = await intake_at(system, clock, local(27, 16, 30))
    lead = actor_of(await member(system, LEAD_ID))
    clock.set(local(27, 16, 45))
    await system.service.hold(
        c.HoldCase(lead, Source.TELEGRAM, origin(), ref="PL-1", reason="chờ khách"),
        system.uow(),
    )
    assert (await case_row(system, case_id)).next_check_at is None
    assert await pass_at(system, clock, local(30, 9)) == []
    assert await pass_at(system, clock, local(30, 15)) == []

    clock.set(local(30, 10))
    await system.service.resume(
        c.ResumeCase(lead, Source.TELEGRAM, origin(), ref="PL-1"), system.uow()
    )
    due = (await case_row(system, case_id)).next_check_at
    assert due is not None and due > local(30, 10)  # the time on hold pushed it back
    assert await pass_at(system, clock, due) == [ReminderKind.REMIND]


async def test_stale_claim_goes_back_to_open_with_a_notice_and_a_card_edit(
    system: Container, clock: FixedClock
) -> None:
    case_id = await intake_at(system, clock, local(30, 8))
    worker = await member(system, WORKER_ID)
    await system.service.claim(
        c.ClaimCase(actor_of(worker), Source.TELEGRAM, origin(), ref="PL-1"), system.uow()
    )
    # Claimed at 08:00: 4 working hours without progress end at 13:30 (lunch excluded).
    assert await pass_at(system, clock, local(30, 13, 29)) == []
    before = len(await outbox_rows(system))
    assert await pass_at(system, clock, local(30, 13, 30)) == [ReminderKind.AUTO_RELEASE]

    row = await case_row(system, case_id)
    assert row.status == CaseStatus.OPEN.value
    assert row.assignee is None and row.claimed_at is None
    new = (await outbox_rows(system))[before:]
    notice = [r for r in new if r.dedupe_key and r.dedupe_key.startswith("auto_release:")]
    assert len(notice) == 1 and notice[0].chat_id == GROUP
    assert "@u7" in notice[0].payload["text"]
    card_edits = [r for r in new if r.card_key == f"case:{case_id}"]
    assert len(card_edits) == 1 and card_edits[0].payload["claim_ref"] == "PL-1"
    async with system.uow() as uow:
        last = (await uow.cases.history(case_id))[-1]
    assert (last.action, last.actor, last.source) == (
        Action.AUTO_RELEASE,
        "scheduler",
        Source.SCHEDULER,
    )

    assert await pass_at(system, clock, local(30, 13, 30)) == []
    # The claim deadline passed long ago; the next reminder keeps the policy's pace.
    assert row.next_check_at == local(30, 15, 30)
    assert await pass_at(system, clock, local(30, 15, 30)) == [ReminderKind.REMIND]


async def test_a_restart_between_passes_repeats_nothing(
    database_url: str, tmp_path: Path, system: Container, clock: FixedClock
) -> None:
    case_id = await intake_at(system, clock, local(27, 16, 30))
    assert await pass_at(system, clock, local(30, 9)) == [ReminderKind.REMIND]
    rows = len(await outbox_rows(system))

    again = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        assert await pass_at(again, clock, local(30, 9)) == []
        assert await pass_at(again, clock, local(30, 10)) == []
        assert len(await outbox_rows(again)) == rows
        assert await pass_at(again, clock, local(30, 11)) == [
            ReminderKind.REMIND,
            ReminderKind.ESCALATE,
        ]
    finally:
        await again.close()
    assert (await case_row(system, case_id)).reminder_count == 2


async def test_two_passes_at_the_same_instant_send_once(
    system: Container, clock: FixedClock
) -> None:
    await intake_at(system, clock, local(27, 16, 30))
    clock.set(local(30, 9))
    deps = ReminderDeps.of(system)
    results = await asyncio.gather(remind_pass(deps, local(30, 9)), remind_pass(deps, local(30, 9)))
    # The reminder and the morning digest each go out once, whichever pass sends them.
    assert sorted(a.kind for r in results for a in r) == [ReminderKind.DIGEST, ReminderKind.REMIND]
    assert len(await reminder_rows(system)) == 1


async def test_dry_run_reports_the_actions_and_writes_nothing(
    system: Container, clock: FixedClock
) -> None:
    case_id = await intake_at(system, clock, local(27, 16, 30))
    before_rows = len(await outbox_rows(system))
    before_case = await case_row(system, case_id)

    assert await pass_at(system, clock, local(30, 9), dry_run=True) == [ReminderKind.REMIND]
    assert len(await outbox_rows(system)) == before_rows
    after = await case_row(system, case_id)
    assert (after.reminder_count, after.next_check_at, after.version) == (
        before_case.reminder_count,
        before_case.next_check_at,
        before_case.version,
    )
    assert await pass_at(system, clock, local(30, 9)) == [ReminderKind.REMIND]


async def test_cli_remind_prints_one_line_per_action_and_refuses_a_bad_instant(
    sqlite_url: str,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    container = await bootstrap(make_settings(sqlite_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(container)
        await intake_at(container, clock, local(27, 16, 30))
    finally:
        await container.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")

    def run(*argv: str) -> int:
        return main(["remind", *argv])

    assert await asyncio.to_thread(run, "--at", "2026-11-30T09:00:00+07:00", "--dry-run") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        f"PL digest -> PL (telegram:{GROUP})",
        f"PL-1 remind -> PL (telegram:{GROUP})",
    ]
    assert "0912345678" not in "\n".join(out)
    assert await asyncio.to_thread(run, "--at", "2026-11-30T09:00") == 0  # local time
    assert capsys.readouterr().out.splitlines()[1].startswith("PL-1 remind")
    assert await asyncio.to_thread(run, "--at", "2026-11-30T09:00") == 0
    again = capsys.readouterr().out.splitlines()
    assert again == ["2026-11-30T09:00:00+07:00: 0 message(s) queued"]

    assert await asyncio.to_thread(run, "--at", "Monday morning") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --at 'Monday morning' is not an ISO 8601 time"]


async def test_progress_on_a_case_still_late_keeps_the_reminder_pace(
    system: Container, clock: FixedClock
) -> None:
    case_id = await intake_at(system, clock, local(20, 8))  # a week late already
    assert await pass_at(system, clock, local(30, 9)) == [ReminderKind.REMIND]

    clock.set(local(30, 9, 30))
    worker = actor_of(await member(system, WORKER_ID))
    await system.service.claim(
        c.ClaimCase(worker, Source.TELEGRAM, origin(), ref="PL-1"), system.uow()
    )

    # Still late (the whole case was due on the 25th), yet the claim does not
    # trigger a reminder of its own: the next one comes at the policy's pace.
    assert await pass_at(system, clock, local(30, 9, 31)) == []
    assert (await case_row(system, case_id)).next_check_at == local(30, 11)
    assert await pass_at(system, clock, local(30, 11)) == [
        ReminderKind.REMIND,
        ReminderKind.ESCALATE,
    ]


async def test_a_case_across_tet_2027_is_due_after_the_holiday_and_reminded_only_then(
    system: Container, clock: FixedClock
) -> None:
    # Wednesday 3 Feb 2027, 15:00; Tết runs Thursday 4 to Wednesday 10 February.
    case_id = await intake_at(system, clock, datetime(2027, 2, 3, 15, tzinfo=HN))
    row = await case_row(system, case_id)
    assert row.step_due_at == datetime(2027, 2, 3, 17, tzinfo=HN)  # claim: 2 working hours
    # 3 working days = 24 h: Wed 2 h, Thu 11th 8 h, Fri 12th 8 h, Mon 15th 6 h.
    assert row.due_at == datetime(2027, 2, 15, 15, tzinfo=HN)

    for day in (4, 5, 8, 9, 10):  # Tết: no reminder, however late the claim
        assert await pass_at(system, clock, datetime(2027, 2, day, 9, tzinfo=HN)) == []
    assert await pass_at(system, clock, datetime(2027, 2, 11, 7, 30, tzinfo=HN)) == [
        ReminderKind.REMIND
    ]
