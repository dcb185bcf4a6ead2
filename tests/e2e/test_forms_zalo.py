"""Zalo has no buttons and no location key: the same form is answered by typing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

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
