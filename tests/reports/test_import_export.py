"""Bulk import: checked whole before anything is written, idempotent, silent in chats;
export writes what import reads, and the report survives the round trip."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Action, CaseStatus
from bot.reports.formats import report_json
from bot.reports.period import Period
from bot.reports.service import ReportDeps, build
from storage import tables as t
from storage.exporter import export_rows, rows_to_csv
from storage.import_check import KNOWN_COLUMNS, ImportFailed
from storage.importer import import_cases
from tests.conftest import make_settings
from tests.integration.helpers import intake_cmd
from tests.reports.conftest import AS_OF, HN, HUNG, MINH, seed_people

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
HEADER = (
    "external_ref,kind,team,area,purpose,customer_name,customer_phone,address,description,"
    "received_at,claimed_at,surveyed_at,estimated_at,agreed_at,installed_at,inspected_at,"
    "resolved_at,closed_at,cancelled_at,assignee,customer_cost,utility_cost,meter_serial,"
    "satisfaction,holds"
)


def line(**cells: str) -> str:
    """A CSV line in the header's order; cells not given are empty."""
    defaults = {
        "customer_name": "Trần Văn Hưng",
        "customer_phone": "0912 345 678",
        "address": '"12 Trần Hưng Đạo, Phủ Lý"',
        "team": "PL",
    }
    values = defaults | cells
    return ",".join(values.get(name, "") for name in KNOWN_COLUMNS)


GOOD = "\n".join(
    [
        HEADER,
        line(
            external_ref="A",
            kind="new_connection",
            area="urban",
            purpose="domestic",
            received_at="2026-11-20T16:00:00+07:00",
            claimed_at="2026-11-20T16:30:00+07:00",
            surveyed_at="2026-11-23T08:00:00+07:00",
            estimated_at="2026-11-23T09:00:00+07:00",
            agreed_at="2026-11-23T10:00:00+07:00",
            installed_at="2026-11-25T10:30:00+07:00",
            closed_at="2026-11-26T09:00:00+07:00",
            assignee=MINH.uid,
            customer_cost='"1,5tr"',
            utility_cost="2000000",
            meter_serial="CT-1",
            satisfaction="9",
        ),
        line(
            external_ref="B",
            kind="mv_connection",
            received_at="2026-11-16T08:00:00+07:00",
            claimed_at="2026-11-16T09:00:00+07:00",
            surveyed_at="2026-11-17T10:00:00+07:00",
            agreed_at="2026-11-23T14:00:00+07:00",
            installed_at="2026-11-26T10:00:00+07:00",
            assignee=HUNG.uid,
            holds="2026-11-17T11:00:00+07:00/2026-11-23T08:30:00+07:00",
        ),
        line(
            external_ref="C",
            kind="meter_complaint",
            received_at="2026-11-23T08:00:00+07:00",
            claimed_at="2026-11-23T08:30:00+07:00",
            assignee=MINH.uid,
            holds="2026-11-23T10:00:00+07:00/",
        ),
        line(
            external_ref="D",
            kind="contract_change",
            received_at="2026-11-03T09:00:00+07:00",
            cancelled_at="2026-11-04T09:00:00+07:00",
        ),
    ]
)


async def load(container: Container, text: str, **kw: Any) -> Any:
    return await import_cases(container.engine, io.StringIO(text), container.policy, AS_OF, **kw)


