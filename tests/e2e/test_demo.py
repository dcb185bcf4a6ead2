"""`dispatchbot demo` runs the scripted morning offline and shows what people saw."""

from __future__ import annotations

from bot.demo import run_demo


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
