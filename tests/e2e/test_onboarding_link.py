"""One person, two channels: a member's own link code, opened on Zalo with `/start CODE`,
makes their Zalo account the same member (name, role, team, cases)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.clock import FixedClock
from sandbox.phones import Person, say
from tests.e2e.conftest import Stage, new_connection, running_stage
from tests.e2e.fieldkit import tr

ZALO_MINH = "0a1b2c3d4e5f60009902"


@pytest.fixture
async def both(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Stage]:
    where = {"lead": "telegram", "minh": "telegram", "hung": "zalo"}
    async with running_stage(database_url, tmp_path, clock, where) as stage:
        yield stage


async def test_a_member_links_their_zalo_account_with_a_one_time_code(both: Stage) -> None:
    s = both
    minh = s.minh
    telegram = s.phone(minh)
    issued = await say(telegram, minh, minh.user_id, "/invite link")
    found = re.search(r"/start ([A-Z0-9]{10})", issued.body)
    assert found is not None, issued.body
    code = found.group(1)
    assert tr("vi", "invite.typed", code=code) in issued.body  # Zalo has no deep links

    assert s.zalo is not None
    await s.zalo.add_user(ZALO_MINH, "Minh Đỗ")
    on_zalo = Person("minh_zalo", "Minh", "zalo", ZALO_MINH)
    zalo = s.phones["zalo"]
    linked = await say(zalo, on_zalo, ZALO_MINH, f"/start {code}")
    assert linked.body == tr(
        "vi", "invite.linked", name="Minh", role=tr("vi", "role.worker"), team="PL"
    )
    async with s.container.uow() as uow:
        member = await uow.members.by_identity("zalo", ZALO_MINH)
    assert member is not None and member.uid == minh.uid
    assert {i.channel for i in member.identities} == {"telegram", "zalo"}

    # Minh's case, claimed on Telegram, is his on Zalo too.
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card("telegram", ref)
    await say(telegram, minh, s.group(minh), f"/claim {ref}")
    mine = await say(zalo, on_zalo, ZALO_MINH, "/mine")
    assert ref in mine.body

    # The code worked once.
    await s.zalo.add_user("0a1b2c3d4e5f60009903", "Người khác")
    other = Person("other", "Khác", "zalo", "0a1b2c3d4e5f60009903")
    again = await say(zalo, other, other.user_id, f"/start {code}")
    assert again.body == tr("vi", "invite.invalid.used")
    # Opened where the member already is, a code says to use the other channel.
    second = re.search(
        r"/start ([A-Z0-9]{10})", (await say(telegram, minh, minh.user_id, "/invite link")).body
    )
    assert second is not None
    same = await say(telegram, minh, minh.user_id, f"/start {second.group(1)}")
    assert same.body == tr("vi", "invite.same_channel")
