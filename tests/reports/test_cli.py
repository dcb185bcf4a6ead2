"""`dispatchbot import cases`, `report` and `export cases` as a person runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.reports.workbook import SHEETS, SUMMARY
from tests.reports.test_import_export import GOOD, HEADER, line

NOVEMBER = ["--from", "2026-11-01", "--to", "2026-11-30"]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite database with teams PL and DL and two workers, set up by the CLI."""
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN", "POLICY_FILE", "ADMIN_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    return use_database(tmp_path / "cli.db", monkeypatch)


def use_database(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    assert main(["team", "add", "PL", "--name", "Phủ Lý", "--chat", "-1001"]) == 0
    assert main(["team", "add", "DL", "--name", "Duy Tiên", "--chat", "-1002"]) == 0
    for uid, name in (("7", "Thợ Minh"), ("8", "Thợ Hùng")):
        assert main(["member", "add", uid, "--name", name, "--role", "worker", "--team", "PL"]) == 0
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_shows_progress_and_loads_each_row_once(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "cases.csv"
    source.write_text(GOOD + "\n", encoding="utf-8")
    code, out, err = run(capsys, "import", "cases", str(source))
    assert code == 0, err
    assert "4 row(s): 4 case(s) loaded, 0 already stored" in out
    assert "load  [" in err and "100%  4/4" in err  # the progress bar, on stderr
    code, out, _ = run(capsys, "import", "cases", str(source))
    assert code == 0 and "0 case(s) loaded, 4 already stored" in out


def test_a_bad_file_is_refused_whole_with_line_and_column(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.csv"
    good = line(external_ref="X1", kind="meter_complaint", received_at="2026-11-03T09:00:00+07:00")
    bad = line(external_ref="X2", kind="meter", received_at="2026-11-03T09:00:00+07:00")
    source.write_text("\n".join([HEADER, good, bad]) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "import", "cases", str(source))
    assert code == 1
    assert "line 3, column kind: 'meter' is not one of: new_connection" in err
    assert "nothing was loaded" in err
    code, out, _ = run(capsys, "report", *NOVEMBER, "--format", "json")
    assert json.loads(out)["received"] == 0
    assert run(capsys, "import", "cases", str(tmp_path / "none.csv"))[0] == 2


def test_report_in_every_format(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "cases.csv"
    source.write_text(GOOD, encoding="utf-8")
    assert run(capsys, "import", "cases", str(source))[0] == 0

    code, out, err = run(capsys, "report", *NOVEMBER, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["from"], data["to"], data["team"]) == ("2026-11-01", "2026-11-30", None)
    assert (data["received"], data["completed"]) == (4, 2)
    assert data["install_days_avg"]["urban_domestic"] == pytest.approx(1.5, abs=0.01)
    assert data["access_days_avg"] == pytest.approx(3.5625, abs=0.01)
    assert [t["team"] for t in data["by_team"]] == ["DL", "PL"]

    code, out, _ = run(capsys, "report", *NOVEMBER, "--team", "pl", "--format", "json")
    assert code == 0 and json.loads(out)["team"] == "PL"

    code, out, _ = run(capsys, "report", *NOVEMBER, "--format", "text")
    assert code == 0 and out.startswith("📊") and "Hoàn thành 2" in out

    code, out, _ = run(capsys, "report", *NOVEMBER, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["scope"] == "all" and rows[0]["completed"] == "2"

    book = tmp_path / "kpi.xlsx"
    code, _, err = run(capsys, "report", *NOVEMBER, "--format", "xlsx", "--out", str(book))
    assert code == 0 and f"wrote {book}" in err
    figures = {
        r[0].value: r[2].value
        for r in load_workbook(book).worksheets[SHEETS.index(SUMMARY)].iter_rows(min_row=8)
    }
    assert figures["completed"] == 2 and figures["received"] == 4

    code, out, _ = run(capsys, "report", *NOVEMBER, "--member", "telegram:8", "--format", "json")
    assert code == 0 and json.loads(out)["completed"] == 1  # B, installed by Hùng

    assert run(capsys, "report", "--team", "XX")[0] == 2
    assert run(capsys, "report", "--from", "2026-11-31")[0] == 2
    assert run(capsys, "report", "--from", "2026-12-01", "--to", "2026-11-01")[0] == 2


def test_export_imports_again_into_an_empty_database_with_the_same_report(
    database: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "cases.csv"
    source.write_text(GOOD, encoding="utf-8")
    assert run(capsys, "import", "cases", str(source))[0] == 0
    _, before, _ = run(capsys, "report", *NOVEMBER, "--format", "json")

    exported = tmp_path / "export.csv"
    code, _, err = run(capsys, "export", "cases", "--out", str(exported))
    assert code == 0 and "4 case(s) exported" in err
    code, out, _ = run(capsys, "export", "cases", "--from", "2026-11-16", "--to", "2026-11-20")
    assert [r["external_ref"] for r in csv.DictReader(io.StringIO(out))] == ["B", "A"]
    sheet = tmp_path / "export.xlsx"
    assert run(capsys, "export", "cases", "--format", "xlsx", "--out", str(sheet))[0] == 0
    assert load_workbook(sheet)["cases"].max_row == 5

    use_database(tmp_path / "empty.db", monkeypatch)
    assert run(capsys, "import", "cases", str(exported))[0] == 0
    _, after, _ = run(capsys, "report", *NOVEMBER, "--format", "json")
    assert json.loads(after) == json.loads(before)
