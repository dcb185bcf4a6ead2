"""Every message key the reports use is in both catalogues (Vietnamese first, English)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.i18n import Lang, load_catalogue
from bot.reports.formats import FIGURE_FIELDS
from bot.reports.timeline import Category
from bot.reports.workbook import CASE_COLUMNS, SHEETS

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r"""["']((?:report|usage|help)\.[a-z_.]+[a-z_])["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*(ROOT / "bot" / "reports").glob("*.py"), *(ROOT / "handlers").rglob("*.py")]:
        keys |= set(LITERAL.findall(path.read_text(encoding="utf-8")))
    keys |= {f"report.cat.{c.value}" for c in Category}
    keys |= {f"report.fig.{name}" for name, _ in FIGURE_FIELDS}
    keys |= {f"report.col.{name}" for name, _ in CASE_COLUMNS}
    keys |= {f"report.sheet.{key}" for key in SHEETS}
    return {k for k in keys if k.startswith("report.") or k in ("usage.report", "help.report")}


def test_every_report_key_is_translated_in_both_languages() -> None:
    keys = used_keys()
    assert "report.title" in keys and "report.fig.days_avg" in keys
    for lang in Lang:
        missing = sorted(keys - set(load_catalogue(lang)))
        assert missing == [], lang
