"""`make bench`: how long `/find` takes among 100,000 cases, on SQLite and PostgreSQL.

The search is an honest LIKE '%word%' on one folded column (`cases.search_key`, see
bot/domain/folding.py), plus the whole phone number on its index. A LIKE with a leading
wildcard reads the rows it may match, so the figures below are what decides whether that
is enough: one team's cases, every team's (an admin, a clerk of all teams), a phone.
Figures, not pass/fail; PostgreSQL is measured when the local server answers.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.domain.clock import FixedClock
from bot.domain.folding import search_key
from bot.services.finding import read_search
from bot.services.ports import CaseQuery
from storage import schema
from storage import tables as t
from storage.engine import create_engine
from storage.uow import SqlUnitOfWork

CASES = 100_000
TEAMS = ("PL", "DL", "LN", "TL", "KB", "BL", "HN", "TM", "VD", "QH")
AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Bùi", "Đặng", "Ngô"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Quang", "Thu", "Hữu"]
GIVEN = ["Hưng", "Mai", "Toàn", "Lan", "Bình", "Tâm", "Hùng", "Ánh", "Dũng", "Hà", "Sơn", "Yến"]
PG = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _rows(n: int) -> list[dict[str, object]]:
    rng = random.Random(17)
    rows = []
    seq = dict.fromkeys(TEAMS, 0)
    for i in range(n):
        team = TEAMS[i % len(TEAMS)]
        seq[team] += 1
        ref = f"{team}-{seq[team]}"
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        ext = f"TTHCC-{team}-2026-{i:06d}"
        rows.append(
            {
                "ref": ref,
                "external_ref": ext,
                "integration": "api:desk",
                "kind": "new_connection",
                "team_code": team,
                "status": "closed" if i % 5 else "claimed",
                "customer_name": name,
                "customer_phone": f"09{i:08d}",
                "customer_address": "Phủ Lý",
                "received_at": AT - timedelta(minutes=i),
                "created_at": AT,
                "updated_at": AT,
                "search_key": search_key(ref, ext, name),
            }
        )
    return rows


async def _fill(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    async with engine.begin() as conn:
        for team in TEAMS:
            await conn.execute(sa.insert(t.teams).values(code=team, name=team, created_at=AT))
        rows = _rows(CASES)
        for start in range(0, len(rows), 5000):
            await conn.execute(sa.insert(t.cases), rows[start : start + 5000])


async def _time(engine: AsyncEngine, text: str, teams: frozenset[str] | None) -> tuple[float, int]:
    search = read_search(text)
    assert search is not None
    query = CaseQuery(search=search, team_codes=teams, newest_first=True, limit=10)
    took = []
    total = 0
    for _ in range(5):
        uow = SqlUnitOfWork(engine, FixedClock(AT))
        started = time.perf_counter()
        async with uow:
            total = await uow.cases.count(query)
            await uow.cases.find(query)
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000, total


async def _measure(label: str, engine: AsyncEngine) -> None:
    started = time.perf_counter()
    await _fill(engine)
    print(f"find ({label}): {CASES:,} cases stored in {time.perf_counter() - started:.1f}s")
    one = frozenset({"PL"})
    for text, teams, what in (
        ("tran van hung", one, "a name, one team (a group)"),
        ("tran van hung", None, "a name, every team (an admin)"),
        ("hung", None, "one short word, every team"),
        ("0900012345", None, "a whole phone number"),
        ("PL-4711", one, "a ref"),
        ("2026-0999", None, "a piece of a dossier number"),
    ):
        ms, total = await _time(engine, text, teams)
        print(f"  {what:<34} {ms:7.1f} ms (count + first page; {total:,} match)")


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-find-") as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'find.db'}")
        try:
            await _measure("SQLite", engine)
        finally:
            await engine.dispose()
    admin = create_async_engine(PG, isolation_level="AUTOCOMMIT")
    db = f"bench_find_{os.getpid()}"
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f"CREATE DATABASE {db}")
    except Exception as e:
        print(f"find (PostgreSQL): not measured ({type(e).__name__})")
        await admin.dispose()
        return
    engine = create_engine(PG.rsplit("/", 1)[0] + f"/{db}")
    try:
        await _measure("PostgreSQL", engine)
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
