"""`make bench`: figures, not pass/fail. Run on SQLite in a temporary folder.

- intake: cases per second through the service layer (transaction + outbox row each);
- claim race: time for 20 concurrent claims on one case;
- reminder pass: time of one pass (reminders and the morning digest) with 1,000 open
  overdue cases, beside 10,000 and then 1,000,000 closed ones (one history event each),
  to show the pass does not grow with closed history.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.config import load_settings
from bot.domain import errors
from bot.domain.clock import FixedClock
from bot.domain.model import Role, Source
from bot.reminders import ReminderDeps, remind_pass
from bot.services import commands as c
from storage import tables as t
from tests.integration.helpers import actor_of, add_member, intake_cmd, origin, seed_team

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Friday 09:00 in Hà Nội


async def _container(tmp: Path, clock: FixedClock) -> Container:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}", intake_token="bench-token-123"
    )
    container = await bootstrap(settings, clock=clock, channels={})
    await seed_team(container)
    return container


async def bench_intake(tmp: Path) -> None:
    clock = FixedClock(AT)
    (tmp / "intake").mkdir()
    container = await _container(tmp / "intake", clock)
    n = 300
    start = time.perf_counter()
    for i in range(n):
        await container.service.intake(intake_cmd(f"B-{i}"), container.uow())
    elapsed = time.perf_counter() - start
    print(f"intake: {n} cases in {elapsed:.2f}s = {n / elapsed:.0f} cases/s (SQLite)")

    workers = [await add_member(container, 500 + i, f"W{i}", Role.WORKER) for i in range(20)]
    case, _ = await container.service.intake(intake_cmd("RACE"), container.uow())

    async def press(i: int) -> None:
        cmd = c.ClaimCase(actor_of(workers[i]), Source.TELEGRAM, origin(), ref=case.ref)
        with contextlib.suppress(errors.AlreadyClaimed):
            await container.service.claim(cmd, container.uow())

    start = time.perf_counter()
    await asyncio.gather(*(press(i) for i in range(20)))
    print(
        f"claim race: 20 concurrent claims settled in {(time.perf_counter() - start) * 1000:.0f} ms"
    )
    await container.close()


async def bench_reminders(tmp: Path, closed: int) -> float:
    folder = tmp / f"remind-{closed}"
    folder.mkdir()
    clock = FixedClock(AT)
    container = await _container(folder, clock)
    row = {
        "kind": "new_connection",
        "team_code": "PL",
        "customer_name": "x",
        "customer_phone": "0912345678",
        "customer_address": "x",
        "description": "",
        "received_at": AT - timedelta(days=30),
        "created_at": AT,
        "updated_at": AT,
        "area": "urban",
        "purpose": "domestic",
    }
    batch = 50_000
    async with container.engine.begin() as conn:
        for start in range(0, closed, batch):
            stop = min(closed, start + batch)
            await conn.execute(
                sa.insert(t.cases),
                [row | {"ref": f"PL-C{i}", "status": "closed"} for i in range(start, stop)],
            )
        # One history event per closed case, so the digest's look-up of a day's
        # events also runs beside a large history.
        first_id = (await conn.execute(sa.select(sa.func.min(t.cases.c.id)))).scalar_one()
        for start in range(0, closed, batch):
            stop = min(closed, start + batch)
            await conn.execute(
                sa.insert(t.case_events),
                [
                    {
                        "case_id": first_id + i,
                        "at": AT - timedelta(days=20, minutes=i % 10_000),
                        "action": "close",
                        "actor": "bench",
                        "status": "closed",
                        "source": "import",
                    }
                    for i in range(start, stop)
                ],
            )
        await conn.execute(
            sa.insert(t.cases),
            [
                row
                | {
                    "ref": f"PL-O{i}",
                    "status": "open",
                    "next_check_at": AT - timedelta(hours=1),
                    "step_due_at": AT - timedelta(hours=1),
                    "due_at": AT + timedelta(days=1),
                }
                for i in range(1000)
            ],
        )
    deps = replace(ReminderDeps.of(container), batch=1000)
    start = time.perf_counter()
    planned = await remind_pass(deps, AT, dry_run=True)
    dry = time.perf_counter() - start
    start = time.perf_counter()
    sent = await remind_pass(deps, AT)
    elapsed = time.perf_counter() - start
    print(
        f"reminder pass: {closed:>9,} closed + 1,000 open -> {len(sent)} messages queued "
        f"in {elapsed * 1000:.0f} ms (dry run, {len(planned)} listed: {dry * 1000:.0f} ms)"
    )
    await container.close()
    return elapsed


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-") as tmp:
        root = Path(tmp)
        await bench_intake(root)
        small = await bench_reminders(root, 10_000)
        large = await bench_reminders(root, 1_000_000)
        print(f"reminder pass ratio 1M/10k closed: {large / small:.2f}x (target: within 2x)")


if __name__ == "__main__":
    asyncio.run(main())