async def count(container: Container, table: sa.Table) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_imported_cases_have_their_status_history_and_figures(
    container: Container,
) -> None:
    steps: list[tuple[str, int, int]] = []
    result = await load(container, GOOD, progress=lambda p, d, n: steps.append((p, d, n)))
    assert (result.rows, result.loaded, result.skipped) == (4, 4, 0)
    assert steps[-1] == ("load", 4, 4) and ("check", 4, 4) in steps

    async with container.uow() as uow:
        a = await uow.cases.get_by_external_ref("import", "A")
        b = await uow.cases.get_by_external_ref("import", "B")
        c = await uow.cases.get_by_external_ref("import", "C")
        d = await uow.cases.get_by_external_ref("import", "D")
        assert a and b and c and d and b.id is not None
        history = await uow.cases.history(b.id)
    assert (a.status, b.status, c.status, d.status) == (
        CaseStatus.CLOSED,
        CaseStatus.INSTALLED,
        CaseStatus.ON_HOLD,
        CaseStatus.CANCELLED,
    )
    assert a.ref.startswith("PL-") and a.customer.phone == "0912345678"
    assert a.estimate is not None and a.estimate.customer_cost == 1_500_000
    assert a.satisfaction == 9 and a.meter is not None and a.meter.serial == "CT-1"
    assert c.held_from is CaseStatus.CLAIMED and c.assignee == MINH.uid
    assert b.paused.total_seconds() == 29.5 * 3600
    assert [(h.action, h.at.astimezone(HN).strftime("%d %H:%M")) for h in history] == [
        (Action.INTAKE, "16 08:00"),
        (Action.CLAIM, "16 09:00"),
        (Action.SURVEY, "17 10:00"),
        (Action.HOLD, "17 11:00"),
        (Action.RESUME, "23 08:30"),
        (Action.AGREE, "23 14:00"),
        (Action.INSTALL, "26 10:00"),
    ]
    assert [h.status for h in history][3:5] == [CaseStatus.ON_HOLD, CaseStatus.SURVEYED]
    assert await count(container, t.outbox) == 0  # nothing posted to any chat

    got = report_json(await build(ReportDeps.of(container), NOVEMBER, None, AS_OF))
    assert (got["received"], got["completed"], got["open"], got["overdue"]) == (4, 2, 1, 0)
    assert got["install_days_avg"]["urban_domestic"] == pytest.approx(1.5, abs=0.01)
    assert got["access_days_avg"] == pytest.approx(3.5625, abs=0.01)
    assert got["satisfaction_avg"] == pytest.approx(9.0)


async def test_importing_the_same_file_twice_loads_nothing_twice(container: Container) -> None:
    await load(container, GOOD)
    events = await count(container, t.case_events)
    again = await load(container, GOOD)
    assert (again.loaded, again.skipped) == (0, 4)
    assert await count(container, t.cases) == 4
    assert await count(container, t.case_events) == events


async def test_a_row_an_intake_token_filed_already_is_skipped_not_duplicated(
    container: Container,
) -> None:
    """external_ref is unique per integration, but an import never makes a second case."""
    await container.service.intake(intake_cmd("B"), container.uow())
    result = await load(container, GOOD)
    assert (result.loaded, result.skipped) == (3, 1)
    async with container.engine.connect() as conn:
        rows = await conn.execute(sa.select(t.cases.c.external_ref, t.cases.c.integration))
        assert sorted(rows.all()) == [
            ("A", "import"),
            ("B", "api:intake"),
            ("C", "import"),
            ("D", "import"),
        ]


async def test_a_bad_row_is_reported_by_line_and_column_and_nothing_is_loaded(
    container: Container,
) -> None:
    bad = "\n".join(
        [
            GOOD,
            line(external_ref="E", kind="meter_complaint", received_at="2026-11-03 09:00"),
            line(
                external_ref="A",
                kind="new_connection",
                received_at="2026-11-03T09:00:00+07:00",
                installed_at="2026-11-04T09:00:00+07:00",
                customer_phone="12345",
                team="XX",
            ),
            line(
                external_ref="G",
                kind="meter_complaint",
                received_at="2026-11-03T09:00:00+07:00",
                claimed_at="2026-11-02T09:00:00+07:00",
                inspected_at="2026-11-04T09:00:00+07:00",
                resolved_at="2026-11-05T09:00:00+07:00",
                surveyed_at="2026-11-04T09:00:00+07:00",
                assignee="telegram:404",
                satisfaction="11",
            ),
        ]
    )
    with pytest.raises(ImportFailed) as failed:
        await load(container, bad)
    found = {(e.line, e.column) for e in failed.value.errors}
    assert found == {
        (6, "received_at"),  # no offset
        (7, "external_ref"),  # A is on line 2 already
        (7, "team"),
        (7, "customer_phone"),
        (7, "installed_at"),  # claimed_at .. agreed_at are empty
        (8, "claimed_at"),  # before received_at
        (8, "surveyed_at"),  # not a step of a meter complaint
        (8, "assignee"),  # no such member
        (8, "satisfaction"),
    }
    messages = " ".join(str(e) for e in failed.value.errors)
    assert "line 7, column team: no team XX" in messages
    assert "12345" not in messages  # the phone number is personal data
    assert await count(container, t.cases) == 0


