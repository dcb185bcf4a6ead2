"""One team, a Telegram group and a Zalo group: a case shows on both, the first claim wins."""

from __future__ import annotations

import asyncio

from sandbox.phones import say
from tests.e2e.conftest import Stage, new_connection


async def test_a_case_is_posted_to_both_groups_once(mixed: Stage) -> None:
    s = mixed
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    on_telegram = await s.card("telegram", ref)
    on_zalo = await s.card("zalo", ref)
    assert on_telegram.offers == ("✋ Nhận việc",)
    assert on_zalo.offers == (f"👉 Trả lời /claim {ref} để nhận việc",)
    await s.settled()
    for channel in ("telegram", "zalo"):
        shown = await s.phones[channel].messages(s.groups[channel])
        assert [m.body.startswith(f"📋 {ref} ") for m in shown] == [True]
        assert "0912***678" in shown[0].body and "0912345678" not in shown[0].body


async def test_workers_on_two_channels_race_for_one_case_and_both_groups_show_the_winner(
    mixed: Stage,
) -> None:
    s = mixed
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    tg_card = await s.card("telegram", ref)
    zalo_card = await s.card("zalo", ref)

    minh_told, hung_told = await asyncio.gather(
        s.phone(s.minh).claim(s.minh, s.group(s.minh), tg_card, ref),  # presses the button
        s.phone(s.hung).claim(s.hung, s.group(s.hung), zalo_card, ref),  # types /claim
    )
    case = await s.case(ref)
    assert case["status"] == "claimed"
    winner, loser = (s.minh, s.hung) if case["assignee"] == s.minh.uid else (s.hung, s.minh)
    assert case["assignee"] == winner.uid
    assert sum(h["action"] == "claim" for h in case["history"]) == 1
    told = {s.minh.key: minh_told, s.hung.key: hung_told}
    assert "đã có người nhận" in told[loser.key] and winner.name in told[loser.key]
    assert "đã có người nhận" not in told[winner.key]

    # Both groups name the winner: by @username on Telegram, by name on Zalo.
    on_card = {"minh": "@minh_pl", "hung": "Hùng"}[winner.key]
    telegram_view = await s.card("telegram", ref, contains=f"👷 Người làm: {on_card}")
    assert telegram_view.offers == () and telegram_view.edited
    zalo_view = await s.card("zalo", ref, contains=f"👷 Người làm: {on_card}")
    assert zalo_view.offers == () and "Trạng thái: Đã nhận" in zalo_view.body
    contact = await s.phone(winner).wait_for(winner.user_id, "0912345678")
    assert ref in contact.body

    # A step done on either channel shows on both.
    done = await say(s.phone(winner), winner, s.group(winner), f"/survey {ref} Cần 25m cáp")
    assert done.body.startswith(f"✅ {ref}: Đã khảo sát")
    await s.card("telegram", ref, contains="Trạng thái: Đã khảo sát")
    await s.card("zalo", ref, contains="Trạng thái: Đã khảo sát")
    assert (await s.case(ref))["status"] == "surveyed"


async def test_the_lead_on_telegram_closes_what_the_zalo_worker_did(mixed: Stage) -> None:
    s = mixed
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card("zalo", ref)
    for who, text in (
        (s.hung, f"/claim {ref}"),
        (s.hung, f"/survey {ref} ok"),
        (s.hung, f"/estimate {ref} 1tr 2tr"),
        (s.clerk, f"/agree {ref}"),
        (s.hung, f"/install {ref} CT-1"),
        (s.lead, f"/close {ref}"),
    ):
        reply = await s.say(who, text)
        assert reply.body.startswith(f"✅ {ref}"), reply.body
    assert (await s.case(ref))["status"] == "closed"
    await s.card("telegram", ref, contains="Trạng thái: Đã đóng hồ sơ")
    await s.card("zalo", ref, contains="Trạng thái: Đã đóng hồ sơ")
    assert [h["actor"] for h in (await s.case(ref))["history"][1:]] == [
        s.hung.uid,
        s.hung.uid,
        s.hung.uid,
        s.clerk.uid,
        s.hung.uid,
        s.lead.uid,
    ]
