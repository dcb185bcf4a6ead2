"""`dispatchbot team add … --channel zalo` gives a team its second group; `member add zalo:ID`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.domain.people import ChatBinding, Identity
from tests.conftest import dispatchbot, make_settings


async def test_a_zalo_group_is_bound_to_an_existing_team_and_zalo_people_are_added(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    zalo_group = "5a1f0c3e9d7b2a4c6e80"
    assert await dispatchbot("db", "upgrade") == 0
    assert (
        await dispatchbot("team", "add", "PL", "--name", "Phủ Lý", "--chat", "-1001234567890") == 0
    )
    assert (
        await dispatchbot(
            "team", "add", "pl", "--name", "Phủ Lý", "--chat", zalo_group, "--channel", "zalo"
        )
        == 0
    )
    assert (
        await dispatchbot(
            "member",
            "add",
            "zalo:0a1b2c3d4e5f60003002",
            "--name",
            "Đỗ Minh",
            "--role",
            "worker",
            "--team",
            "PL",
        )
        == 0
    )
    assert (
        await dispatchbot(
            "member",
            "add",
            "111111111",
            "--name",
            "Phạm Lan",
            "--role",
            "lead",
            "--team",
            "PL",
            "--username",
            "lan_pl",
        )
        == 0
    )
    assert (
        await dispatchbot(
            "member", "add", "99", "--name", "Thu", "--role", "clerk", "--channel", "zalo"
        )
        == 0
    )
    assert (
        await dispatchbot(
            "member", "add", "zalo:abc", "--name", "X", "--role", "clerk", "--channel", "telegram"
        )
        == 2
    )
    out = capsys.readouterr()
    assert f"team PL exists; chat zalo:{zalo_group} bound to it" in out.out
    assert "member zalo:0a1b2c3d4e5f60003002 (worker) added" in out.out
    assert "zalo:abc is a zalo id, not a telegram one" in out.err

    container = await bootstrap(make_settings(database_url, tmp_path), channels={}, migrate=False)
    try:
        async with container.uow() as uow:
            team = await uow.teams.get("PL")
            minh = await uow.members.get("zalo:0a1b2c3d4e5f60003002")
            lan = await uow.members.get("telegram:111111111")
            thu = await uow.members.get("zalo:99")
            nobody = await uow.members.get("telegram:zalo:abc")
        assert team is not None
        assert set(team.chats) == {
            ChatBinding("telegram", "-1001234567890"),
            ChatBinding("zalo", zalo_group),
        }
        assert minh is not None and minh.team_code == "PL"
        assert minh.identities == (Identity("zalo", "0a1b2c3d4e5f60003002", None),)
        assert lan is not None and lan.identities == (Identity("telegram", "111111111", "lan_pl"),)
        assert thu is not None and thu.identities[0].channel == "zalo"
        assert nobody is None
    finally:
        await container.close()
