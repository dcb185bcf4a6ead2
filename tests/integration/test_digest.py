"""The morning digest: once per working day and team chat, with figures worked out by hand."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Action, CaseKind, Role, Source
from bot.domain.people import ChatBinding, Team
from bot.reminders import ReminderAction, ReminderDeps, ReminderKind, remind_pass
from bot.services import commands as c
from tests.conftest import make_settings
from tests.integration.helpers import GROUP, actor_of, add_member, intake_cmd, origin, seed_team
from tests.integration.test_reminders import (
    LEAD_ID,
    WORKER_ID,
    local,
    member,
    outbox_rows,
    system,
)

__all__ = ["system"]  # the fixture, shared with the reminder tests


async def digests_at(
    container: Container, clock: FixedClock, at: datetime, *, dry_run: bool = False
) -> list[ReminderAction]:
    clock.set(at)
    actions = await remind_pass(ReminderDeps.of(container), at, dry_run=dry_run)
    return [a for a in actions if a.kind is ReminderKind.DIGEST]


async def digest_rows(container: Container) -> list[str]:
    return [
        r.payload["text"]
        for r in await outbox_rows(container)
        if (r.dedupe_key or "").startswith("digest:")
    ]


async def intake(
    container: Container, clock: FixedClock, ext: str, at: datetime, kind: CaseKind
) -> str:
    clock.set(at)
    cmd = dataclasses.replace(intake_cmd(ext, kind), received_at=at)
    case, _ = await container.service.intake(cmd, container.uow())
    return case.ref


async def step(
    container: Container, clock: FixedClock, at: datetime, action: Action, ref: str
) -> None:
    """One worker command at `at`, as the worker would type it."""
    clock.set(at)
    who = actor_of(await member(container, WORKER_ID))
    s, o, svc, uow = Source.TELEGRAM, origin(), container.service, container.uow()
    match action:
        case Action.CLAIM:
            await svc.claim(c.ClaimCase(who, s, o, ref=ref), uow)
        case Action.ESTIMATE:
            await svc.estimate(
                c.RecordEstimate(who, s, o, ref=ref, customer_cost=1, utility_cost=2), uow
            )
        case Action.INSTALL:
            await svc.install(c.RecordInstall(who, s, o, ref=ref, meter_serial="M1"), uow)
        case Action.HOLD:
            await svc.hold(c.HoldCase(who, s, o, ref=ref, reason="khách đi vắng"), uow)
        case _:
            await svc.report_step(c.ReportStep(who, s, o, ref=ref, action=action, note="ok"), uow)


async def a_week_of_cases(container: Container, clock: FixedClock) -> dict[str, str]:
    """Cases whose Monday-morning figures are worked out by hand in the test below.

    Targets (built-in policy): claim within 2 working hours, urban domestic install
    within 3 working days (24 working hours), a complaint resolved within 3.
    """
    new, complaint = CaseKind.NEW_CONNECTION, CaseKind.METER_COMPLAINT
    refs = {
        # Installed on Friday 27th: Friday's completion.
        "done_friday": await intake(container, clock, "A", local(25, 13), new),
        # Received a week earlier, never claimed: late on both clocks.
        "late": await intake(
            container, clock, "B", datetime(2026, 11, 20, 8, tzinfo=local(1, 0).tzinfo), new
        ),
        # Wed 13:00 + 24 working hours = Monday 11:30: due today; surveyed, so no step due.
        "due_today": await intake(container, clock, "C", local(25, 13), new),
        # Friday 16:30: the claim is due Monday 09:00, so not late at 07:30.
        "fresh": await intake(container, clock, "D", local(27, 16, 30), new),
        # On hold: counted as in progress, never as late.
        "held": await intake(container, clock, "E", local(27, 9), new),
        # A complaint resolved on Thursday: not Friday's completion.
        "done_thursday": await intake(container, clock, "F", local(26, 8), complaint),
    }
    done = refs["done_friday"]
    await step(container, clock, local(26, 8), Action.CLAIM, done)
    await step(container, clock, local(26, 9), Action.SURVEY, done)
    await step(container, clock, local(26, 10), Action.ESTIMATE, done)
    await step(container, clock, local(26, 11), Action.AGREE, done)
    await step(container, clock, local(27, 10), Action.INSTALL, done)
    await step(container, clock, local(27, 13), Action.CLAIM, refs["due_today"])
    await step(container, clock, local(27, 16), Action.SURVEY, refs["due_today"])
    await step(container, clock, local(27, 9, 30), Action.CLAIM, refs["held"])
    await step(container, clock, local(27, 10), Action.HOLD, refs["held"])
    thursday = refs["done_thursday"]
    await step(container, clock, local(26, 8, 30), Action.CLAIM, thursday)
    await step(container, clock, local(26, 9), Action.INSPECT, thursday)
    await step(container, clock, local(26, 11), Action.RESOLVE, thursday)
    return refs


async def test_monday_digest_counts_what_is_open_due_late_and_done_on_friday(
    system: Container, clock: FixedClock
) -> None:
    refs = await a_week_of_cases(system, clock)

    sent = await digests_at(system, clock, local(30, 7, 30))

    assert [(a.ref, a.chat_id) for a in sent] == [("PL", GROUP)]
    assert sent[0].text.splitlines() == [
        "📋 Tổng hợp sáng 30/11/2026 — Đội PL",
        "Đang xử lý: 4 · Chưa ai nhận: 2",
        "Đến hạn hôm nay: 1 · Quá hạn: 1",
        "Hoàn thành ngày 27/11: 1",
        f"Quá hạn: {refs['late']} — gõ /overdue để xem",
    ]
    assert await digest_rows(system) == [sent[0].text]
    assert "0912" not in sent[0].text


async def test_one_digest_per_working_day_from_the_policy_time_on(
    system: Container, clock: FixedClock
) -> None:
    assert await digests_at(system, clock, local(27, 7, 29)) == []  # before 07:30
    assert len(await digests_at(system, clock, local(27, 7, 30))) == 1
    assert await digests_at(system, clock, local(27, 7, 30)) == []  # same instant
    assert await digests_at(system, clock, local(27, 16)) == []  # later that day
    assert await digests_at(system, clock, local(28, 9)) == []  # Saturday
    assert await digests_at(system, clock, local(29, 9)) == []  # Sunday
    monday = await digests_at(system, clock, local(30, 10, 15))  # a late start catches up
    assert len(monday) == 1
    assert "Hoàn thành ngày 27/11: 0" in monday[0].text
    assert len(await digest_rows(system)) == 2


async def test_a_restart_does_not_repeat_the_digest(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    settings = make_settings(database_url, tmp_path)
    first = await bootstrap(settings, clock=clock, channels={})
    try:
        await seed_team(first)
        await add_member(first, LEAD_ID, "Trưởng nhóm Lan", Role.LEAD)
        assert len(await digests_at(first, clock, local(30, 7, 30))) == 1
    finally:
        await first.close()
    second = await bootstrap(settings, clock=clock, channels={})
    try:
        assert await digests_at(second, clock, local(30, 8)) == []
        assert len(await digest_rows(second)) == 1
    finally:
        await second.close()


async def test_dry_run_shows_the_digest_and_queues_nothing(
    system: Container, clock: FixedClock
) -> None:
    shown = await digests_at(system, clock, local(30, 7, 30), dry_run=True)
    assert [a.describe() for a in shown] == [f"PL digest -> PL (telegram:{GROUP})"]
    assert await digest_rows(system) == []
    assert len(await digests_at(system, clock, local(30, 7, 30))) == 1


async def test_the_digest_time_comes_from_the_policy_file(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[digest]\ntime = "08:15"\n', encoding="utf-8")
    container = await bootstrap(
        make_settings(database_url, tmp_path, policy_file=policy), clock=clock, channels={}
    )
    try:
        await seed_team(container)
        assert await digests_at(container, clock, local(30, 8, 14)) == []
        assert len(await digests_at(container, clock, local(30, 8, 15))) == 1
    finally:
        await container.close()


async def test_a_team_set_to_english_gets_it_in_english(
    system: Container, clock: FixedClock
) -> None:
    async with system.uow() as uow:
        await uow.teams.add(Team("HN", "Hanoi crew", (ChatBinding("telegram", "-2002"),), "en"))
        await uow.commit()
    sent = {a.ref: a.text for a in await digests_at(system, clock, local(30, 7, 30))}
    assert sent["HN"].splitlines()[:2] == [
        "📋 Morning summary 30/11/2026 — Hanoi crew",
        "In progress: 0 · Unclaimed: 0",
    ]
    assert sent["PL"].startswith("📋 Tổng hợp sáng")
