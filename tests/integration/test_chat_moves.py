"""A group that became a supergroup, in storage, on both databases: the team binding and
the waiting messages follow it once, what was sent stays where it was, and `team list`
and `doctor`'s database check say so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.doctor.findings import Status
from bot.doctor.local import moved_chats
from storage import tables
from storage.chat_moves import ChatMoveStore
from storage.engine import create_engine
from storage.tables import OUTBOX, TEAM_CHATS
from tests.conftest import dispatchbot
from tests.integration.test_team_cli import outbox, queue

OLD = "-4100"
NEW = "-1001000004100"
AT = datetime(2026, 12, 3, 2, 30, tzinfo=UTC)


@pytest.fixture
async def team(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LANGUAGE", "en")
    assert await dispatchbot("db", "upgrade") == 0
    assert await dispatchbot("team", "add", "PL", "--name", "Phủ Lý", "--chat", OLD) == 0
    return database_url


async def test_the_binding_and_the_queue_move_once_and_sent_messages_stay(team: str) -> None:
    await queue(team, ("telegram", OLD), ("telegram", OLD), ("telegram", "-1009"))
    engine = create_engine(team)
    try:
        async with engine.begin() as conn:  # the first card went out before the upgrade
            first = (await conn.execute(sa.select(sa.func.min(OUTBOX.id)))).scalar()
            await conn.execute(
                sa.update(tables.outbox).where(OUTBOX.id == first).values(status="sent")
            )
            await conn.execute(  # the second was being sent to the old id when refused
                sa.update(tables.outbox).where(OUTBOX.id == first + 1).values(sending_at=AT)
            )
        store = ChatMoveStore(engine)
        result = await store.move("telegram", OLD, NEW, AT)
        assert (result.first, result.team_code, result.messages) == (True, "PL", 1)
        again = await store.move("telegram", OLD, NEW, AT)  # the service message, later
        assert (again.first, again.messages) == (False, 0)
        async with engine.connect() as conn:
            bound = (await conn.execute(sa.select(TEAM_CHATS.chat_id))).scalars().all()
            sending = (
                await conn.execute(sa.select(OUTBOX.sending_at).where(OUTBOX.id == first + 1))
            ).scalar()
        assert bound == [NEW]
        assert sending is None  # refused at the old id: not a send that may have gone
        assert [(chat, status) for chat, status, _ in await outbox(team)] == [
            (OLD, "sent"),
            (NEW, "pending"),
            ("-1009", "pending"),
        ]
        (move,) = await store.all()
        assert (move.old_chat_id, move.new_chat_id, move.team_code) == (OLD, NEW, "PL")
        assert move.moved_at == AT
        (finding,) = await moved_chats(engine)
        assert finding.status is Status.OK and finding.message == "doctor.chat.moved"
        assert finding.values["old"] == OLD and finding.values["new"] == NEW
    finally:
        await engine.dispose()


async def test_a_supergroup_already_bound_by_hand_keeps_its_binding(team: str) -> None:
    assert await dispatchbot("team", "add", "PL", "--name", "Phủ Lý", "--chat", NEW) == 0
    engine = create_engine(team)
    try:
        result = await ChatMoveStore(engine).move("telegram", OLD, NEW, AT)
        async with engine.connect() as conn:
            bound = (await conn.execute(sa.select(TEAM_CHATS.chat_id))).scalars().all()
        assert result.first and bound == [NEW]
    finally:
        await engine.dispose()


async def test_team_list_shows_where_a_group_went(
    team: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(team)
    try:
        await ChatMoveStore(engine).move("telegram", OLD, NEW, AT)
    finally:
        await engine.dispose()
    capsys.readouterr()
    assert await dispatchbot("team", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        f"  telegram group: {NEW} (group {OLD} was upgraded to supergroup {NEW}"
        " at 03/12/2026 09:30; moved there)"
    ) in out
