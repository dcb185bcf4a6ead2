"""The report as an Excel workbook: a summary sheet, the breakdowns, and one row per case
with its working-day figures, so a lead can check any number by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.i18n import Lang, Translator
from bot.reports.formats import DECIMALS, FIGURE_FIELDS
from bot.reports.kpi import Figures, Report
from bot.reports.text import titled
from bot.reports.timeline import Category, Timeline

DATE_FORMAT = "dd/mm/yyyy hh:mm"
NUMBER_FORMAT = "0.00"
RATE_FORMAT = "0.0%"
_BOLD = Font(bold=True)

#: Legal limit shown beside each average of the summary sheet.
_LIMIT_OF_FIELD = {
    "access_days_avg": Category.ACCESS,
    "install_days_avg.urban_domestic": Category.URBAN_DOMESTIC,
    "install_days_avg.rural_domestic": Category.RURAL_DOMESTIC,
    "install_days_avg.non_domestic": Category.NON_DOMESTIC,
    "complaint_resolution_days_avg": Category.COMPLAINT,
}

Cell = str | int | float | datetime | None
_CaseGetter = Callable[[Timeline, Report, Callable[[str | None], str]], Cell]


def _local(at: datetime | None, report: Report) -> datetime | None:
    """Excel has no time zones: local wall time of the utility, without offset."""
    if at is None:
        return None
    return at.astimezone(report.tz).replace(tzinfo=None)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS)


def _days_open(c: Timeline, r: Report) -> float | None:
    return _r(c.days(r.snapshot)) if c.is_open_at(r.snapshot) else None


def _hold_days(c: Timeline, r: Report) -> float:
    until = c.completed_at or c.cancelled_at or r.snapshot
    return round(c.held(until) / c.policy.calendar.working_day, DECIMALS)


def _due(c: Timeline, r: Report) -> datetime | None:
    return _local(c.due_at(c.completed_at or r.snapshot), r)


def _on_time(c: Timeline, r: Report, name: Callable[[str | None], str]) -> str | None:
    if c.on_time is None:
        return None
    return name("report.yes" if c.on_time else "report.no")


#: The case sheet's columns: a stable key (tests and tools find columns by it) and the value.
CASE_COLUMNS: tuple[tuple[str, _CaseGetter], ...] = (
    ("ref", lambda c, r, n: c.record.ref),
    ("external_ref", lambda c, r, n: c.record.external_ref),
    ("team", lambda c, r, n: c.record.team_code),
    ("kind", lambda c, r, n: n(f"kind.{c.record.kind.value}")),
    ("category", lambda c, r, n: n(f"report.cat.{c.category.value}") if c.category else None),
    ("status", lambda c, r, n: n(f"status.{c.record.status.value}")),
    ("assignee", lambda c, r, n: c.record.assignee),
    ("received_at", lambda c, r, n: _local(c.record.received_at, r)),
    ("claimed_at", lambda c, r, n: _local(c.claimed_at, r)),
    ("completed_at", lambda c, r, n: _local(c.completed_at, r)),
    ("cancelled_at", lambda c, r, n: _local(c.cancelled_at, r)),
    ("claim_hours", lambda c, r, n: _r(c.claim_hours)),
    ("hold_days", lambda c, r, n: _hold_days(c, r)),
    ("days_to_complete", lambda c, r, n: _r(c.completion_days)),
    ("days_open", lambda c, r, n: _days_open(c, r)),
    ("target_days", lambda c, r, n: _r(c.target_days)),
    ("due_at", lambda c, r, n: _due(c, r)),
    ("on_time", _on_time),
    ("satisfaction", lambda c, r, n: c.record.satisfaction),
)
_DATE_COLUMNS = frozenset({"received_at", "claimed_at", "completed_at", "cancelled_at", "due_at"})
_NUMBER_COLUMNS = frozenset(
    {"claim_hours", "hold_days", "days_to_complete", "days_open", "target_days"}
)

#: The sheets' keys, in their order; a sheet's name is `report.sheet.<key>` in the
#: reader's language, so tools find a sheet by its place (or by `sheet_name`).
SUMMARY, TEAMS, WORKERS, WEEKS, CASES = "summary", "teams", "workers", "weeks", "cases"
SHEETS = (SUMMARY, TEAMS, WORKERS, WEEKS, CASES)


def sheet_name(tr: Translator, lang: Lang, key: str) -> str:
    return tr.t(lang, f"report.sheet.{key}")


def write_workbook(report: Report, tr: Translator, lang: Lang, path: Path) -> Path:
    def name(key: str | None) -> str:
        return tr.t(lang, key) if key else ""

    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = sheet_name(tr, lang, SUMMARY)
    _summary(summary, report, tr, lang)
    _figure_table(
        wb.create_sheet(sheet_name(tr, lang, TEAMS)),
        [name("report.col.team"), name("report.col.name")],
        [([x.code, x.name], x.figures) for x in report.teams],
        tr,
        lang,
    )
    _figure_table(
        wb.create_sheet(sheet_name(tr, lang, WORKERS)),
        [name("report.col.member"), name("report.col.name"), name("report.col.team")],
        [([w.uid, w.name, w.team], w.figures) for w in report.workers],
        tr,
        lang,
    )
    _figure_table(
        wb.create_sheet(sheet_name(tr, lang, WEEKS)),
        [name("report.col.week_from"), name("report.col.week_to")],
        [([w.week.start, w.week.end], w.figures) for w in report.weeks],
        tr,
        lang,
    )
    _cases(wb.create_sheet(sheet_name(tr, lang, CASES)), report, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _summary(ws: Worksheet, report: Report, tr: Translator, lang: Lang) -> None:
    ws.append([titled(tr, lang, report, "report.title")])
    ws["A1"].font = _BOLD
    ws.append(["from", tr.t(lang, "report.col.from"), report.period.start])
    ws.append(["to", tr.t(lang, "report.col.to"), report.period.end])
    ws.append(
        ["team", tr.t(lang, "report.col.team"), report.team or tr.t(lang, "report.all_teams")]
    )
    ws.append(["snapshot", tr.t(lang, "report.col.snapshot"), _local(report.snapshot, report)])
    ws.append([])
    ws.append(
        [
            "key",
            tr.t(lang, "report.col.figure"),
            tr.t(lang, "report.col.value"),
            tr.t(lang, "report.col.limit"),
        ]
    )
    for cell in ws[ws.max_row]:
        cell.font = _BOLD
    for key, get in FIGURE_FIELDS:
        value = get(report.figures)
        category = _LIMIT_OF_FIELD.get(key)
        limit = report.legal_limits.get(category.value) if category else None
        ws.append([key, tr.t(lang, f"report.fig.{key}"), _cell(value), limit])
        _format(ws.cell(ws.max_row, 3), key)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 52
    ws.column_dimensions["C"].width = 14
    ws["C2"].number_format = ws["C3"].number_format = "dd/mm/yyyy"
    ws["C5"].number_format = DATE_FORMAT


def _cell(value: float | int | None) -> float | int | None:
    if isinstance(value, float):
        return round(value, DECIMALS)
    return value


def _format(cell: Any, key: str) -> None:
    if key == "on_time_rate":
        cell.number_format = RATE_FORMAT
    elif key.endswith("_avg") or "_avg." in key:
        cell.number_format = NUMBER_FORMAT


def _figure_table(
    ws: Worksheet,
    heads: list[str],
    rows: list[tuple[list[Any], Figures]],
    tr: Translator,
    lang: Lang,
) -> None:
    ws.append([*heads, *(tr.t(lang, f"report.fig.{k}") for k, _ in FIGURE_FIELDS)])
    for cell in ws[1]:
        cell.font = _BOLD
    for lead, f in rows:
        ws.append([*lead, *(_cell(get(f)) for _, get in FIGURE_FIELDS)])
        for i, (key, _) in enumerate(FIGURE_FIELDS, start=len(heads) + 1):
            _format(ws.cell(ws.max_row, i), key)
    for i in range(1, len(heads) + len(FIGURE_FIELDS) + 1):
        ws.column_dimensions[get_column_letter(i)].width = 16
    ws.freeze_panes = "A2"


def _cases(ws: Worksheet, report: Report, name: Callable[[str | None], str]) -> None:
    ws.append([name(f"report.col.{k}") for k, _ in CASE_COLUMNS])
    for cell in ws[1]:
        cell.font = _BOLD
    for case in report.cases:
        ws.append([get(case, report, name) for _, get in CASE_COLUMNS])
        for i, (key, _) in enumerate(CASE_COLUMNS, start=1):
            if key in _DATE_COLUMNS:
                ws.cell(ws.max_row, i).number_format = DATE_FORMAT
            elif key in _NUMBER_COLUMNS:
                ws.cell(ws.max_row, i).number_format = NUMBER_FORMAT
    for i in range(1, len(CASE_COLUMNS) + 1):
        ws.column_dimensions[get_column_letter(i)].width = 15
    ws.freeze_panes = "B2"
