"""`python -m tests.bench_import`: how long 100,000 rows take to import on SQLite,
and how long a year's report over them takes.

The target is under a minute on the project's machine. A figure, not a test:
`make bench` prints it. Run with a number to change the row count.
"""

from __future__ import annotations

import asyncio
import csv
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.bootstrap import bootstrap
from bot.config import load_settings
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.reports.period import Period
from bot.reports.service import ReportDeps, build
from storage.import_check import KNOWN_COLUMNS
from storage.importer import import_file

HN = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2025, 1, 2, 8, 0, tzinfo=HN)
TEAMS = ("PL", "DL", "KB", "LN")
ROWS = 100_000
STEPS = {
    "new_connection": ("claimed", "surveyed", "estimated", "agreed", "installed", "closed"),
    "meter_complaint": ("claimed", "inspected", "resolved", "closed"),
    "mv_connection": ("claimed", "surveyed", "agreed", "installed", "closed"),
    "contract_change": ("claimed", "resolved", "closed"),
}


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A year and a half of plausible cases: most finished, some open, a few held."""
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(KNOWN_COLUMNS))
        out.writeheader()
        for i in range(rows):
            kind = rnd.choice(tuple(STEPS))
            team = TEAMS[i % len(TEAMS)]
            received = START + timedelta(minutes=7 * i + rnd.randint(0, 300))
            row = dict.fromkeys(KNOWN_COLUMNS, "")
            row.update(
                external_ref=f"BENCH-{i:06d}",
                kind=kind,
                team=team,
                area=rnd.choice(("urban", "rural")) if kind == "new_connection" else "",
                purpose=rnd.choice(("domestic", "non_domestic"))
                if kind == "new_connection"
                else "",
                customer_name=f"Khách hàng {i}",
                customer_phone=f"09{i % 100_000_000:08d}",
                address=f"{i % 300} Trần Hưng Đạo, Phủ Lý",
                received_at=received.isoformat(),
            )
            at = received
            reached = rnd.choice((0, 1, 2, len(STEPS[kind]), len(STEPS[kind]), len(STEPS[kind])))
            for step in STEPS[kind][:reached]:
                at += timedelta(hours=rnd.randint(1, 30))
                row[f"{step}_at"] = at.isoformat()
            if reached:
                row["assignee"] = f"telegram:{100 + TEAMS.index(team)}"
            if i % 50 == 0 and reached >= 2:
                first = datetime.fromisoformat(row[f"{STEPS[kind][0]}_at"])
                row["holds"] = f"{first.isoformat()}/{(first + timedelta(minutes=30)).isoformat()}"
            out.writerow(row)


async def bench(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "cases.csv"
        write_csv(source, rows)
        settings = load_settings(database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        clock = FixedClock(datetime(2026, 11, 27, 9, 0, tzinfo=HN))
        container = await bootstrap(settings, clock=clock, channels={})
        try:
            async with container.uow() as uow:
                for n, code in enumerate(TEAMS):
                    await uow.teams.add(
                        Team(code, f"Đội {code}", (ChatBinding("telegram", f"-{n}"),))
                    )
                    uid = 100 + n
                    ident = Identity("telegram", str(uid), None)
                    await uow.members.add(
                        Member(f"telegram:{uid}", f"Thợ {code}", Role.WORKER, code, None, (ident,))
                    )
                await uow.commit()
            started = time.perf_counter()
            result = await import_file(container.engine, source, container.policy, clock.now())
            elapsed = time.perf_counter() - started
            again_started = time.perf_counter()
            again = await import_file(container.engine, source, container.policy, clock.now())
            again_elapsed = time.perf_counter() - again_started
            report_started = time.perf_counter()
            year = Period(date(2025, 1, 1), date(2025, 12, 31))
            report = await build(ReportDeps.of(container), year, None, clock.now())
            report_elapsed = time.perf_counter() - report_started
        finally:
            await container.close()
    print(
        f"import: {result.loaded} rows in {elapsed:.1f}s = {result.loaded / elapsed:.0f} rows/s "
        f"(SQLite; target: 100000 in under 60s)"
    )
    print(f"import again: {again.skipped} rows skipped, nothing loaded, in {again_elapsed:.1f}s")
    print(
        f"report of 2025 over them: {len(report.cases)} cases in {report_elapsed:.1f}s "
        f"(completed {report.figures.completed})"
    )


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    asyncio.run(bench(rows))


if __name__ == "__main__":
    main()
