"""The case history is append-only: in the code, and in the database itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from storage import tables as t
from tests.conftest import make_settings
from tests.integration.helpers import intake_cmd, seed_team

ROOT = Path(__file__).resolve().parents[2]


async def _history(container: Container) -> list[tuple[object, ...]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(sa.select(t.case_events).order_by(t.case_events.c.id))
        return [tuple(r) for r in rows]


async def test_the_database_refuses_to_change_or_delete_history(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        await seed_team(container)
        await container.service.intake(intake_cmd("H-1"), container.uow())
        before = await _history(container)
        assert len(before) == 1

        for statement in (
            sa.update(t.case_events).values(note="rewritten"),
            sa.update(t.case_events).values(actor="someone else").where(t.case_events.c.id > 0),
            sa.delete(t.case_events),
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                async with container.engine.begin() as conn:
                    await conn.execute(statement)
        assert await _history(container) == before

        # Appending still works: the next step writes its event.
        await container.service.intake(intake_cmd("H-2"), container.uow())
        assert len(await _history(container)) == 2
    finally:
        await container.close()


_WRITES_HISTORY = re.compile(r"sa\.(update|delete)\(\s*t\.case_events\b|case_events\s+(SET|WHERE)")


def test_no_code_path_updates_or_deletes_a_history_event() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "handlers", "storage")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts and _WRITES_HISTORY.search(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_the_repository_offers_only_append_and_read_for_history() -> None:
    from storage.repository import SqlCaseRepository

    history_methods = {name for name in dir(SqlCaseRepository) if "history" in name}
    assert history_methods == {"append_history", "history"}
