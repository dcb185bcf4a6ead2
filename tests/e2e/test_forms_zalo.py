"""Zalo has no buttons and no location key: the same form is answered by typing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from bot.domain.clock import FixedClock
from sandbox.phones import say
from sandbox.telegram import make_png
from tests.e2e.conftest import CAST, Stage, new_connection, running_stage
from tests.e2e.fieldkit import tr


@pytest.fixture
async def zalo(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Stage]:
    async with running_stage(database_url, tmp_path, clock, dict.fromkeys(CAST, "zalo")) as stage:
        yield stage


async def test_a_survey_form_is_answered_by_typing_on_zalo(zalo: Stage) -> None:
    s = zalo
    minh = s.minh
    phone = s.phone(minh)
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card("zalo", ref)
    await say(phone, minh, s.group(minh), f"/claim {ref}")
    asked = await say(phone, minh, minh.user_id, "/survey")
    assert tr("vi", "form.ask.note_survey") in asked.body
    assert tr("vi", "form.type.cancel") in asked.body  # what to type instead of a button
    asked = await say(phone, minh, minh.user_id, "Cột gần nhà, cần 25m cáp")
    assert tr("vi", "form.type.done") in asked.body
    assert s.zalo is not None
    sent = await s.zalo.send_photo(minh.user_id, minh.user_id, make_png(12, 12))
    got = await phone.answer(phone._seen(sent))  # type: ignore[attr-defined]
    assert tr("vi", "form.ask.photos_more", count=1) in got.body
    # No location question: Zalo cannot send one. The summary comes next.
    summary = await say(phone, minh, minh.user_id, "xong")
    assert tr("vi", "form.sum.photos", count=1) in summary.body
    assert tr("vi", "form.type.confirm") in summary.body
    done = await say(phone, minh, minh.user_id, "ok")
    assert done.body.startswith(f"✅ {ref}: Đã khảo sát")
    case = await s.case(ref)
    assert case["status"] == "surveyed"
    assert [e["kind"] for e in case["evidence"]] == ["photo"]


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_an_amount_in_doubt_and_an_edit_are_answered_by_typing_on_zalo(
    zalo: Stage, lang: str
) -> None:
    """Issue 15, item 1 on Zalo: the readings and the summary's fields are numbered
    lines; «1» picks a reading, «sửa 2» answers the second field again."""
    s = zalo
    minh = s.minh
    phone = s.phone(minh)
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card("zalo", ref)
    if lang == "en":
        await say(phone, minh, minh.user_id, "/lang en")
    await say(phone, minh, minh.user_id, f"/claim {ref}")
    await say(phone, minh, minh.user_id, f"/survey {ref} Cột gần nhà")
    asked = await say(phone, minh, minh.user_id, f"/estimate {ref} 1tr5k 2tr")
    shown = "1.500.000 đ / 1.005.000 đ"
    assert tr(lang, "form.amount_doubt", text="1tr5k", options=shown) in asked.body
    first = tr(lang, "form.amount_option", amount="1.500.000 đ")
    assert tr(lang, "form.option_line", n=1, label=first) in asked.body
    summary = await say(phone, minh, minh.user_id, "1")
    assert tr(lang, "form.sum.customer_cost", value="1.500.000 đ") in summary.body
    utility = tr(lang, "form.field.utility_cost")
    assert tr(lang, "form.option_line", n=2, label=utility) in summary.body
    assert tr(lang, "form.type.edit") in summary.body
    again = await say(phone, minh, minh.user_id, "sửa 2" if lang == "vi" else "edit 2")
    assert tr(lang, "form.ask.utility_cost") in again.body
    summary = await say(phone, minh, minh.user_id, "0")
    assert tr(lang, "form.sum.utility_cost", value="0 đ") in summary.body
    done = await say(phone, minh, minh.user_id, "ok")
    assert tr(lang, "form.sum.customer_cost", value="1.500.000 đ") in done.body
    case = await s.case(ref)
    assert case["estimate"] == {"customer_cost": 1_500_000, "utility_cost": 0}


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_claimers_message_shows_a_map_link_and_the_phone_on_zalo(
    zalo: Stage, lang: str
) -> None:
    """Issue 15, item 4 on Zalo: no buttons, so the map is a link in the text; the
    phone number is text a phone makes a call link of."""
    s = zalo
    minh = s.minh
    phone = s.phone(minh)
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card("zalo", ref)
    if lang == "en":
        await say(phone, minh, minh.user_id, "/lang en")
    await say(phone, minh, s.group(minh), f"/claim {ref}")
    contact = await phone.wait_for(minh.user_id, "0912345678")
    url = "https://www.google.com/maps/search/?api=1&query=" + quote_plus(
        "12 Trần Hưng Đạo, Phủ Lý"
    )
    assert tr(lang, "zalo.link", label=tr(lang, "button.map"), url=url) in contact.body
    assert "0912345678" in contact.body


async def test_offers_are_lines_to_type_on_zalo(zalo: Stage) -> None:
    """Issue 15, item 4 on Zalo: what Telegram offers as buttons is listed to type."""
    s = zalo
    minh = s.minh
    phone = s.phone(minh)
    first, second = [], []
    for n, found in ((1, first), (2, second)):
        _, body = await s.intake(new_connection(f"TTHCC-PL-2026-{n:05d}"))
        found.append(body["ref"])
        await s.card("zalo", body["ref"])
        await say(phone, minh, s.group(minh), f"/claim {body['ref']}")
    asked = await say(phone, minh, minh.user_id, "/survey")
    assert tr("vi", "pick.typed", command=f"survey {first[0]}") in asked.body
    assert tr("vi", "pick.typed", command=f"survey {second[0]}") in asked.body
    asked = await say(phone, minh, minh.user_id, "/lang")
    assert tr("vi", "pick.typed", command="lang en") in asked.body
