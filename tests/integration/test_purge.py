"""Anonymising old closed cases: personal data goes, figures and history stay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.cli import main
from bot.domain.clock import FixedClock
from bot.domain.model import Action, Role, Source
from bot.services import commands as c
from storage import tables as t
from storage.purge import ANONYMISED_NAME, purge_closed_before
from tests.conftest import make_settings
from tests.integration.helpers import actor_of, add_member, intake_cmd, origin, seed_team


async def _closed_case(container: Container, clock: FixedClock, ext: str) -> int:
    """A connection taken all the way to closed, with a photo on disk as evidence."""
    worker = actor_of(await add_member(container, 70 + len(ext), f"W{ext}", Role.WORKER))
    svc, tg, here = container.service, Source.TELEGRAM, origin()

    async def run(action: Action, **extra: Any) -> None:
        ref = extra.pop("ref")
        match action:
            case Action.CLAIM:
                await svc.claim(c.ClaimCase(worker, tg, here, ref=ref), container.uow())
            case Action.ESTIMATE:
                cmd = c.RecordEstimate(worker, tg, here, ref=ref, customer_cost=5, utility_cost=7)
                await svc.estimate(cmd, container.uow())
            case Action.INSTALL:
                cmd2 = c.RecordInstall(worker, tg, here, ref=ref, meter_serial="M9", reading="3")
                await svc.install(cmd2, container.uow())
            case _:
                note = "khách hẹn, gọi 0912345678 trước" if action is Action.SURVEY else None
                step = c.ReportStep(worker, tg, here, ref=ref, action=action, note=note)
                await svc.report_step(step, container.uow())

    case, _ = await svc.intake(intake_cmd(ext), container.uow())
    for action in (Action.CLAIM, Action.SURVEY, Action.ESTIMATE, Action.AGREE, Action.INSTALL):
        clock.advance(timedelta(minutes=10))
        await run(action, ref=case.ref)
    clock.advance(timedelta(minutes=10))
    await run(Action.CLOSE, ref=case.ref)
    assert case.id is not None
    photo = container.settings.media_dir / "evidence" / f"{case.id}.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(b"\xff\xd8 a house")
    async with container.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.evidence).values(
                case_id=case.id,
                kind="photo",
                path=f"evidence/{case.id}.jpg",
                latitude=20.54,
                longitude=105.91,
                actor=worker.uid,
                at=clock.now(),
                source="telegram",
            )
        )
    return case.id


async def _row(container: Container, table: sa.Table, *where: Any) -> Any:
    async with container.engine.connect() as conn:
        return (await conn.execute(sa.select(table).where(*where))).all()


async def test_purge_anonymises_old_closed_cases_and_keeps_their_figures(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(container)
        old = await _closed_case(container, clock, "OLD")
        clock.advance(timedelta(days=40))
        recent = await _closed_case(container, clock, "NEW")
        open_case, _ = await container.service.intake(intake_cmd("OPEN"), container.uow())
        history_before = await _row(container, t.case_events, t.case_events.c.case_id == old)
        cutoff = clock.now() - timedelta(days=30)

        assert (
            await purge_closed_before(container.engine, cutoff, tmp_path, dry_run=True)
        ).cases == 1
        assert (await _row(container, t.cases, t.cases.c.id == old))[0].customer_phone

        done = await purge_closed_before(container.engine, cutoff, container.settings.media_dir)
        assert (done.cases, done.files) == (1, 1)
        assert done.messages > 0

        (row,) = await _row(container, t.cases, t.cases.c.id == old)
        assert (row.customer_name, row.customer_phone, row.customer_address) == (
            ANONYMISED_NAME,
            "",
            "",
        )
        assert row.anonymised
        # The figures stay: timestamps, amounts, meter, status.
        assert (row.status, row.customer_cost, row.utility_cost, row.meter_serial) == (
            "closed",
            5,
            7,
            "M9",
        )
        assert row.received_at is not None and row.due_at is not None
        assert (
            await _row(container, t.case_events, t.case_events.c.case_id == old) == history_before
        )
        # No phone number in the history, even one typed in a note.
        assert all("0912345678" not in (e.note or "") for e in history_before)
        assert not (container.settings.media_dir / "evidence" / f"{old}.jpg").exists()
        (ev,) = await _row(container, t.evidence, t.evidence.c.case_id == old)
        assert (ev.path, ev.latitude, ev.longitude) == (None, None, None)
        sent = await _row(container, t.outbox, t.outbox.c.case_id == old)
        assert sent and all("Trần Văn Hưng" not in str(m.payload) for m in sent)

        # The recent closed case and the open one are untouched.
        for kept in (recent, open_case.id):
            (r,) = await _row(container, t.cases, t.cases.c.id == kept)
            assert r.customer_name == "Trần Văn Hưng" and not r.anonymised
        assert (container.settings.media_dir / "evidence" / f"{recent}.jpg").exists()

        again = await purge_closed_before(container.engine, cutoff, container.settings.media_dir)
        assert again.cases == 0
    finally:
        await container.close()


async def test_cli_purge_prints_what_it_did_and_refuses_bad_dates(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FixedClock(datetime(2026, 10, 1, 2, 0, tzinfo=UTC))
    container = await bootstrap(make_settings(sqlite_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(container)
        await _closed_case(container, clock, "OCT")
    finally:
        await container.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("LOG_LEVEL", "WARNING")

    def run(*argv: str) -> int:
        return main(["purge", *argv])

    assert await asyncio.to_thread(run, "--closed-before", "2026-11-01", "--dry-run") == 0
    assert capsys.readouterr().out.strip() == (
        "would anonymise 1 case(s) closed or cancelled before 2026-11-01"
    )
    assert await asyncio.to_thread(run, "--closed-before", "2026-11-01") == 0
    out = capsys.readouterr().out
    assert out.startswith("anonymised 1 case(s) closed or cancelled before 2026-11-01")
    assert "1 evidence file(s) deleted" in out
    assert await asyncio.to_thread(run, "--closed-before", "2026-11-01") == 0
    assert capsys.readouterr().out.startswith("anonymised 0 case(s)")

    assert await asyncio.to_thread(run, "--closed-before", "last month") == 2
    assert "is not a date" in capsys.readouterr().err
    assert await asyncio.to_thread(run, "--closed-before", "2999-01-01") == 2
    assert "must not be in the future" in capsys.readouterr().err
