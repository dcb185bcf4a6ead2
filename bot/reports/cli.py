"""`dispatchbot report`, `dispatchbot import cases`, `dispatchbot export cases`.

Kept beside the reports rather than in `bot/cli.py`, which only registers them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import Settings
from bot.reports.kpi import Report

if TYPE_CHECKING:
    from bot.bootstrap import Container

REPORT_FORMATS = ("text", "csv", "xlsx", "json")
EXPORT_FORMATS = ("csv", "xlsx")
BAR_WIDTH = 30


class UsageProblem(Exception):
    """A bad option value; printed as one `error:` line, exit status 2."""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the three commands on the main parser."""
    report = sub.add_parser("report", help="the KPI report")
    _dates(report)
    report.add_argument("--team", metavar="CODE", help="one team's code (default: every team)")
    report.add_argument(
        "--member", metavar="UID", help="one person's figures only, e.g. telegram:123"
    )
    report.add_argument("--format", choices=REPORT_FORMATS, default="text")
    report.add_argument("--out", metavar="FILE", help="write here instead of standard output")

    imp = sub.add_parser("import", help="load cases in bulk").add_subparsers(
        dest="import_what", required=True
    )
    cases_in = imp.add_parser("cases", help="load cases from a CSV file (see docs/reports.md)")
    cases_in.add_argument("file", type=Path)

    exp = sub.add_parser("export", help="write cases as `import` reads them").add_subparsers(
        dest="export_what", required=True
    )
    cases_out = exp.add_parser("cases", help="cases received between --from and --to")
    _dates(cases_out)
    cases_out.add_argument("--format", choices=EXPORT_FORMATS, default="csv")
    cases_out.add_argument("--out", metavar="FILE", help="write here instead of standard output")


def _dates(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD (included)")


def _date(option: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageProblem(f"{option} {text!r} is not a date like 2026-11-30") from None


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.bootstrap import bootstrap

    container = await bootstrap(settings, channels={})
    try:
        match args.command:
            case "report":
                return await _report(container, args)
            case "import":
                return await _import(container, args)
            case "export":
                return await _export(container, args)
    except UsageProblem as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        await container.close()
    return 2  # pragma: no cover - argparse allows nothing else


# --------------------------------------------------------------------------- report
async def _report(container: Container, args: argparse.Namespace) -> int:
    from bot.reports.formats import report_csv, report_json
    from bot.reports.period import Period, PeriodError
    from bot.reports.service import ReportDeps, build
    from bot.reports.text import summary

    now = container.clock.now()
    today = now.astimezone(container.policy.calendar.tz).date()
    end = _date("--to", args.date_to) or today
    start = _date("--from", args.date_from) or end.replace(day=1)
    try:
        period = Period(start, end)
    except PeriodError as e:
        raise UsageProblem(str(e)) from None
    team = args.team.upper() if args.team else None
    async with container.uow() as uow:
        if team is not None and await uow.teams.get(team) is None:
            raise UsageProblem(f"--team {team}: no such team")
    deps = ReportDeps.of(container)
    report = await build(deps, period, team, now)
    if args.member:
        report = _only_member(report, args.member)
    lang = container.tr.lang(None)
    match args.format:
        case "json":
            _write(args.out, json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n")
        case "csv":
            _write(args.out, report_csv(report))
        case "text":
            _write(args.out, summary(report, container.tr, lang) + "\n")
        case "xlsx":
            from bot.reports.workbook import write_workbook

            out = Path(args.out or f"kpi-{team or 'ALL'}-{period.key}.xlsx")
            write_workbook(report, container.tr, lang, out)
            print(f"wrote {out}", file=sys.stderr)
    return 0


def _only_member(report: Report, uid: str) -> Report:
    """The report with one person's figures in place of the whole's."""
    mine = next((w for w in report.workers if w.uid == uid), None)
    if mine is None:
        raise UsageProblem(f"--member {uid}: no case of this period is assigned to them")
    cases = tuple(c for c in report.cases if c.record.assignee == uid)
    return replace(report, figures=mine.figures, workers=(mine,), cases=cases)


def _write(out: str | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    Path(out).write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


# --------------------------------------------------------------------------- import
class ProgressBar:
    """`check [#########.....]  61%  61000/100000` on stderr, redrawn at each percent."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown: tuple[str, int] | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if self.shown == (phase, percent):
            return
        if self.shown is not None and self.shown[0] != phase:
            self.stream.write("\n")
        self.shown = (phase, percent)
        filled = BAR_WIDTH * percent // 100
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r{phase:<6}[{bar}] {percent:3d}%  {done}/{total}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown is not None:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = None


async def _import(container: Container, args: argparse.Namespace) -> int:
    from storage.importer import ImportFailed, import_file

    path: Path = args.file
    if not await asyncio.to_thread(path.is_file):
        raise UsageProblem(f"{path}: no such file")
    bar = ProgressBar(sys.stderr)
    try:
        result = await import_file(
            container.engine, path, container.policy, container.clock.now(), bar
        )
    except ImportFailed as e:
        bar.close()
        for err in e.errors:
            print(f"error: {path}: {err}", file=sys.stderr)
        if e.total > len(e.errors):
            print(f"error: … and {e.total - len(e.errors)} more", file=sys.stderr)
        print(f"nothing was loaded from {path}: {e.total} error(s)", file=sys.stderr)
        return 1
    bar.close()
    print(
        f"{path}: {result.rows} row(s): {result.loaded} case(s) loaded, "
        f"{result.skipped} already stored (skipped)"
    )
    return 0


# --------------------------------------------------------------------------- export
async def _export(container: Container, args: argparse.Namespace) -> int:
    from bot.reports.period import Period
    from storage.exporter import export_rows, rows_to_csv, rows_to_xlsx

    tz = container.policy.calendar.tz
    start = _date("--from", args.date_from)
    end = _date("--to", args.date_to)
    since: datetime | None = Period(start, start).bounds(tz)[0] if start else None
    until: datetime | None = Period(end, end).bounds(tz)[1] if end else None
    if since is not None and until is not None and until <= since:
        raise UsageProblem("--to is before --from")
    async with container.uow() as uow:
        rows = await export_rows(uow.connection, container.policy, since, until)
    if args.format == "csv":
        _write(args.out, rows_to_csv(rows))
    else:
        out = Path(args.out or "cases.xlsx")
        await asyncio.to_thread(rows_to_xlsx, rows, out)
        print(f"wrote {out}", file=sys.stderr)
    print(f"{len(rows)} case(s) exported", file=sys.stderr)
    return 0
