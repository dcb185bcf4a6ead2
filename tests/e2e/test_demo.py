"""`dispatchbot demo` runs the scripted morning offline and shows what people saw."""

from __future__ import annotations

from sandbox.demo import run_demo


async def test_demo_plays_the_morning_and_exits_zero() -> None:
    lines: list[str] = []
    assert await run_demo("telegram", echo=lines.append) == 0
    out = "\n".join(lines)
    assert "filed PL-1, PL-2, PL-3; a retried call returned PL-1 again" in out
    # exactly one of the two racing workers got the case
    assert out.count("sees: Bạn đã nhận PL-1") == 1
    assert out.count("PL-1 đã có người nhận") == 1
    assert "✅ PL-1: Đã đóng hồ sơ." in out and "✅ PL-2: Đã đóng hồ sơ." in out
    group = out.split("=== Đội Phủ Lý")[1].split("\n=== ")[0]
    assert "0912***678" in group and "0912345678" not in group
    assert "Điện thoại: 0912345678" in out  # only in the claimer's private chat
    assert "received: 3" in out and "closed:   2" in out
    # The guided flow (issue 5): PL-3 surveyed from the phone with buttons, two photos, a place.
    assert "taps «📝 Khảo sát»" in out and "📷 Đã nhận 2 ảnh." in out
    assert "📍 Vị trí: 20.54123, 105.91234" in out and "✅ PL-3: Đã khảo sát." in out


async def test_the_same_morning_plays_on_zalo_and_exits_zero() -> None:
    lines: list[str] = []
    assert await run_demo("zalo", echo=lines.append) == 0
    out = "\n".join(lines)
    assert "filed PL-1, PL-2, PL-3; a retried call returned PL-1 again" in out
    group = out.split("=== Đội Phủ Lý (Zalo group")[1].split("\n=== ")[0]
    # no buttons on Zalo: the card says what to type, and both claimants typed it
    assert "👉 Trả lời /claim PL-1 để nhận việc" in group
    assert group.count(": @Bot Điện lực Phủ Lý /claim PL-1") == 2
    # exactly one of them got the case; the other was told who has it
    assert (
        out.count("✅ PL-1: Đỗ Minh đã nhận việc.") + out.count("✅ PL-1: Vũ Hùng đã nhận việc.")
        == 2
    )
    assert group.count("PL-1 đã có người nhận") == 1
    # a card edit is a short status message on Zalo
    assert "Trạng thái: Đã đóng hồ sơ\n    👷 Người làm:" in group
    assert "✅ PL-1: Đã đóng hồ sơ." in out and "✅ PL-2: Đã đóng hồ sơ." in out
    assert "0912***678" in group and "0912345678" not in group
    assert "Điện thoại: 0912345678" in out  # only in the claimer's private chat
    assert "(Zalo private " in out
    assert "received: 3" in out and "closed:   2" in out


async def test_an_unknown_channel_is_refused() -> None:
    lines: list[str] = []
    assert await run_demo("viber", echo=lines.append) == 2
    assert "--channel zalo" in lines[0]


async def test_demo_shows_the_board_and_prints_its_url_with_valid_launch_data() -> None:
    from datetime import datetime, time
    from urllib.parse import parse_qs, urlsplit
    from zoneinfo import ZoneInfo

    from bot.webapp.launch import verify_launch
    from sandbox.demo import DEMO_DAY, DEMO_TZ, TOKEN

    lines: list[str] = []
    assert await run_demo("telegram", echo=lines.append) == 0
    out = "\n".join(lines)
    assert "👷 Vũ Hùng (1): PL-3" in out or "👷 Đỗ Minh (1): PL-3" in out
    assert "PL-3 · Lê Văn Toàn · 0356***123" in out
    url = next(line.strip() for line in lines if "/app/#tgWebAppData=" in line)
    launch = parse_qs(urlsplit(url).fragment)["tgWebAppData"][0]
    later_that_day = datetime.combine(DEMO_DAY, time(17, 0), ZoneInfo(DEMO_TZ))
    user = verify_launch(launch, TOKEN, later_that_day)
    assert (user.id, user.first_name) == ("2001", "Lan")  # the demo's lead