async def test_header_problems_stop_the_import(container: Container) -> None:
    with pytest.raises(ImportFailed) as failed:
        await load(container, "external_ref,kind,colour\nX,meter_complaint,red\n")
    found = {(e.line, e.column) for e in failed.value.errors}
    assert (1, "colour") in found and (1, "received_at") in found and (1, "team") in found


async def test_export_then_import_into_an_empty_database_gives_the_same_report(
    container: Container, november: dict[str, str], tmp_path: Path
) -> None:
    async with container.uow() as uow:
        rows = await export_rows(uow.connection, container.policy)
    text = rows_to_csv(rows)
    assert text.splitlines()[0] == ",".join(KNOWN_COLUMNS)
    assert len(rows) == 11

    target = tmp_path / "copy"
    target.mkdir()
    settings = make_settings(f"sqlite+aiosqlite:///{target / 'copy.db'}", target)
    copy = await bootstrap(settings, clock=FixedClock(AS_OF), channels={})
    try:
        await seed_people(copy)
        result = await load(copy, text)
        assert result.loaded == 11
        for period in (NOVEMBER, Period.month(2026, 10), Period.week_of(date(2026, 11, 23))):
            original = report_json(await build(ReportDeps.of(container), period, None, AS_OF))
            again = report_json(await build(ReportDeps.of(copy), period, None, AS_OF))
            assert again == original, period
        async with copy.uow() as uow:
            assert rows_to_csv(await export_rows(uow.connection, copy.policy)) == text
    finally:
        await copy.close()


async def test_export_keeps_to_the_received_period(
    container: Container, november: dict[str, str]
) -> None:
    since, until = Period(date(2026, 11, 20), date(2026, 11, 25)).bounds(HN)
    async with container.uow() as uow:
        rows = await export_rows(uow.connection, container.policy, since, until)
    assert [r["external_ref"] for r in rows] == ["C1", "C11", "C7"]
    c11 = rows[1]
    assert c11["holds"] == "2026-11-23T10:00:00+07:00/" and c11["claimed_at"]
    assert c11["assignee"] == MINH.uid and c11["inspected_at"] == ""


async def test_a_finished_case_whose_personal_data_was_purged_still_imports(
    container: Container,
) -> None:
    times = {
        "received_at": "2026-11-03T09:00:00+07:00",
        "claimed_at": "2026-11-03T09:30:00+07:00",
        "resolved_at": "2026-11-03T15:00:00+07:00",
        "closed_at": "2026-11-04T09:00:00+07:00",
    }
    purged = line(
        external_ref="P",
        kind="contract_change",
        customer_name="(đã ẩn)",
        customer_phone="",
        address="",
        assignee=MINH.uid,
        **times,
    )
    still_open = line(
        external_ref="Q",
        kind="contract_change",
        customer_phone="",
        address="",
        received_at=times["received_at"],
    )
    with pytest.raises(ImportFailed) as failed:
        await load(container, "\n".join([HEADER, purged, still_open]))
    assert {(e.line, e.column) for e in failed.value.errors} == {
        (3, "customer_phone"),
        (3, "address"),
    }
    assert (await load(container, "\n".join([HEADER, purged]))).loaded == 1
