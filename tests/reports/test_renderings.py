"""The report's files are produced and read back: the PNG decodes, the workbook's cells
hold the figures, the CSV and the text say the same numbers."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image

from bot.bootstrap import Container
from bot.i18n import Lang
from bot.reports.formats import report_csv
from bot.reports.kpi import Report
from bot.reports.period import Period
from bot.reports.service import ReportDeps, build, messages, render_files
from bot.reports.text import summary
from bot.reports.workbook import (
    CASE_COLUMNS,
    CASES,
    SHEETS,
    SUMMARY,
    TEAMS,
    WEEKS,
    WORKERS,
    sheet_name,
)
from tests.reports.conftest import AS_OF, HN, MINH

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


async def november_report(container: Container) -> Report:
    return await build(ReportDeps.of(container), NOVEMBER, None, AS_OF)


async def test_chart_is_a_png_that_decodes(
    container: Container, november: dict[str, str], tmp_path: Path
) -> None:
    report = await november_report(container)
    files = render_files(report, container.tr, Lang.VI, tmp_path / "out")
    assert files.chart.suffix == ".png" and files.chart.parent == tmp_path / "out"
    with Image.open(files.chart) as image:
        image.load()
        assert image.format == "PNG"
        assert image.size == (1100, 480)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 10  # something was drawn


async def test_workbook_cells_hold_the_figures(
    container: Container, november: dict[str, str], tmp_path: Path
) -> None:
    report = await november_report(container)
    files = render_files(report, container.tr, Lang.EN, tmp_path)
    wb = load_workbook(files.workbook)
    names = [sheet_name(container.tr, Lang.EN, key) for key in SHEETS]

    def sheet(key: str) -> Worksheet:
        return wb[sheet_name(container.tr, Lang.EN, key)]

    assert wb.sheetnames == names == ["Summary", "Teams", "Workers", "Weeks", "Cases"]

    figures = {
        row[0].value: (row[2].value, row[3].value)
        for row in sheet(SUMMARY).iter_rows(min_row=8)
        if row[0].value
    }
    assert figures["received"] == (10, None)
    assert figures["completed"] == (7, None)
    assert figures["open"] == (3, None) and figures["overdue"] == (1, None)
    assert figures["on_time_rate"][0] == pytest.approx(5 / 7, abs=1e-3)
    assert figures["install_days_avg.urban_domestic"] == (pytest.approx(1.5), 3)
    assert figures["install_days_avg.rural_domestic"] == (pytest.approx(2.875), 5)
    assert figures["install_days_avg.non_domestic"] == (pytest.approx(6.5), 5)
    assert figures["access_days_avg"] == (pytest.approx(3.5625), 7)
    assert figures["complaint_resolution_days_avg"][0] == pytest.approx(1.7292, abs=1e-3)
    assert figures["claim_hours_avg"][0] == pytest.approx(0.96875, abs=1e-3)
    assert figures["satisfaction_avg"][0] == pytest.approx(8.0)

    teams = list(sheet(TEAMS).iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[2], r[3]) for r in teams] == [("DL", 1, 1), ("PL", 9, 6)]
    workers = {r[0]: r for r in sheet(WORKERS).iter_rows(min_row=2, values_only=True)}
    assert workers[MINH.uid][1] == "Thợ Minh" and workers[MINH.uid][4] == 3  # completed
    weeks = list(sheet(WEEKS).iter_rows(min_row=2, values_only=True))
    assert len(weeks) >= 8 and weeks[-1][0] == datetime(2026, 11, 30)

    col = {key: i for i, (key, _) in enumerate(CASE_COLUMNS)}
    rows = {r[col["external_ref"]]: r for r in sheet(CASES).iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {f"C{i}" for i in range(1, 12)}  # C5 completed in November
    c2 = rows["C2"]
    assert c2[col["days_to_complete"]] == pytest.approx(2.875)
    assert c2[col["hold_days"]] == pytest.approx(20.5 / 8)
    assert c2[col["received_at"]] == datetime(2026, 11, 7, 9, 0)  # local time
    assert c2[col["completed_at"]] == datetime(2026, 11, 16, 11, 0)
    assert c2[col["on_time"]] == "yes" and c2[col["target_days"]] == 5
    assert rows["C3"][col["on_time"]] == "no"
    assert rows["C3"][col["claim_hours"]] == pytest.approx(4.0)
    c7 = rows["C7"]
    assert c7[col["days_to_complete"]] is None
    assert c7[col["days_open"]] == pytest.approx(31.5 / 8)
    assert c7[col["due_at"]] == datetime(2026, 11, 30, 8, 0)  # 3 working days, holiday skipped
    assert rows["C11"][col["days_open"]] == pytest.approx(0.25)


async def test_csv_has_a_row_per_scope_with_every_figure(
    container: Container, november: dict[str, str]
) -> None:
    rows = list(csv.DictReader(io.StringIO(report_csv(await november_report(container)))))
    scopes = [(r["scope"], r["code"]) for r in rows]
    assert scopes[:3] == [("all", ""), ("team", "DL"), ("team", "PL")]
    everything = rows[0]
    assert everything["received"] == "10" and everything["overdue"] == "1"
    assert float(everything["install_days_avg.rural_domestic"]) == pytest.approx(2.875)
    assert everything["install_days_avg.urban_domestic"] == "1.5"
    minh = next(r for r in rows if r["code"] == MINH.uid)
    assert minh["scope"] == "worker" and minh["completed"] == "3" and minh["open"] == "1"
    assert sum(1 for r in rows if r["scope"] == "week") >= 8


async def test_text_summary_in_vietnamese_names_the_figures(
    container: Container, november: dict[str, str]
) -> None:
    text = summary(await november_report(container), container.tr, Lang.VI)
    assert text.startswith("📊 Báo cáo KPI tất cả các đội · 01/11/2026 – 30/11/2026")
    assert "Tiếp nhận 10 · Hoàn thành 7 · Đang xử lý 3 · Quá hạn 1" in text
    assert "Đúng hạn: 71% (5/7)" in text
    assert "Lắp công tơ nông thôn, sinh hoạt: 2,88 ngày, hạn 5 ngày" in text
    assert "Tiếp cận điện năng (trung áp): 3,56 ngày, hạn 7 ngày" in text
    assert "• PL: tiếp nhận 9, hoàn thành 6, đúng hạn 67%" in text
    assert "• Thợ Minh: hoàn thành 3, trung bình 3,85 ngày, đúng hạn 33%" in text
    assert "0912345678" not in text


async def test_messages_are_summary_then_chart_then_workbook(
    container: Container, november: dict[str, str], tmp_path: Path
) -> None:
    report = await november_report(container)
    files = render_files(report, container.tr, Lang.EN, tmp_path)
    text, chart, workbook = messages(report, container.tr, Lang.EN, files)
    assert text.text.startswith("📊 KPI report all teams") and text.photo_path is None
    assert chart.photo_path == str(files.chart) and chart.text.startswith("📈")
    assert workbook.document_path == str(files.workbook) and workbook.text.startswith("📎")


def test_as_of_is_aware() -> None:
    assert AS_OF.tzinfo is HN
