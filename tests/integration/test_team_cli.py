"""`dispatchbot team list` and `team unbind`, on both databases: a chat taken off a team,
what waited for it marked as never to be sent, and clear refusals that change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.domain.clock import SystemClock
from bot.services.ports import OutboxItem
from storage import tables
from storage.engine import create_engine
from storage.outbox_model import DeliveryState
from storage.tables import OUTBOX
from storage.uow import SqlUnitOfWork
from tests.conftest import dispatchbot

PL_GROUP = "-1001111111111"
PL_ZALO = "5a1f0c3e9d7b2a4c6e80"
LN_GROUP = "-1002222222222"


async def queue(database_url: str, *chats: tuple[str, str]) -> None:
    """A card waiting for each chat, as the relay would find it."""
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWork(engine, SystemClock()) as uow:
            for channel, chat_id in chats:
                item = OutboxItem(channel, chat_id, {"text": "📋 PL-1"}, card_key="case:1")
                await uow.outbox.add(item)
            await uow.commit()
    finally:
        await engine.dispose()


async def outbox(database_url: str) -> list[tuple[str, str, str | None]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(OUTBOX.chat_id, OUTBOX.status, OUTBOX.error)
                .select_from(tables.outbox)
                .order_by(OUTBOX.id)
            )
            return [(r.chat_id, r.status, r.error) for r in rows]
    finally:
        await engine.dispose()


@pytest.fixture
async def teams(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LANGUAGE", "en")
    for argv in (
        ("db", "upgrade"),
        ("team", "add", "PL", "--name", "Điện lực Phủ Lý", "--chat", PL_GROUP),
        ("team", "add", "PL", "--name", "Điện lực Phủ Lý", "--chat", PL_ZALO, "--channel", "zalo"),
        ("team", "add", "LN", "--name", "Điện lực Lý Nhân", "--chat", LN_GROUP),
        ("team", "add", "KB", "--name", "Kim Bảng", "--chat", "-1003333333333"),
        (
            "member",
            "add",
            "111",
            "--name",
            "Phạm Lan",
            "--role",
            "lead",
            "--team",
            "PL",
            "--username",
            "lan_pl",
        ),
        ("member", "add", "zalo:0a1b2c", "--name", "Đỗ Minh", "--role", "worker", "--team", "PL"),
    ):
        assert await dispatchbot(*argv) == 0, argv
    return database_url


async def test_team_list_shows_teams_their_groups_and_their_people(
    teams: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert await dispatchbot("team", "unbind", "KB", "--chat", "-1003333333333") == 0
    capsys.readouterr()
    assert await dispatchbot("team", "list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "Team KB — Kim Bảng",
        '  no group yet: dispatchbot team add KB --name "Kim Bảng" --chat CHAT_ID',
        "  nobody in the team yet",
        "Team LN — Điện lực Lý Nhân",
        f"  telegram group: {LN_GROUP}",
        "  nobody in the team yet",
        "Team PL — Điện lực Phủ Lý",
        f"  telegram group: {PL_GROUP}",
        f"  zalo group: {PL_ZALO}",
        "  Phạm Lan · lead · telegram:111 (@lan_pl)",
        "  Đỗ Minh · worker · zalo:0a1b2c",
    ]
    monkeypatch.setenv("LANGUAGE", "vi")
    assert await dispatchbot("team", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert "Đội PL — Điện lực Phủ Lý" in out
    assert f"  nhóm telegram: {PL_GROUP}" in out
    assert "  chưa có ai trong đội" in out


async def test_unbinding_a_group_drops_what_waits_for_it_and_keeps_the_other_group_s(
    teams: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await queue(teams, ("telegram", PL_GROUP), ("zalo", PL_ZALO))
    capsys.readouterr()
    assert await dispatchbot("team", "unbind", "pl", "--chat", PL_GROUP) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"telegram group {PL_GROUP} is no longer team PL's.",
        "1 messages that waited for it will not be sent; the team's other groups have "
        "their own copies.",
    ]
    assert await outbox(teams) == [
        (PL_GROUP, DeliveryState.SUPERSEDED.value, "chat unbound from team PL"),
        (PL_ZALO, DeliveryState.PENDING.value, None),
    ]
    assert await dispatchbot("team", "list") == 0
    listed = capsys.readouterr().out
    assert PL_GROUP not in listed and f"  zalo group: {PL_ZALO}" in listed


async def test_unbind_refuses_clearly_and_changes_nothing(
    teams: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await queue(teams, ("telegram", LN_GROUP))
    capsys.readouterr()
    refusals = {
        ("PL", "-1009999999999", "telegram"): (
            "telegram group -1009999999999 is not bound to team PL; nothing changed. "
            f"Team PL's groups: telegram {PL_GROUP}, zalo {PL_ZALO}."
        ),
        ("PL", LN_GROUP, "telegram"): (
            f"telegram group {LN_GROUP} is bound to team LN, not to team PL; nothing changed."
        ),
        ("PL", PL_GROUP, "zalo"): (
            f"zalo group {PL_GROUP} is not bound to team PL; nothing changed. "
            f"Team PL's groups: telegram {PL_GROUP}, zalo {PL_ZALO}."
        ),
        ("XX", PL_GROUP, "telegram"): "There is no team XX. See the teams: dispatchbot team list",
        ("LN", LN_GROUP, "telegram"): (
            f"telegram group {LN_GROUP} is team LN's only group and 1 messages still wait for "
            "it; nothing changed. Bind the team's new group first (dispatchbot team add LN "
            '--name "Điện lực Lý Nhân" --chat NEW_CHAT_ID), then take this one off.'
        ),
    }
    for (code, chat, channel), said in refusals.items():
        assert await dispatchbot("team", "unbind", code, "--chat", chat, "--channel", channel) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == said  # after any logs
    assert await outbox(teams) == [(LN_GROUP, DeliveryState.PENDING.value, None)]
    assert await dispatchbot("team", "list") == 0
    listed = capsys.readouterr().out
    assert all(chat in listed for chat in (PL_GROUP, PL_ZALO, LN_GROUP))


async def test_a_team_s_last_group_goes_when_nothing_waits_and_the_admin_is_told(
    teams: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert await dispatchbot("team", "unbind", "LN", "--chat", LN_GROUP) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"telegram group {LN_GROUP} is no longer team LN's.",
        "Team LN now has no group: its new cases are posted nowhere until one is bound: "
        'dispatchbot team add LN --name "Điện lực Lý Nhân" --chat CHAT_ID',
    ]
