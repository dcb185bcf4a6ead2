"""`/find`, `/board` and a clerk's `/mine` through the sandbox, as people type them.

Each person sees what they may: a group its own team's cases with phones masked, a
person privately what their role lets them see, the whole phone only on their own case.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from bot.domain.clock import FixedClock
from bot.domain.model import Area, CaseKind, Customer, Purpose, Role, Source
from bot.domain.people import Actor, Member
from bot.services.commands import IntakeCase
from sandbox.phones import TelegramPhone
from tests.e2e.conftest import CAST, Stage, meter_complaint, new_connection, running_stage

BOARD_URL = "https://board.example.vn/app/"


async def two_cases(stage: Stage) -> tuple[str, str]:
    _, first = await stage.intake(new_connection("TTHCC-PL-2026-00123"))
    _, second = await stage.intake(meter_complaint("TTHCC-PL-2026-00124"))
    await stage.settled()
    return str(first["ref"]), str(second["ref"])


async def test_find_in_the_group_by_name_without_diacritics_phone_or_dossier(
    stage: Stage,
) -> None:
    hung, mai = await two_cases(stage)
    found = await stage.say(stage.lead, "/find tran van hung")
    assert hung in found.body and mai not in found.body
    assert "0912***678" in found.body and "0912345678" not in found.body
    assert "Trần Văn Hưng" in found.body
    by_phone = await stage.say(stage.lead, "/find +84 987 654 321")
    assert mai in by_phone.body and hung not in by_phone.body
    by_dossier = await stage.say(stage.minh, "/find pl-2026-00124")
    assert mai in by_dossier.body and hung not in by_dossier.body
    nothing = await stage.say(stage.lead, "/find Phạm Thị Nở")
    assert "Không thấy hồ sơ nào" in nothing.body
    usage = await stage.say(stage.lead, "/find")
    assert "/find" in usage.body and hung not in usage.body


async def test_a_piece_of_a_phone_number_finds_nothing_in_the_group(stage: Stage) -> None:
    """The group's cards mask the middle digits; guessing them by search must not work."""
    await two_cases(stage)
    guess = await stage.say(stage.lead, "/find 09123")
    assert "Không thấy hồ sơ nào" in guess.body


async def test_find_in_english(stage: Stage) -> None:
    hung, _ = await two_cases(stage)
    await stage.say(stage.minh, "/lang en", chat=stage.minh.user_id)
    found = await stage.say(stage.minh, "/find hung", chat=stage.minh.user_id)
    assert found.body.startswith('Search "hung": 1 found') and hung in found.body


async def test_privately_the_whole_phone_shows_only_on_the_finders_own_case(
    stage: Stage,
) -> None:
    hung, _ = await two_cases(stage)
    await stage.say(stage.minh, f"/claim {hung}")
    mine = await stage.say(stage.minh, "/find hung", chat=stage.minh.user_id)
    assert "0912345678" in mine.body
    theirs = await stage.say(stage.hung, "/find hung", chat=stage.hung.user_id)
    assert hung in theirs.body and "0912***678" in theirs.body and "0912345678" not in theirs.body


