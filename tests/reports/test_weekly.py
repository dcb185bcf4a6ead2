"""The Monday report: every team chat and every admin, once per week whatever happens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.bootstrap import Container
from bot.reports.service import ReportDeps
from bot.reports.weekly import (
    is_weekly_report_due,
    report_week,
    weekly_report_pass,
    weekly_report_tick,
)
from storage import tables as t
from tests.reports.conftest import DL_CHAT, HN, PL_CHAT, nov

MONDAY_0730 = nov(30, 7, 30)


async def outbox(container: Container) -> list[dict[str, Any]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.outbox.c.chat_id, t.outbox.c.dedupe_key, t.outbox.c.payload)
            .where(t.outbox.c.dedupe_key.like("weekly_report:%"))
            .order_by(t.outbox.c.id)
        )
        return [dict(r._mapping) for r in rows]


async def test_each_team_chat_and_each_admin_gets_last_weeks_report_once(
    container: Container, november: dict[str, str]
) -> None:
    deps = ReportDeps.of(container)
    sent = await weekly_report_pass(deps, MONDAY_0730)
    assert {(r.team, r.chat_id) for r in sent} == {("PL", PL_CHAT), ("DL", DL_CHAT), (None, "1")}
    rows = await outbox(container)
    assert len(rows) == 9  # text, chart, workbook for each of the three
    pl = [r for r in rows if r["chat_id"] == PL_CHAT]
    assert [r["dedupe_key"].rsplit(":", 1)[1] for r in pl] == ["text", "chart", "workbook"]
    assert all(":2026-11-23:" in r["dedupe_key"] for r in rows)
    text = pl[0]["payload"]["text"]
    assert "PL · Phủ Lý · 23/11/2026 – 29/11/2026" in text
    assert "Tiếp nhận 4 · Hoàn thành 3" in text
    assert pl[1]["payload"]["photo_path"].endswith(".png")
    assert pl[2]["payload"]["document_path"].endswith(".xlsx")
    admin = [r for r in rows if r["chat_id"] == "1"]
    assert "tất cả các đội" in admin[0]["payload"]["text"]

    assert await weekly_report_pass(deps, MONDAY_0730) == []
    assert await weekly_report_pass(deps, nov(30, 15)) == []  # a later catch-up run
    assert len(await outbox(container)) == 9


async def test_a_new_team_chat_is_served_by_a_later_pass_of_the_same_week(
    container: Container, november: dict[str, str]
) -> None:
    from bot.domain.people import ChatBinding

    deps = ReportDeps.of(container)
    await weekly_report_pass(deps, MONDAY_0730)
    async with container.uow() as uow:
        await uow.teams.bind_chat("PL", ChatBinding("telegram", "-1009"))
        await uow.commit()
    again = await weekly_report_pass(deps, nov(30, 9))
    assert [(r.team, r.chat_id) for r in again] == [("PL", "-1009")]


def test_the_week_reported_and_when_it_is_due(container: Container) -> None:
    policy = container.policy
    week = report_week(policy, MONDAY_0730)
    assert (week.start.isoformat(), week.end.isoformat()) == ("2026-11-23", "2026-11-29")
    assert not is_weekly_report_due(policy, nov(30, 7, 29))
    assert is_weekly_report_due(policy, MONDAY_0730)
    assert is_weekly_report_due(policy, datetime(2026, 12, 6, 23, 0, tzinfo=HN))  # Sunday
    assert not is_weekly_report_due(policy, datetime(2026, 12, 7, 7, 0, tzinfo=HN))


async def test_the_scheduler_tick_sends_on_the_report_day_only(
    container: Container, november: dict[str, str]
) -> None:
    deps = ReportDeps.of(container)
    assert await weekly_report_tick(deps, nov(30, 7, 29)) == []  # Monday, before 07:30
    assert await weekly_report_tick(deps, datetime(2026, 12, 2, 9, tzinfo=HN)) == []  # Wed
    assert len(await weekly_report_tick(deps, nov(30, 8))) == 3
    assert await weekly_report_tick(deps, nov(30, 8, 1)) == []  # the next tick: done already
    assert len(await outbox(container)) == 9
