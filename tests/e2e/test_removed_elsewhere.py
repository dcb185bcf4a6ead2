"""A member removed by another process (the command line, another instance) is refused at
his very next command, although the bot keeps a copy of its members (storage/directory.py)."""

from __future__ import annotations

import sqlalchemy as sa

from storage import tables
from storage.engine import create_engine
from storage.tables import MEMBERS
from tests.e2e.conftest import System, new_connection


async def test_a_member_removed_elsewhere_is_refused_at_his_next_command(system: System) -> None:
    s = system
    status, body = await s.intake(new_connection())
    assert status == 201
    ref = body["ref"]
    await s.card(ref)
    for _ in range(2):  # the second answer is served from the bot's copy
        welcome = await s.say(s.minh, "/start", chat=s.minh.id)
        assert "chưa là thành viên" not in welcome.body

    other = create_engine(s.container.settings.database_url)  # its own process, as it were
    try:
        async with other.begin() as conn:
            await conn.execute(
                sa.update(tables.members)
                .where(MEMBERS.uid == f"telegram:{s.minh.id}")
                .values(active=False)
            )
    finally:
        await other.dispose()

    refused = await s.say(s.minh, "/start", chat=s.minh.id)
    assert f"telegram:{s.minh.id}" in refused.body and "chưa là thành viên" in refused.body
    await s.say(s.minh, f"/claim {ref}", chat=s.minh.id)
    assert (await s.case(ref))["status"] == "open"
