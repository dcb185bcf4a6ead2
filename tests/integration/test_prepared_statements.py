"""The statements built once (storage/prepared.py) write and read what they are given, on
SQLite and PostgreSQL: every column a save writes reads back, each write reaches its
own row only, and the dict's keys become the columns written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa
from sqlalchemy.sql.cache_key import HasCacheKey

from bot.bootstrap import Container
from bot.domain.clock import FixedClock
from bot.domain.model import (
    Action,
    Area,
    Case,
    CaseKind,
    CaseStatus,
    Customer,
    Estimate,
    HistoryEntry,
    Meter,
    Purpose,
    Role,
    Source,
)
from bot.services.ports import ConcurrentUpdate, OutboxItem
from storage import tables
from storage.directory import directory_version
from storage.uow import SqlUnitOfWork
from tests.integration.helpers import add_member, seed_team

HANOI = timezone(timedelta(hours=7))


def _new_case(ref: str, external_ref: str | None = None) -> Case:
    return Case(
        id=None,
        ref=ref,
        external_ref=external_ref,
        integration="api:desk" if external_ref else None,
        kind=CaseKind.NEW_CONNECTION,
        team_code="PL",
        status=CaseStatus.OPEN,
        customer=Customer("Trần Văn Hưng", "0912345678", "12 Trần Hưng Đạo"),
        area=Area.URBAN,
        purpose=Purpose.DOMESTIC,
        description="Đăng ký cấp điện",
        received_at=datetime(2026, 11, 26, 1, 0, tzinfo=UTC),
    )


async def _added(container: Container, *cases: Case) -> list[Case]:
    async with container.uow() as uow:
        added = [await uow.cases.add(c) for c in cases]
        await uow.commit()
    return added


async def _read(container: Container, case_id: int) -> Case:
    async with container.uow() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    return case


async def test_every_column_a_save_writes_reads_back_and_only_on_its_own_row(
    container: Container, clock: FixedClock
) -> None:
    await add_member(container, 4001, "Thợ", Role.WORKER)
    first, second = await _added(container, _new_case("PL-1", "D-1"), _new_case("PL-2"))
    assert first.id is not None and second.id is not None
    assert await _read(container, first.id) == first
    added_at = clock.now()
    clock.advance(timedelta(minutes=3))
    at = datetime(2026, 11, 27, 9, 30, 15, 250_000, tzinfo=HANOI)
    async with container.uow() as uow:
        case = await uow.cases.get(second.id)
        assert case is not None
        changed = replace(
            case,
            status=CaseStatus.ON_HOLD,
            held_from=CaseStatus.SURVEYED,
            area=Area.RURAL,
            purpose=Purpose.NON_DOMESTIC,
            needs_extra_works=True,
            customer=Customer("Phạm Thị Lụa", "0987654321", "3 Lê Lợi"),
            description="Di dời công tơ",
            received_at=at - timedelta(days=2),
            due_at=at + timedelta(days=3),
            step_due_at=at + timedelta(days=1),
            held_at=at,
            paused=timedelta(minutes=95),
            assignee="telegram:4001",
            claimed_at=at - timedelta(hours=5),
            last_progress_at=at - timedelta(hours=1),
            estimate=Estimate(1_250_000, 800_000),
            meter=Meter("SN-42", "00123"),
            satisfaction=4,
            reminder_count=2,
            next_check_at=at + timedelta(hours=4),
        )
        await uow.cases.save(changed)
        await uow.commit()
    assert changed.version == 1
    stored = await _read(container, second.id)
    assert stored == changed
    assert stored.held_at == at and stored.held_at.tzinfo == UTC
    assert await _read(container, first.id) == first  # the other row is untouched
    async with container.engine.connect() as conn:
        updated = dict(
            (await conn.execute(sa.select(tables.cases.c.id, tables.cases.c.updated_at))).all()
        )
    assert updated == {first.id: added_at, second.id: clock.now()}

    async with container.uow() as uow:
        assert await uow.cases.get_by_ref(" pl-2 ") == stored
        assert await uow.cases.get_by_external_ref("api:desk", "D-1") == first
        assert await uow.cases.get_by_external_ref("api:other", "D-1") is None
        with pytest.raises(ConcurrentUpdate):
            await uow.cases.save(replace(stored, version=0, description="stale"))
    assert await _read(container, second.id) == stored


async def test_a_claim_writes_the_claimer_once_and_on_its_own_case_only(
    container: Container,
) -> None:
    await add_member(container, 4001, "Thợ", Role.WORKER)
    await add_member(container, 4002, "Thợ khác", Role.WORKER)
    first, second = await _added(container, _new_case("PL-1"), _new_case("PL-2"))
    assert first.id is not None and second.id is not None
    at = datetime(2026, 11, 27, 2, 5, tzinfo=UTC)
    async with container.uow() as uow:
        assert await uow.cases.claim(second.id, "telegram:4001", at)
        assert not await uow.cases.claim(second.id, "telegram:4002", at)
        await uow.commit()
    claimed = await _read(container, second.id)
    assert (claimed.status, claimed.assignee, claimed.claimed_at) == (
        CaseStatus.CLAIMED,
        "telegram:4001",
        at,
    )
    assert (claimed.last_progress_at, claimed.version) == (at, 1)
    assert await _read(container, first.id) == first
    async with container.engine.connect() as conn:
        updated = (
            await conn.execute(
                sa.select(tables.cases.c.updated_at).where(tables.cases.c.id == second.id)
            )
        ).scalar_one()
    assert updated == at


async def test_history_and_refs_are_kept_per_case_and_per_team(container: Container) -> None:
    await seed_team(container, "DL", "-1002")
    first, second = await _added(container, _new_case("PL-1"), _new_case("PL-2"))
    assert first.id is not None and second.id is not None
    at = datetime(2026, 11, 27, 9, 0, tzinfo=HANOI)
    entries = [
        HistoryEntry(at, Action.CLAIM, "telegram:4001", CaseStatus.CLAIMED, None, Source.TELEGRAM),
        HistoryEntry(
            at + timedelta(minutes=1),
            Action.SURVEY,
            "zalo:77",
            CaseStatus.SURVEYED,
            "ghi chú",
            Source.ZALO,
        ),
    ]
    async with container.uow() as uow:
        for entry in entries:
            await uow.cases.append_history(second.id, entry)
        await uow.cases.append_history(first.id, replace(entries[0], actor="cli"))
        refs = [await uow.cases.next_ref(code) for code in ("PL", "PL", "DL")]
        await uow.commit()
    assert refs == ["PL-1", "PL-2", "DL-1"]
    async with container.uow() as uow:
        assert await uow.cases.history(second.id) == entries
        assert [h.actor for h in await uow.cases.history(first.id)] == ["cli"]


async def test_outbox_rows_hold_what_was_added_and_a_queued_key_is_skipped(
    container: Container,
) -> None:
    (case,) = await _added(container, _new_case("PL-1"))
    card = OutboxItem("telegram", "-1001", {"text": "PL-1 ✓", "n": [1, 2]}, card_key="card:PL-1")
    private = OutboxItem("zalo", "77", {"text": "số"}, dedupe_key="k:1", case_id=case.id)
    async with container.uow() as uow:
        assert await uow.outbox.add(card)
        assert await uow.outbox.add(private)
        assert not await uow.outbox.add(replace(private, payload={"text": "again"}))
        await uow.commit()
    o = tables.outbox.c
    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    o.channel,
                    o.chat_id,
                    o.payload,
                    o.card_key,
                    o.dedupe_key,
                    o.case_id,
                    o.status,
                    o.attempts,
                    o.not_before,
                    o.created_at,
                ).order_by(o.id)
            )
        ).all()
    now = container.clock.now()
    assert [tuple(r) for r in rows] == [
        ("telegram", "-1001", card.payload, "card:PL-1", None, None, "pending", 0, now, now),
        ("zalo", "77", {"text": "số"}, None, "k:1", case.id, "pending", 0, now, now),
    ]


async def test_a_commands_statements_are_keyed_once_not_at_every_call(
    container: Container, clock: FixedClock
) -> None:
    """The CPU saved (storage/prepared.py): run again, these statements are neither built
    nor keyed anew. A statement built per call would be keyed at every call."""
    await add_member(container, 4001, "Thợ", Role.WORKER)
    (case,) = await _added(container, _new_case("PL-1"))
    assert case.id is not None
    case_id = case.id

    async def command(uow: SqlUnitOfWork) -> None:
        assert await directory_version(uow.connection) >= 0
        read = await uow.cases.get(case_id)
        assert read is not None and await uow.cases.get_by_ref("PL-1") is not None
        await uow.cases.save(read)
        assert await uow.cases.claim(case_id, "telegram:4001", clock.now())
        await uow.cases.append_history(
            case_id,
            HistoryEntry(
                clock.now(),
                Action.CLAIM,
                "telegram:4001",
                CaseStatus.CLAIMED,
                None,
                Source.TELEGRAM,
            ),
        )
        await uow.outbox.add(OutboxItem("telegram", "-1001", {"text": "PL-1"}))
        await uow.outbox.add(OutboxItem("telegram", "4001", {"text": "PL-1"}, dedupe_key="k"))

    keyed: list[str] = []
    generate = HasCacheKey._gen_cache_key

    def spied(self: HasCacheKey, *args: Any, **kwargs: Any) -> Any:
        keyed.append(type(self).__name__)
        return generate(self, *args, **kwargs)

    for attempt in range(2):
        async with container.uow() as uow:
            if attempt == 0:
                await command(uow)
            else:
                with mock.patch.object(HasCacheKey, "_gen_cache_key", spied):
                    await command(uow)
            await uow.rollback()
    assert keyed == []
