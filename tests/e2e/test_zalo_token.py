"""Issue 14 item 4 on Zalo: a revoked token pauses the channel, keeps every message, says
so in /healthz and /metrics, and sends everything once the token works again."""

from __future__ import annotations

from pathlib import Path

from bot.domain.clock import FixedClock
from tests.e2e.conftest import CAST, ZGROUP, new_connection, running_stage
from tests.reliability.harness import wait_until


async def test_a_revoked_zalo_token_pauses_the_channel_and_loses_nothing(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = dict.fromkeys(CAST, "zalo")
    async with running_stage(database_url, tmp_path, clock, where, token_probe_seconds=0.5) as s:
        assert s.zalo is not None
        zalo = s.zalo
        await zalo.revoke_token()
        for i in range(2):
            status, _ = await s.intake(new_connection(f"ZTOK-{i}"))
            assert status == 201

        async def degraded() -> bool:
            async with s.http.get(f"{s.api}/healthz") as resp:
                body = await resp.json()
                return resp.status == 200 and body["channels"] == {"zalo": "token_refused"}

        await wait_until(degraded, timeout=20, what="/healthz to say the Zalo token is refused")
        async with s.http.get(f"{s.api}/metrics") as resp:
            assert 'dispatch_channel_paused{channel="zalo"} 1' in await resp.text()
        assert await s.container.store.pending_count() == 2
        assert (await s.container.store.stats()).failed == 0

        await zalo.restore_token()

        async def sent() -> bool:
            shown = [m for m in await zalo.messages(ZGROUP) if m.from_bot]
            return len(shown) == 2 and await s.container.store.pending_count() == 0

        await wait_until(sent, timeout=20, what="both cards in the Zalo group")
        async with s.http.get(f"{s.api}/healthz") as resp:
            assert (await resp.json())["status"] == "ok"