async def test_find_pages_through_many_cases_with_buttons(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = {"lead": "telegram"}
    async with running_stage(database_url, tmp_path, clock, where) as stage:
        for n in range(12):
            body = new_connection(f"TTHCC-{n:03d}")
            body["customer"] = dict(body["customer"], name=f"Nguyễn Văn Số {n}")
            await stage.intake(body)
        await stage.settled()
        found = await stage.say(stage.lead, "/find nguyen van")
        assert "trang 1/2" in found.body and found.body.count("\n") == 10
        phone = stage.phones["telegram"]
        assert isinstance(phone, TelegramPhone)
        message = await phone.client.wait_for_message(
            int(found.chat), where=lambda m: m.message_id == int(found.id)
        )
        assert len(message.buttons) == 11  # ten cases, then «Sau ›»
        lead = int(stage.lead.user_id)
        await phone.client.press(
            lead, int(found.chat), message.message_id, message.buttons[-1].callback_data or ""
        )
        second = await phone.client.wait_for_message(int(found.chat), contains="trang 2/2")
        assert second.body.count("\n") == 2


async def test_board_in_the_group_lists_who_has_what_with_the_overdue_marked(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(("lead", "minh", "hung"), "telegram")
    async with running_stage(database_url, tmp_path, clock, where, webapp_url=BOARD_URL) as stage:
        hung_ref, mai_ref = await two_cases(stage)
        await stage.say(stage.minh, f"/claim {hung_ref}")
        clock.advance(timedelta(days=6))  # both past their due time (working days)
        board = await stage.say(stage.hung, "/board")
        lines = board.body.split("\n")
        assert lines[0].startswith("📋 Đội PL: 2 việc")
        assert f"👷 Minh (1): {hung_ref} ⏰" in lines
        assert "👷 Hùng: chưa có việc" in lines
        assert f"🆕 Chưa ai nhận (1): {mai_ref} ⏰" in lines
        phone = stage.phones["telegram"]
        assert isinstance(phone, TelegramPhone)
        shown = await phone.client.wait_for_message(
            int(board.chat), where=lambda m: m.message_id == int(board.id)
        )
        bot = (await phone.client.bot_user())["username"]
        assert [(b.url, b.web_app) for b in shown.buttons] == [
            (f"https://t.me/{bot}?start=board", None)
        ]


async def test_board_privately_is_for_leads_and_opens_the_mini_app(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(("lead", "minh"), "telegram")
    async with running_stage(database_url, tmp_path, clock, where, webapp_url=BOARD_URL) as stage:
        await two_cases(stage)
        lead = stage.lead.user_id
        for typed in ("/board", "/start board"):
            answer = await stage.say(stage.lead, typed, chat=lead)
            assert answer.body.startswith("📋 Đội PL")
            phone = stage.phones["telegram"]
            assert isinstance(phone, TelegramPhone)
            wanted = int(answer.id)
            shown = await phone.client.wait_for_message(
                int(lead), where=lambda m, wanted=wanted: m.message_id == wanted
            )
            assert [b.web_app for b in shown.buttons] == [BOARD_URL]
        refused = await stage.say(stage.minh, "/board", chat=stage.minh.user_id)
        assert "đội trưởng" in refused.body and "📋" not in refused.body


async def test_board_on_zalo_sends_a_one_time_link_privately(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(("lead", "minh"), "zalo")
    async with running_stage(database_url, tmp_path, clock, where, webapp_url=BOARD_URL) as stage:
        await two_cases(stage)
        said = await stage.say(stage.lead, "/board")
        assert "đường dẫn" in said.body
        assert stage.zalo is not None
        private = await stage.zalo.wait_for_message(stage.lead.user_id, contains=BOARD_URL)
        token = re.search(r"#link=([\w-]+)", private.body)
        assert token is not None and "15 phút" in private.body
        link = {"link": token.group(1)}
        async with stage.http.post(f"{stage.api}/app/api/session", json=link) as resp:
            assert resp.status == 200 and (await resp.json())["me"]["name"] == CAST["lead"][0]
        async with stage.http.post(f"{stage.api}/app/api/session", json=link) as resp:
            assert resp.status == 401  # once only


async def test_a_clerks_mine_lists_the_cases_she_filed_and_how_each_stands(stage: Stage) -> None:
    clerk = Member(stage.clerk.uid, CAST["clerk"][0], Role.CLERK, None)
    filed, _ = await stage.container.service.intake(
        IntakeCase(
            Actor(uid=clerk.uid, name=clerk.name, member=clerk),
            Source.TELEGRAM,
            None,
            kind=CaseKind.NEW_CONNECTION,
            team_code="PL",
            customer=Customer("Lê Văn Toàn", "0356789123", "Xóm 3, Liêm Tuyền"),
            description="Cấp điện nhà mới",
            area=Area.RURAL,
            purpose=Purpose.DOMESTIC,
        ),
        stage.container.uow(),
    )
    _, other = await stage.intake(new_connection("TTHCC-PL-2026-00999"))
    await stage.settled()
    await stage.say(stage.minh, f"/claim {filed.ref}")
    mine = await stage.say(stage.clerk, "/mine", chat=stage.clerk.user_id)
    assert mine.body.startswith("Hồ sơ bạn đã nhập (1)")
    assert filed.ref in mine.body and "Đã nhận" in mine.body and other["ref"] not in mine.body
