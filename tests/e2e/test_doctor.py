"""`dispatchbot doctor` on a healthy and on broken deployments, through the real adapters
against the sandboxes: every problem gets its line, saying what to do, and exit 1."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.doctor import Check, Finding, Status, diagnose, exit_code
from bot.doctor.local import check_holidays
from bot.doctor.report import render_text
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.i18n import Lang, Translator
from bot.sla.calendar import WorkingCalendar
from bot.sla.policy import PolicyError
from bot.sla.policy_file import load_policy
from sandbox import (
    DEFAULT_TOKEN,
    DEFAULT_ZALO_TOKEN,
    BotStatus,
    ChatType,
    SandboxChat,
    SandboxClient,
    SandboxUser,
    TelegramSandbox,
    ZaloSandbox,
    ZaloSandboxClient,
)
from storage import schema
from storage.engine import create_engine
from storage.uow import SqlUnitOfWork
from tests.conftest import dispatchbot, make_settings
from tests.reliability.harness import wait_until

WEBHOOK_URL = "https://dispatch.example.vn/telegram/webhook"
SECRET = "doctor-webhook-secret_0123"
ZALO_WEBHOOK_URL = "https://dispatch.example.vn/zalo/webhook"
ZALO_SECRET = "zalo-doctor-secret-0123"


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox() as server:
        yield server


@pytest.fixture
async def humans(telegram: TelegramSandbox) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(telegram.root_url) as client:
        yield client


@pytest.fixture
async def zalo() -> AsyncIterator[ZaloSandbox]:
    async with ZaloSandbox() as server:
        yield server


@pytest.fixture
async def zalo_humans(zalo: ZaloSandbox) -> AsyncIterator[ZaloSandboxClient]:
    async with ZaloSandboxClient(zalo.root_url) as client:
        yield client


@pytest.fixture
async def lan(humans: SandboxClient) -> SandboxUser:
    return await humans.add_user(1001, "Lan", last_name="Phạm", username="lan_pl")


async def migrated(database_url: str, revision: str = "head") -> None:
    engine = create_engine(database_url)
    try:
        await schema.upgrade(engine, revision)
    finally:
        await engine.dispose()


async def seed(database_url: str, *teams: Team, people: tuple[Member, ...] = ()) -> None:
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWork(engine, FixedClock(datetime.now(UTC))) as uow:
            for team in teams:
                await uow.teams.add(team)
            for person in people:
                await uow.members.add(person)
            await uow.commit()
    finally:
        await engine.dispose()


def lead(user_id: int, team: str) -> Member:
    return Member(
        f"telegram:{user_id}",
        "Phạm Lan",
        Role.LEAD,
        team,
        identities=(Identity("telegram", str(user_id), "lan_pl"),),
    )


def team(code: str, *chats: ChatBinding) -> Team:
    return Team(code, f"Điện lực {code}", chats)


def tg(chat: SandboxChat | int) -> ChatBinding:
    return ChatBinding("telegram", str(chat.id if isinstance(chat, SandboxChat) else chat))


async def bot_api(root: str, token: str, method: str, **params: object) -> dict[str, object]:
    """Call the sandbox's Bot API as another program with the same token would."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{root}/bot{token}/{method}", json=params) as resp,
    ):
        return dict(await resp.json())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_of(findings: list[Finding], lang: Lang = Lang.EN) -> list[str]:
    return render_text(findings, Translator(lang), lang).splitlines()


def line_with(lines: list[str], *pieces: str) -> str:
    """The one line that holds every piece; the assertion shows all lines otherwise."""
    found = [line for line in lines if all(piece in line for piece in pieces)]
    assert len(found) == 1, f"no single line with {pieces} in:\n" + "\n".join(lines)
    return found[0]


def of(findings: list[Finding], check: Check, **about: str) -> list[Finding]:
    return [
        f
        for f in findings
        if f.check is check and all(getattr(f, k) == v for k, v in about.items())
    ]


