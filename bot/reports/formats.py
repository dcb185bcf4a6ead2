"""The report as data: the contract's JSON, and a CSV with every figure of every scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from bot.reports.kpi import Figures, Report
from bot.reports.timeline import INSTALL_CATEGORIES

#: Decimals kept in machine-readable output: far below the 0.01 day anyone reads.
DECIMALS = 4


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS)


def report_json(report: Report) -> dict[str, Any]:
    """Exactly the fields of the contract's "Report" section."""
    f = report.figures
    return {
        "from": report.period.start.isoformat(),
        "to": report.period.end.isoformat(),
        "team": report.team,
        "received": f.received,
        "completed": f.completed,
        "open": f.open,
        "overdue": f.overdue,
        "on_time_rate": _round(f.on_time_rate),
        "access_days_avg": _round(f.access_days_avg),
        "install_days_avg": {
            c.value: _round(f.install_days_avg.get(c)) for c in INSTALL_CATEGORIES
        },
        "complaint_resolution_days_avg": _round(f.complaint_resolution_days_avg),
        "claim_hours_avg": _round(f.claim_hours_avg),
        "satisfaction_avg": _round(f.satisfaction_avg),
        "by_team": [
            {
                "team": t.code,
                "received": t.figures.received,
                "completed": t.figures.completed,
                "on_time_rate": _round(t.figures.on_time_rate),
            }
            for t in report.teams
        ],
        "by_worker": [
            {
                "member": w.uid,
                "name": w.name,
                "completed": w.figures.completed,
                "days_avg": _round(w.figures.days_avg),
                "on_time_rate": _round(w.figures.on_time_rate),
            }
            for w in report.workers
        ],
    }


#: Every figure, by a stable column name, in report order (shared with the workbook).
FIGURE_FIELDS: tuple[tuple[str, Callable[[Figures], float | int | None]], ...] = (
    ("received", lambda f: f.received),
    ("completed", lambda f: f.completed),
    ("on_time", lambda f: f.on_time),
    ("on_time_rate", lambda f: f.on_time_rate),
    ("open", lambda f: f.open),
    ("overdue", lambda f: f.overdue),
    ("access_days_avg", lambda f: f.access_days_avg),
    *(
        (f"install_days_avg.{c.value}", (lambda f, c=c: f.install_days_avg.get(c)))
        for c in INSTALL_CATEGORIES
    ),
    ("complaint_resolution_days_avg", lambda f: f.complaint_resolution_days_avg),
    ("claim_hours_avg", lambda f: f.claim_hours_avg),
    ("satisfaction_avg", lambda f: f.satisfaction_avg),
    ("days_avg", lambda f: f.days_avg),
)


def _value(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{round(value, DECIMALS):g}"


def report_csv(report: Report) -> str:
    """One row per scope: the whole report, each team, each worker, each week of the trend."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "code", "name", "from", "to", *(n for n, _ in FIGURE_FIELDS)])
    start, end = report.period.start.isoformat(), report.period.end.isoformat()

    def row(scope: str, code: str, name: str, frm: str, to: str, f: Figures) -> None:
        writer.writerow([scope, code, name, frm, to, *(_value(get(f)) for _, get in FIGURE_FIELDS)])

    row("all", report.team or "", "", start, end, report.figures)
    for t in report.teams:
        row("team", t.code, t.name, start, end, t.figures)
    for w in report.workers:
        row("worker", w.uid, w.name, start, end, w.figures)
    for wk in report.weeks:
        row(
            "week",
            wk.week.start.isoformat(),
            "",
            wk.week.start.isoformat(),
            wk.week.end.isoformat(),
            wk.figures,
        )
    return out.getvalue()
