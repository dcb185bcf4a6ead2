"""The report service and the weekly report on the in-memory unit of work.

The hand-computed November of tests/reports/conftest.py is played through the case
service onto the fakes; the figures must come out as on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.domain import errors
from bot.domain.clock import FixedClock
from bot.i18n import Lang, Translator
from bot.reports.formats import report_json
from bot.reports.period import Period
from bot.reports.service import ReportDeps, ReportService, build
from bot.reports.weekly import PARTS, weekly_report_pass, weekly_report_tick
from bot.services.cases import CaseService
from bot.sla.policy_file import load_policy
from tests.reports.conftest import (
    ADMIN,
    AS_OF,
    DL_CHAT,
    DL_LEAD,
    HN,
    LEAD,
    MINH,
    PL_CHAT,
    Desk,
    actor,
    play_november,
    seed_people,
)
from tests.unit.fakes import FakeUnitOfWork

POLICY = load_policy(None)
TR = Translator(tz=POLICY.calendar.tz)
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
MONDAY_0730 = datetime(2026, 11, 30, 7, 30, tzinfo=HN)


@dataclass
class FakeApp:
    """What the reports' Desk plays the cases through: the service, on the fakes."""

    service: CaseService
    store: FakeUnitOfWork

    def uow(self) -> FakeUnitOfWork:
        return self.store


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(AS_OF)


@pytest.fixture
async def uow(clock: FixedClock) -> FakeUnitOfWork:
    app = FakeApp(CaseService(POLICY, clock), FakeUnitOfWork())
    await seed_people(app)  # type: ignore[arg-type]
    await play_november(Desk(app, clock))  # type: ignore[arg-type]
    return app.store


@pytest.fixture
def deps(uow: FakeUnitOfWork, clock: FixedClock, tmp_path: Path) -> ReportDeps:
    return ReportDeps(lambda: uow, POLICY, TR, clock, tmp_path, frozenset({ADMIN}))


def approx(value: float) -> Any:
    return pytest.approx(value, abs=0.01)


async def test_the_hand_computed_november_comes_out_of_the_fakes(deps: ReportDeps) -> None:
    got = report_json(await build(deps, NOVEMBER, None, AS_OF))
    assert (got["received"], got["completed"], got["open"], got["overdue"]) == (10, 7, 3, 1)
    assert got["on_time_rate"] == approx(5 / 7)
    assert got["install_days_avg"] == {
        "urban_domestic": approx(1.5),
        "rural_domestic": approx(2.875),
        "non_domestic": approx(6.5),
    }
    assert got["claim_hours_avg"] == approx(7.75 / 8)
    assert [(t["team"], t["received"]) for t in got["by_team"]] == [("DL", 1), ("PL", 9)]
    pl = report_json(await build(deps, NOVEMBER, "PL", AS_OF))
    assert (pl["received"], pl["completed"], pl["open"], pl["overdue"]) == (9, 6, 3, 1)


async def test_a_worker_and_another_teams_lead_are_refused_before_any_figure(
    deps: ReportDeps,
) -> None:
    reports = ReportService(deps)
    with pytest.raises(errors.Forbidden):
        await reports.messages(actor(MINH), NOVEMBER, "PL", Lang.VI)
    with pytest.raises(errors.NotMember):
        await reports.messages(actor(DL_LEAD), NOVEMBER, "PL", Lang.VI)
    with pytest.raises(errors.Forbidden):  # every team: admins only
        await reports.messages(actor(LEAD), NOVEMBER, None, Lang.VI)
    assert not (deps.media_dir / "reports").exists()


async def test_a_lead_gets_the_summary_the_chart_and_the_workbook(deps: ReportDeps) -> None:
    summary, chart, workbook = await ReportService(deps).messages(
        actor(LEAD), NOVEMBER, "PL", Lang.VI
    )
    assert summary.text and summary.photo_path is None
    assert chart.photo_path is not None and workbook.document_path is not None
    files = [Path(chart.photo_path), Path(workbook.document_path)]
    assert [await asyncio.to_thread(f.is_file) for f in files] == [True, True]
    assert {f.parent for f in files} == {deps.media_dir / "reports"}


async def test_the_weekly_report_reaches_each_team_chat_and_the_admin_once(
    deps: ReportDeps, uow: FakeUnitOfWork
) -> None:
    sent = await weekly_report_pass(deps, MONDAY_0730)
    assert {(r.team, r.chat_id) for r in sent} == {
        ("PL", PL_CHAT),
        ("DL", DL_CHAT),
        (None, ADMIN.partition(":")[2]),  # the all-teams report, in the admin's private chat
    }
    keys = [i.dedupe_key or "" for i in uow.outbox.items]
    assert len(keys) == len(sent) * len(PARTS)
    assert f"weekly_report:2026-11-23:PL:telegram:{PL_CHAT}:chart" in keys
    assert await weekly_report_pass(deps, MONDAY_0730) == []  # a second pass: nothing
    assert len(uow.outbox.items) == len(keys)


async def test_the_weekly_tick_waits_for_its_day_and_time(deps: ReportDeps) -> None:
    assert await weekly_report_tick(deps, datetime(2026, 11, 30, 7, 29, tzinfo=HN)) == []
    assert await weekly_report_tick(deps, datetime(2026, 12, 2, 9, tzinfo=HN)) == []  # Wed
    assert len(await weekly_report_tick(deps, datetime(2026, 11, 30, 8, tzinfo=HN))) == 3