# --------------------------------------------------------------------------- healthy


async def test_a_healthy_deployment_passes_every_check_and_exits_0(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    telegram: TelegramSandbox,
    humans: SandboxClient,
    zalo: ZaloSandbox,
    zalo_humans: ZaloSandboxClient,
    lan: SandboxUser,
) -> None:
    admins = await humans.add_chat(
        type=ChatType.SUPERGROUP, title="Đội Phủ Lý", members=[lan], bot_is_admin=True
    )
    members = await humans.add_chat(type=ChatType.GROUP, title="Đội Lý Nhân", members=[lan])
    zalo_group = await zalo_humans.add_chat("5a1f0c3e9d7b2a4c6e80", title="Đội Phủ Lý")
    await migrated(database_url)
    await seed(
        database_url,
        team("PL", tg(admins), ChatBinding("zalo", zalo_group.id)),
        team("LN", tg(members)),
        people=(lead(lan.id, "LN"),),
    )
    registered = await bot_api(
        telegram.root_url, DEFAULT_TOKEN, "setWebhook", url=WEBHOOK_URL, secret_token=SECRET
    )
    assert registered["ok"] is True
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_URL": telegram.root_url,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "ZALO_BOT_TOKEN": DEFAULT_ZALO_TOKEN,
        "ZALO_API_URL": zalo.root_url,
        "DOCTOR_PENDING_INTERVAL_SECONDS": "0",
        "LANGUAGE": "vi",
    }.items():
        monkeypatch.setenv(name, value)

    assert await dispatchbot("doctor") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "Mọi thứ đều ổn."
    assert all(line.startswith(("ỔN", "BỎ QUA", " ")) for line in lines[:-1]), lines
    line_with(lines, "ỔN", "Telegram: getMe: token dùng được, bot @dispatch_sandbox_bot")
    line_with(lines, "ỔN", "Chế độ riêng tư trong nhóm đã tắt")
    line_with(lines, "ỔN", f"«Đội Phủ Lý» ({admins.id}) của đội PL: bot là quản trị viên")
    line_with(lines, "ỔN", f"«Đội Lý Nhân» ({members.id}) của đội LN: bot là thành viên")
    line_with(lines, "ỔN", f"Webhook đã đăng ký đúng địa chỉ {WEBHOOK_URL}.")
    line_with(lines, "BỎ QUA", f"Nhóm Zalo {zalo_group.id} của đội PL")
    line_with(lines, "ỔN", "Cơ sở dữ liệu: Lược đồ dữ liệu mới nhất")
    line_with(lines, "ỔN", "Tệp chính sách: POLICY_FILE để trống")
    year = datetime.now(UTC).year
    line_with(lines, "ỔN", f"Lịch nghỉ: Năm {year}:")
    line_with(lines, "ỔN", f"Lịch nghỉ: Năm {year + 1}:")

    assert await dispatchbot("doctor", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True and document["language"] == "vi"
    findings = document["findings"]
    assert {f["status"] for f in findings} == {"ok", "skip"}
    for f in findings:
        assert set(f) >= {"check", "channel", "status", "message", "hint"}
    checks = {f["check"] for f in findings}
    assert checks >= {
        "token",
        "privacy",
        "chat",
        "webhook",
        "pending",
        "database",
        "migrations",
        "policy",
        "holidays",
    }
    chats = {(f["channel"], f["team"], f["chat_id"]) for f in findings if f["check"] == "chat"}
    assert chats == {
        ("telegram", "PL", str(admins.id)),
        ("telegram", "LN", str(members.id)),
        ("zalo", "PL", zalo_group.id),
    }
    this_year = next(f for f in findings if f["check"] == "holidays" and f["year"] == year)
    assert this_year["days"] and all(
        set(d) == {"date", "working", "name", "source", "in_exchange_for"}
        for d in this_year["days"]
    )
    # Nothing was registered, sent or changed on the platforms: the doctor only reads.
    methods = {call.method for call in await humans.calls(include_polling=True)}
    assert methods <= {"setWebhook", "getMe", "getChat", "getChatMember", "getWebhookInfo"}
    assert {c.method for c in await zalo_humans.calls()} <= {"getMe", "getWebhookInfo"}


# --------------------------------------------------------------------------- Telegram broken


async def test_a_broken_telegram_setup_gets_a_line_for_each_problem_and_exits_1(
    sqlite_url: str,
    tmp_path: Path,
    telegram: TelegramSandbox,
    humans: SandboxClient,
    lan: SandboxUser,
    clock: FixedClock,
) -> None:
    kicked = await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội A", members=[lan])
    left = await humans.add_chat(type=ChatType.GROUP, title="Đội B", members=[lan])
    upgraded = await humans.add_chat(type=ChatType.GROUP, title="Đội C", members=[lan])
    muted = await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội D", members=[lan])
    await humans.set_bot(privacy_mode=True)
    await humans.set_bot_status(kicked, BotStatus.KICKED)
    await humans.set_bot_status(left, BotStatus.LEFT)
    supergroup = await humans.migrate(upgraded)
    await humans.inject_answer(
        200,
        body=json.dumps(
            {
                "ok": True,
                "result": {
                    "id": muted.id,
                    "type": "supergroup",
                    "title": "Đội D",
                    "permissions": {"can_send_messages": False},
                    "accent_color_id": 0,
                    "max_reaction_count": 11,
                    "accepted_gift_types": {
                        "unlimited_gifts": False,
                        "limited_gifts": False,
                        "unique_gifts": False,
                        "premium_subscription": False,
                        "gifts_from_channels": False,
                    },
                },
            }
        ),
        content_type="application/json",
        methods=["getChat"],
        chat=muted,
    )
    await migrated(sqlite_url)
    await seed(
        sqlite_url,
        team("KA", tg(kicked)),
        team("LB", tg(left)),
        team("UC", tg(upgraded)),
        team("MD", tg(muted)),
        team("GONE", tg(-1009999999999)),
        people=(lead(lan.id, "UC"),),
    )
    # Another program registered the webhook elsewhere, and Telegram cannot reach it.
    elsewhere = "https://old.example.vn/hook"
    await bot_api(telegram.root_url, DEFAULT_TOKEN, "setWebhook", url=elsewhere)
    await humans._request(
        "POST",
        "/webhook",
        {"deliver_to": f"http://127.0.0.1:{closed_port()}/hook", "retry_seconds": 0.05},
    )
    await humans.send_text(lan, None, "/start")

    async def failed_push() -> bool:
        info = await bot_api(telegram.root_url, DEFAULT_TOKEN, "getWebhookInfo")
        result = info["result"]
        return isinstance(result, dict) and "last_error_date" in result

    await wait_until(failed_push, timeout=10, what="a failed push to the webhook")
    settings = make_settings(
        sqlite_url,
        tmp_path,
        telegram_bot_token=DEFAULT_TOKEN,
        telegram_api_url=telegram.root_url,
        telegram_mode="webhook",
        telegram_webhook_url=WEBHOOK_URL,
        telegram_webhook_secret=SECRET,
        doctor_pending_interval_seconds=0,
    )

    async def people_keep_writing(seconds: float) -> None:
        """While the doctor waits between its two reads, someone writes to the bot."""
        await humans.send_text(lan, None, "/help")

    findings = await diagnose(settings, clock=clock, pause=people_keep_writing)
    await humans._request("DELETE", "/webhook")

    assert exit_code(findings) == 1
    lines = text_of(findings)
    line_with(lines, "OK", "getMe: the token works")
    privacy = line_with(lines, "FAIL", "Group privacy is on (can_read_all_group_messages: false)")
    assert "→ In @BotFather: /setprivacy → your bot → Disable." in privacy
    kicked_line = line_with(lines, "FAIL", f"Team KA's group {kicked.id}")
    assert '"Forbidden: bot was kicked from the supergroup chat"' in kicked_line
    assert f"dispatchbot team unbind KA --chat {kicked.id}" in kicked_line
    left_line = line_with(lines, "FAIL", f"Team LB's group «Đội B» ({left.id})")
    assert "the bot is no longer in it (left)" in left_line
    gone = line_with(lines, "FAIL", "Team GONE's group -1009999999999")
    assert '"Chat not found"' in gone
    moved = line_with(lines, "FAIL", f"Team UC's group «Đội C» ({upgraded.id})")
    assert f"became the supergroup {supergroup.id}" in moved
    assert (
        f'dispatchbot team add UC --name "Điện lực UC" --chat {supergroup.id}, '
        f"then dispatchbot team unbind UC --chat {upgraded.id}"
    ) in moved
    line_with(lines, "FAIL", f"Team MD's group «Đội D» ({muted.id}): the bot is in the group but")
    webhook = line_with(lines, "FAIL", f"The webhook is registered at {elsewhere}")
    assert f"not at TELEGRAM_WEBHOOK_URL={WEBHOOK_URL}" in webhook
    error = line_with(lines, "WARN", "Telegram reports a failed delivery to the webhook")
    assert '"Connection refused"' in error
    growing = line_with(lines, "FAIL", "The updates waiting for the bot at Telegram grow")
    counts = next(f for f in findings if f.check is Check.PENDING).values
    assert int(counts["count"]) == int(counts["before"]) + 1
    assert f"{counts['before']} → {counts['count']} in 0 seconds" in growing
    assert lines[-1].startswith("8 failed, 1 to look at")


async def test_a_refused_token_is_the_one_line_for_its_channel(
    sqlite_url: str,
    tmp_path: Path,
    telegram: TelegramSandbox,
    humans: SandboxClient,
    zalo: ZaloSandbox,
    zalo_humans: ZaloSandboxClient,
    clock: FixedClock,
) -> None:
    group = await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội Phủ Lý")
    await migrated(sqlite_url)
    await seed(sqlite_url, team("PL", tg(group)))
    await humans.revoke_token()
    await zalo_humans.revoke_token()
    settings = make_settings(
        sqlite_url,
        tmp_path,
        telegram_bot_token=DEFAULT_TOKEN,
        telegram_api_url=telegram.root_url,
        zalo_bot_token=DEFAULT_ZALO_TOKEN,
        zalo_api_url=zalo.root_url,
        doctor_pending_interval_seconds=0,
    )
    findings = await diagnose(settings, clock=clock)
    assert exit_code(findings) == 1
    assert [f.check for f in findings if f.channel == "telegram"] == [Check.TOKEN]
    assert [f.check for f in findings if f.channel == "zalo"] == [Check.TOKEN]
    lines = text_of(findings)
    revoked = line_with(lines, "FAIL", "Telegram: getMe: Telegram refuses the token")
    assert "TELEGRAM_BOT_TOKEN (Unauthorized)" in revoked
    assert "@BotFather (/mybots → your bot → API Token" in revoked
    line_with(lines, "FAIL", "Zalo: getMe: Zalo refuses the token in ZALO_BOT_TOKEN")

    # A token that is not even shaped like one: Telegram answers 404.
    await humans.restore_token()
    malformed = make_settings(
        sqlite_url,
        tmp_path,
        telegram_bot_token="not-a-token",
        telegram_api_url=telegram.root_url,
        doctor_pending_interval_seconds=0,
    )
    lines = text_of(await diagnose(malformed, clock=clock))
    line_with(lines, "FAIL", "Telegram refuses the token in TELEGRAM_BOT_TOKEN (Not Found)")

    # Nobody answers at all: a network problem, not the token.
    unreachable = make_settings(
        sqlite_url,
        tmp_path,
        telegram_bot_token=DEFAULT_TOKEN,
        telegram_api_url=f"http://127.0.0.1:{closed_port()}",
        platform_timeout_seconds=2,
    )
    lines = text_of(await diagnose(unreachable, clock=clock))
    line_with(lines, "FAIL", "Telegram: Telegram did not answer", "Check that this server reaches")


# --------------------------------------------------------------------------- Zalo


async def test_zalo_webhook_elsewhere_and_groups_closed_are_told(
    sqlite_url: str,
    tmp_path: Path,
    zalo: ZaloSandbox,
    zalo_humans: ZaloSandboxClient,
    clock: FixedClock,
) -> None:
    await migrated(sqlite_url)
    await seed(sqlite_url, team("PL", tg(-1001234567890), ChatBinding("zalo", "5a1f0c3e9d7b")))
    await zalo_humans.set_bot(can_join_groups=False)
    other = "https://old.example.vn/zalo"
    await bot_api(
        zalo.root_url, DEFAULT_ZALO_TOKEN, "setWebhook", url=other, secret_token=ZALO_SECRET
    )
    settings = make_settings(
        sqlite_url,
        tmp_path,
        zalo_bot_token=DEFAULT_ZALO_TOKEN,
        zalo_api_url=zalo.root_url,
        zalo_mode="webhook",
        zalo_webhook_url=ZALO_WEBHOOK_URL,
        zalo_webhook_secret=ZALO_SECRET,
    )
    findings = await diagnose(settings, clock=clock)
    assert exit_code(findings) == 1
    lines = text_of(findings)
    line_with(lines, "OK", "Zalo: getMe: the token works, bot bot.dieuphoi")
    closed = line_with(lines, "OK", "Zalo: getMe: can_join_groups is false")
    assert "see docs/zalo.md" in closed
    line_with(lines, "SKIP", "Team PL's Zalo group 5a1f0c3e9d7b")
    line_with(
        lines, "FAIL", f"Zalo: The webhook is registered at {other}, not at ZALO_WEBHOOK_URL="
    )
    # The team's Telegram group cannot be served: Telegram is not configured here.
    off = line_with(lines, "WARN", "Telegram: Team PL's Telegram group -1001234567890")
    assert "the Telegram channel is not configured (TELEGRAM_BOT_TOKEN is empty)" in off
    assert "dispatchbot team unbind PL --chat -1001234567890 --channel telegram" in off


# --------------------------------------------------------------------------- this deployment


async def test_a_database_behind_and_a_bad_policy_file_are_told(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    await migrated(database_url, "0006")
    policy = tmp_path / "policy.toml"
    policy.write_text('[calendar]\nweekdays = ["mon", "funday"]\n', encoding="utf-8")
    with pytest.raises(PolicyError) as bad:
        load_policy(policy)
    engine = create_engine(database_url)
    try:
        head = ", ".join(sorted((await schema.schema_state(engine)).heads))
    finally:
        await engine.dispose()
    settings = make_settings(database_url, tmp_path, policy_file=policy)

    findings = await diagnose(settings, clock=clock)
    assert exit_code(findings) == 1
    lines = text_of(findings)
    line_with(lines, "WARN", "No channel is configured")
    line_with(lines, "OK", "Database:", "answers.")
    behind = line_with(lines, "FAIL", f"The schema is at revision 0006; the latest is {head}.")
    assert "→ Run dispatchbot db upgrade" in behind
    policy_line = line_with(lines, "FAIL", "Policy file:")
    assert str(bad.value) in policy_line and "\n" not in str(bad.value)
    line_with(lines, "SKIP", "Holidays not checked: the policy file has an error.")
    json_statuses = {(f.check, f.status) for f in findings}
    assert (Check.MIGRATIONS, Status.FAIL) in json_statuses


async def test_a_missing_unreachable_empty_or_newer_database_is_told(
    tmp_path: Path, clock: FixedClock
) -> None:
    missing = tmp_path / "nowhere.db"
    settings = make_settings(f"sqlite+aiosqlite:///{missing}", tmp_path)
    lines = text_of(await diagnose(settings, clock=clock))
    line_with(lines, "FAIL", f"There is no database file {missing}.", "dispatchbot db upgrade")
    line_with(lines, "SKIP", "No group was checked")
    assert not missing.exists(), "the doctor created the database it was asked about"

    unreachable = make_settings(
        f"postgresql+asyncpg://dispatch:s3cret@127.0.0.1:{closed_port()}/dispatch", tmp_path
    )
    lines = text_of(await diagnose(unreachable, clock=clock))
    down = line_with(lines, "FAIL", "Cannot reach postgresql+asyncpg://dispatch:***@127.0.0.1")
    assert "s3cret" not in "\n".join(lines)
    assert "→ Check DATABASE_URL" in down

    empty = tmp_path / "empty.db"
    engine = create_engine(f"sqlite+aiosqlite:///{empty}")
    async with engine.connect():
        pass
    await engine.dispose()
    lines = text_of(
        await diagnose(make_settings(f"sqlite+aiosqlite:///{empty}", tmp_path), clock=clock)
    )
    line_with(lines, "FAIL", "The database has no tables yet.")

    newer = tmp_path / "newer.db"
    await migrated(f"sqlite+aiosqlite:///{newer}")
    engine = create_engine(f"sqlite+aiosqlite:///{newer}")
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    await engine.dispose()
    lines = text_of(
        await diagnose(make_settings(f"sqlite+aiosqlite:///{newer}", tmp_path), clock=clock)
    )
    line_with(lines, "FAIL", "The schema is at revision 9999", "a newer version upgraded")


async def test_a_year_without_holidays_fails_and_the_policy_days_are_listed(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    await migrated(sqlite_url)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[calendar]\npublic_holidays = false\n"
        "extra_days_off = [2026-09-02]\nextra_working_days = [2026-09-05]\n",
        encoding="utf-8",
    )
    settings = make_settings(sqlite_url, tmp_path, policy_file=policy, language="vi")
    findings = await diagnose(settings, clock=clock)  # Friday 27/11/2026
    assert exit_code(findings) == 1
    lines = text_of(findings, Lang.VI)
    line_with(lines, "ỔN", f"Tệp chính sách: Tệp chính sách {policy} hợp lệ.")
    line_with(lines, "ỔN", "Lịch nghỉ: Năm 2026: 1 ngày nghỉ, 1 ngày làm bù.")
    line_with(lines, "02/09/2026 (thứ Tư) nghỉ (theo tệp chính sách)")
    line_with(lines, "05/09/2026 (thứ Bảy) đi làm (theo tệp chính sách)")
    none = line_with(lines, "LỖI", "Lịch nghỉ: Năm 2027: lịch không có ngày nghỉ lễ nào")
    assert "→ Ghi các ngày nghỉ năm 2027" in none
    assert [f.year for f in findings if f.check is Check.HOLIDAYS] == [2026, 2027]


def test_the_calendar_lines_show_the_worked_saturday_and_its_bridge_day() -> None:
    """Item 8: 22/8/2026 is worked in exchange for Monday 31/8; the admin sees both."""
    findings = check_holidays(WorkingCalendar(), datetime(2026, 3, 1).date(), Lang.VI)
    lines = text_of(findings, Lang.VI)
    line_with(lines, "22/08/2026 (thứ Bảy) đi làm bù cho ngày nghỉ 31/08/2026")
    line_with(lines, "31/08/2026 (thứ Hai) nghỉ: Ngày nghỉ (thay cho ngày 22/08/2026)")
    line_with(lines, "17/02/2026 (thứ Ba) nghỉ: Tết Nguyên Đán")
    line_with(lines, "06/02/2027 (thứ Bảy) nghỉ: Tết Nguyên Đán")
    assert all(f.status is Status.OK for f in findings)
