"""`/report` through the real bot and the sandbox: summary, chart and workbook in the group."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.reports.workbook import SHEETS, SUMMARY
from tests.e2e.conftest import GROUP, System, meter_complaint

REPORT_DEADLINE = 30.0


async def test_a_lead_gets_text_chart_and_workbook_in_the_team_chat(system: System) -> None:
    s = system
    body = meter_complaint() | {"received_at": "2026-11-26T17:30:00+07:00"}  # after hours
    status, case = await s.intake(body)
    assert status == 201
    ref = case["ref"]
    await s.card(ref)
    for user, text in (
        (s.hung, f"/claim {ref}"),
        (s.hung, f"/inspect {ref} Công tơ chạy nhanh"),
        (s.hung, f"/resolve {ref} Đã thay công tơ"),
        (s.clerk, f"/rate {ref} 9"),
    ):
        reply = await s.say(user, text)
        assert ref in reply.body, reply.body
    assert (await s.case(ref))["status"] == "resolved"

    refused = await s.say(s.hung, "/report")
    assert "đội trưởng" in refused.body.lower()
    usage = await s.say(s.lead, "/report yesterday")
    assert "/report tuần, /report tháng" in usage.body

    # Drawing the chart and the workbook is seconds of CPU on a busy CI machine.
    summary = await s.say(s.lead, "/report", timeout=REPORT_DEADLINE)
    assert "📊" in summary.body and "01/11/2026 – 27/11/2026" in summary.body
    assert "Tiếp nhận 1 · Hoàn thành 1" in summary.body
    # Thu 17:30 → Fri 09:00
    assert "Giải quyết kiến nghị công tơ: 0,19 ngày, hạn 3 ngày" in summary.body
    assert "Hài lòng của khách: 9,0/10" in summary.body

    chart = await s.client.wait_for_message(
        GROUP,
        where=lambda m: m.photo is not None and m.message_id > summary.message_id,
        timeout=REPORT_DEADLINE,
    )
    assert chart.caption is not None and chart.caption.startswith("📈")
    with Image.open(io.BytesIO(await s.client.download(chart.photo.file_id))) as image:
        image.load()
        assert image.format == "PNG" and image.width > 500

    sheet = await s.client.wait_for_message(
        GROUP,
        where=lambda m: m.document is not None and m.message_id > chart.message_id,
        timeout=REPORT_DEADLINE,
    )
    assert sheet.document is not None and (sheet.document.file_name or "").endswith(".xlsx")
    wb = load_workbook(io.BytesIO(await s.client.download(sheet.document.file_id)))
    rows = wb.worksheets[SHEETS.index(SUMMARY)].iter_rows(min_row=8)
    figures = {r[0].value: r[2].value for r in rows if r[0].value}
    assert figures["completed"] == 1 and figures["received"] == 1
    assert figures["complaint_resolution_days_avg"] == pytest.approx(1.5 / 8, abs=0.01)
    assert figures["satisfaction_avg"] == pytest.approx(9.0)
    await s.settled()
