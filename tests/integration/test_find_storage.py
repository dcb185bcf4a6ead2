"""The search key on SQLite and PostgreSQL: filled for the cases stored before migration
0009, kept with every save, matched by LIKE alike on both, emptied of the name by a purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Action, Customer
from bot.services.finding import read_search
from bot.services.ports import CaseQuery
from storage import schema
from storage import tables as t
from storage.engine import create_engine
from storage.purge import purge_closed_before
from tests.conftest import make_settings

AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
CASES_0007 = sa.table(
    "cases", *(sa.column(c.name, c.type) for c in t.cases.columns if c.name != "search_key")
)
OLD = {
    "PL-1": ("TTHCC-PL-2026-00123", "Trần Văn Hưng", "0912345678", "open"),
    "PL-2": (None, "Nguyễn Thị Mai", "0987654321", "closed"),
    "PL-3": ("TTHCC-PL-2026-00125", "Đỗ Thị Ánh 50%_off", "0356789123", "open"),
}


async def _fill_at_0007(url: str) -> None:
    engine = create_engine(url)
    try:
        await schema.upgrade(engine, "0007")
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(t.teams).values(code="PL", name="Phủ Lý", next_seq=3, created_at=AT)
            )
            for ref, (ext, name, phone, status) in OLD.items():
                await conn.execute(
                    sa.insert(CASES_0007).values(
                        ref=ref,
                        external_ref=ext,
                        integration="api:desk" if ext else None,
                        kind="new_connection",
                        team_code="PL",
                        status=status,
                        customer_name=name,
                        customer_phone=phone,
                        customer_address="Phủ Lý",
                        received_at=AT,
                        created_at=AT,
                        updated_at=AT,
                    )
                )
    finally:
        await engine.dispose()


async def test_old_cases_are_found_after_the_upgrade_and_saves_keep_the_key(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    await _fill_at_0007(database_url)
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        async with container.engine.connect() as conn:
            keys = dict((await conn.execute(sa.select(t.cases.c.ref, t.cases.c.search_key))).all())
        assert keys == {
            "PL-1": "pl-1 tthcc-pl-2026-00123 tran van hung",
            "PL-2": "pl-2 nguyen thi mai",
            "PL-3": "pl-3 tthcc-pl-2026-00125 do thi anh 50%_off",
        }

        async def shown(text: str) -> list[str]:
            search = read_search(text)
            assert search is not None
            async with container.uow() as uow:
                cases = await uow.cases.find(CaseQuery(search=search, newest_first=True))
            return [c.ref for c in cases]

        async def found(text: str) -> list[str]:
            return sorted(await shown(text))

        assert await found("TRAN hưng") == ["PL-1"]
        assert await found("0987.654.321") == ["PL-2"]
        assert await found("2026-001") == ["PL-1", "PL-3"]
        assert await found("%") == ["PL-3"]  # a LIKE wildcard typed is a character
        assert await found("_") == ["PL-3"]
        assert await found("nguyen hung") == []  # every word must be there

        async with container.uow() as uow:
            case = await uow.cases.get_by_ref("PL-1")
            assert case is not None
            case.customer = Customer("Phạm Thị Lụa", case.customer.phone, "Phủ Lý")
            await uow.cases.save(case)
            await uow.commit()
        assert await found("lua") == ["PL-1"] and await found("hung") == []

        await purge_closed_before(container.engine, AT + timedelta(days=30), tmp_path / "media")
        assert await found("mai") == []  # the name went with the purge
        # Still found by its ref, first of all (the dossier numbers of the others hold
        # "pl-2" too: a piece of a number finds every case that has it).
        assert (await shown("pl-2"))[0] == "PL-2"
    finally:
        await container.close()


async def test_a_clerks_filed_cases_are_those_whose_intake_she_made(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    await _fill_at_0007(database_url)
    container = await bootstrap(make_settings(database_url, tmp_path), clock=clock, channels={})
    try:
        async with container.engine.begin() as conn:
            for case_id, actor in ((1, "telegram:3004"), (2, "api:desk"), (3, "telegram:3004")):
                await conn.execute(
                    sa.insert(t.case_events).values(
                        case_id=case_id,
                        at=AT + timedelta(minutes=case_id),
                        action=Action.INTAKE.value,
                        actor=actor,
                        status="open",
                        source="telegram",
                    )
                )
        async with container.uow() as uow:
            filed = await uow.cases.find(CaseQuery(filed_by="telegram:3004", newest_first=True))
            count = await uow.cases.count(CaseQuery(filed_by="telegram:3004"))
        assert [c.ref for c in filed] == ["PL-3", "PL-1"] and count == 2
    finally:
        await container.close()
