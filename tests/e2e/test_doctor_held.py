"""`dispatchbot doctor` lists the members with private messages kept for them (issue 14):
nothing on a healthy deployment (exit 0), a line per person saying what to do otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.channels.reach import Unreach
from bot.config import Settings
from bot.doctor import Check, Finding, Status, diagnose, exit_code
from bot.doctor.report import render_text
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.i18n import Lang, Translator
from sandbox import DEFAULT_TOKEN, ChatType, SandboxClient, TelegramSandbox
from storage import schema, tables
from storage.engine import create_engine
from storage.held_store import held_error
from storage.outbox_model import DeliveryState, pending_values
from storage.uow import SqlUnitOfWork
from tests.conftest import make_settings

MINH = "1002"
REFUSED = {
    Unreach.NOT_STARTED: "Forbidden: bot can't initiate conversation with a user",
    Unreach.DEACTIVATED: "Forbidden: user is deactivated",
}


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox() as server:
        yield server


async def deployment(
    database_url: str, tmp_path: Path, telegram: TelegramSandbox, clock: FixedClock
) -> Settings:
    """A working deployment: the bot in team PL's group, Lan the lead, Minh a worker."""
    async with SandboxClient(telegram.root_url) as humans:
        lan = await humans.add_user(1001, "Lan", last_name="Phạm", username="lan_pl")
        minh = await humans.add_user(int(MINH), "Minh", username="minh_pl", started=False)
        group = await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội PL", members=[lan, minh])
    engine = create_engine(database_url)
    try:
        await schema.upgrade(engine)
        async with SqlUnitOfWork(engine, clock) as uow:
            await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", str(group.id)),)))
            for user_id, name, role, username in (
                (1001, "Phạm Thị Lan", Role.LEAD, "lan_pl"),
                (int(MINH), "Nguyễn Văn Minh", Role.WORKER, "minh_pl"),
            ):
                ident = Identity("telegram", str(user_id), username)
                await uow.members.add(
                    Member(f"telegram:{user_id}", name, role, "PL", None, (ident,))
                )
            await uow.commit()
    finally:
        await engine.dispose()
    return make_settings(
        database_url,
        tmp_path,
        telegram_bot_token=DEFAULT_TOKEN,
        telegram_api_url=telegram.root_url,
        doctor_pending_interval_seconds=0,
        held_message_hours=48,
    )


async def keep_for_minh(database_url: str, reason: Unreach, at: datetime) -> None:
    """What the relay leaves after Telegram refused a private message to Minh."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            values = pending_values("telegram", MINH, {"text": "PL-1: 0912345678"}, at)
            values.update(
                status=DeliveryState.HELD.value, error=held_error(reason, REFUSED[reason])
            )
            await conn.execute(sa.insert(tables.outbox).values(**values))
    finally:
        await engine.dispose()


def lines(findings: list[Finding], lang: Lang) -> list[str]:
    return render_text(findings, Translator(lang), lang).splitlines()


async def test_nobody_waiting_is_ok_and_a_worker_who_never_pressed_start_is_told(
    database_url: str, tmp_path: Path, telegram: TelegramSandbox, clock: FixedClock
) -> None:
    settings = await deployment(database_url, tmp_path, telegram, clock)

    healthy = await diagnose(settings, clock=clock)
    held = [f for f in healthy if f.check is Check.HELD]
    assert [(f.status, f.message) for f in held] == [(Status.OK, "doctor.held.none")]
    assert exit_code(healthy) == 0, lines(healthy, Lang.EN)
    assert any("Nobody has private messages waiting." in line for line in lines(healthy, Lang.EN))

    await keep_for_minh(database_url, Unreach.NOT_STARTED, datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    broken = await diagnose(settings, clock=clock)
    assert exit_code(broken) == 1
    held = [f for f in broken if f.check is Check.HELD]
    assert [(f.status, f.channel, f.team, f.chat_id) for f in held] == [
        (Status.WARN, "telegram", "PL", MINH)
    ]
    en = [line for line in lines(broken, Lang.EN) if "Nguyễn Văn Minh" in line]
    assert len(en) == 1, en
    assert "private messages waiting (1) since 27/11/2026 09:00" in en[0]
    assert "never opened the chat with the bot" in en[0]
    assert "→ Ask Nguyễn Văn Minh to open the bot and press Start" in en[0]
    assert "After 48 hours they are given up." in en[0]
    vi = [line for line in lines(broken, Lang.VI) if "Nguyễn Văn Minh" in line]
    assert len(vi) == 1 and "chưa mở trò chuyện với bot" in vi[0]
    assert "Nhờ Nguyễn Văn Minh mở bot và bấm Bắt đầu" in vi[0]
    assert not any("0912345678" in line for line in lines(broken, Lang.VI))


async def test_a_deleted_account_is_told_to_the_lead_to_act_on(
    database_url: str, tmp_path: Path, telegram: TelegramSandbox, clock: FixedClock
) -> None:
    settings = await deployment(database_url, tmp_path, telegram, clock)
    await keep_for_minh(database_url, Unreach.DEACTIVATED, clock.now())
    findings = await diagnose(settings, clock=clock)
    assert exit_code(findings) == 1
    en = [line for line in lines(findings, Lang.EN) if "Nguyễn Văn Minh" in line]
    assert len(en) == 1 and "the account is no longer active" in en[0]
    assert "→ Reach Nguyễn Văn Minh directly" in en[0]
