"""Issue 14, items 2-4, through the real application, its Telegram adapter and the sandbox:

- a group upgraded to a supergroup: the team, its queue and its cards follow it;
- one message that cannot go (a proxy's 413 page, a send that keeps failing) never
  stalls its chat, and the team's lead is told;
- a revoked token pauses the channel and loses nothing; when it works again, or after a
  restart with a new one, everything waiting is sent.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.channels.telegram import TelegramChannel
from bot.domain.model import Role
from sandbox.client import SandboxClient
from sandbox.telegram import TelegramSandbox
from storage import tables as t
from storage.chat_moves import ChatMoveStore
from tests.conftest import make_settings
from tests.reliability.harness import (
    CARD_TITLE,
    GROUP,
    TOKEN,
    Db,
    bot_messages,
    intake_body,
    post_intake,
    running_bot,
    seed,
    wait_until,
)
from tests.reliability.harness import Person as P

LAN = P(3001, "Lan", Role.LEAD, "lan_pl")
MINH = P(3002, "Minh", Role.WORKER, "minh_pl")
#: A basic group's id (a supergroup's start with -100).
BASIC_GROUP = -4100
SUPERGROUP = -1001000004100

PROXY_413 = (
    "<html><head><title>413 Request Entity Too Large</title></head><body>"
    "<center><h1>413 Request Entity Too Large</h1></center><hr><center>nginx</center>"
    "</body></html>"
)


async def cards(client: SandboxClient, chat: int) -> list[str]:
    """The refs of the case cards the bot shows in the chat, in order."""
    refs = []
    for m in await bot_messages(client, chat):
        found = CARD_TITLE.match(m.body)
        if found:
            refs.append(found.group(1))
    return refs


async def statuses(db: Db) -> dict[str, int]:
    rows = await db.rows(sa.select(t.outbox.c.status, sa.func.count()).group_by(t.outbox.c.status))
    return {r[0]: int(r[1]) for r in rows}


async def healthz(base: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as resp:
        return resp.status, await resp.json()


async def metrics(base: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        return await resp.text()


# --------------------------------------------------------------------------- item 2


async def test_a_group_upgraded_to_a_supergroup_takes_its_team_queue_and_cards_along(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await seed(db_url, tmp_path, [LAN, MINH], group=BASIC_GROUP)
    async with (
        TelegramSandbox(token=TOKEN) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        users = {
            p: await client.add_user(p.user_id, p.name, username=p.username) for p in (LAN, MINH)
        }
        await client.add_chat(
            BASIC_GROUP, type="group", title="Đội PL", members=list(users.values())
        )
        db = Db(db_url)
        async with (
            running_bot(db_url, tmp_path, sandbox.root_url) as bot,
            aiohttp.ClientSession() as http,
        ):
            api = f"http://127.0.0.1:{bot.http_port}"
            assert (await post_intake(http, api, intake_body("MIG-1")))[0] == 201

            async def first_card() -> bool:
                return await cards(client, BASIC_GROUP) == ["PL-1"]

            await wait_until(first_card, timeout=20, what="the first card in the group")

            await client.migrate(BASIC_GROUP, new_id=SUPERGROUP, by=users[LAN])

            async def rebound() -> bool:
                chats = await db.rows(sa.select(t.team_chats.c.chat_id))
                return [r.chat_id for r in chats] == [str(SUPERGROUP)]

            await wait_until(rebound, timeout=20, what="the team to follow its group")
            # Later cards, and the old card's next change, go to the supergroup; the old
            # card cannot be edited there (its new id is never told): it is posted anew.
            assert (await post_intake(http, api, intake_body("MIG-2")))[0] == 201
            await client.send_text(users[MINH], SUPERGROUP, "/claim PL-1")

            async def followed() -> bool:
                shown = await cards(client, SUPERGROUP)
                return "PL-1" in shown and "PL-2" in shown and await db.pending() == 0

            await wait_until(followed, timeout=20, what="the cards in the supergroup")
            assert sorted(await cards(client, SUPERGROUP)) == ["PL-1", "PL-2"]
            (claimed,) = [
                m for m in await bot_messages(client, SUPERGROUP) if m.body.startswith("📋 PL-1")
            ]
            assert "Trạng thái: Đã nhận" in claimed.body and "minh_pl" in claimed.body
            assert await cards(client, BASIC_GROUP) == ["PL-1"]  # the dead group is left be
            assert (await statuses(db)).get("failed", 0) == 0
            moves = await ChatMoveStore(bot.engine).all()
            assert [(m.old_chat_id, m.new_chat_id, m.team_code) for m in moves] == [
                (str(BASIC_GROUP), str(SUPERGROUP), "PL")
            ]
            # Both service messages said so; it is logged once.
            said = [
                r for r in caplog.records if "(a group upgraded to a supergroup)" in r.getMessage()
            ]
            assert len(said) == 1 and str(SUPERGROUP) in said[0].getMessage()
        await db.close()


async def test_the_400_on_the_old_id_moves_the_queue_and_it_is_sent_again(
    db_url: str, tmp_path: Path
) -> None:
    """The relay meets the dead id before any service message is read (nobody polls)."""
    await seed(db_url, tmp_path, [LAN, MINH], group=BASIC_GROUP)
    async with (
        TelegramSandbox(token=TOKEN) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        users = [await client.add_user(p.user_id, p.name, username=p.username) for p in (LAN, MINH)]
        await client.add_chat(BASIC_GROUP, type="group", title="Đội PL", members=users)
        await client.migrate(BASIC_GROUP, new_id=SUPERGROUP, by=users[0])
        channel = TelegramChannel(TOKEN, sandbox.root_url, request_timeout=5)
        container = await bootstrap(
            make_settings(db_url, tmp_path, telegram_bot_token=TOKEN),
            channels={"telegram": channel},
        )
        try:
            for i in range(3):
                payload = {"text": f"tin {i}", "buttons": []}
                now = container.clock.now()
                assert await container.store.add_once(
                    "telegram", str(BASIC_GROUP), payload, f"t{i}", now
                )
            await container.relay.drain()
            await container.relay.drain()  # the moved queue, now under the new id
            shown = [m.body for m in await bot_messages(client, SUPERGROUP)]
            assert shown == ["tin 0", "tin 1", "tin 2"]
            rows = await ChatMoveStore(container.engine).all()
            assert [(m.old_chat_id, m.new_chat_id) for m in rows] == [
                (str(BASIC_GROUP), str(SUPERGROUP))
            ]
            upgraded = [
                c for c in await client.calls() if c.error_code == 400 and c.method == "sendMessage"
            ]
            assert len(upgraded) == 1  # one refusal, then the queue went where the group is
        finally:
            await channel.stop()
            await container.close()


# --------------------------------------------------------------------------- item 3


async def test_a_message_that_cannot_go_never_stalls_its_chat_and_the_lead_is_told(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path, [LAN, MINH])
    async with (
        TelegramSandbox(token=TOKEN) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        users = {
            p: await client.add_user(p.user_id, p.name, username=p.username) for p in (LAN, MINH)
        }
        await client.add_chat(
            GROUP, type="supergroup", title="Đội PL", members=list(users.values())
        )
        # A proxy in front of Telegram refuses the first card with its own HTML page...
        await client.inject_answer(413, body=PROXY_413, methods=["sendMessage"], chat=GROUP)
        db = Db(db_url)
        async with (
            running_bot(db_url, tmp_path, sandbox.root_url, relay_give_up_attempts=3) as bot,
            aiohttp.ClientSession() as http,
        ):
            api = f"http://127.0.0.1:{bot.http_port}"
            assert (await post_intake(http, api, intake_body("STALL-1")))[0] == 201

            async def lead_told(n: int) -> bool:
                return len(await bot_messages(client, LAN.user_id)) >= n

            await wait_until(lambda: lead_told(1), timeout=20, what="the lead to be told")
            assert "PL-1" in (await bot_messages(client, LAN.user_id))[0].body
            # ... and Telegram itself keeps failing the second card (and all in the group),
            await client.inject_answer(
                500,
                description="Internal Server Error",
                count=1000,
                methods=["sendMessage"],
                chat=GROUP,
            )
            assert (await post_intake(http, api, intake_body("STALL-2")))[0] == 201

            async def refused(n: int) -> bool:
                return len([c for c in await client.calls() if c.error_code == 500]) >= n

            await wait_until(lambda: refused(1), timeout=20, what="the second card refused")
            # while it works for everyone else: a worker's private /help is answered.
            await client.send_text(users[MINH], None, "/help")
            await wait_until(
                lambda: _answered(client, MINH.user_id), timeout=20, what="the /help answer"
            )

            async def given_up() -> bool:
                return (await statuses(db)).get("failed", 0) == 2

            await wait_until(given_up, timeout=30, what="the second card to be given up")
            assert await cards(client, GROUP) == []
            # The group works again: the chat goes on with what came next.
            await client.clear_answers()
            assert (await post_intake(http, api, intake_body("STALL-3")))[0] == 201

            async def third_card() -> bool:
                return await cards(client, GROUP) == ["PL-3"]

            await wait_until(third_card, timeout=30, what="the chat to move on to PL-3")
            await wait_until(lambda: lead_told(2), timeout=20, what="the lead told of PL-2")
            told = [m.body for m in await bot_messages(client, LAN.user_id)]
            assert "PL-2" in told[1]

            async def none_pending() -> bool:  # the lead's message is seen before it is noted
                return await db.pending() == 0

            await wait_until(none_pending, timeout=10, what="every message noted as sent")
            assert (await statuses(db))["failed"] == 2
            text = await metrics(api)
            assert (
                'dispatch_messages_given_up_total{channel="telegram",reason="rejected"} 1' in text
            )
            assert (
                'dispatch_messages_given_up_total{channel="telegram",reason="given_up"} 1' in text
            )
        await db.close()


# --------------------------------------------------------------------------- item 4


async def test_a_revoked_token_pauses_the_channel_and_loses_nothing(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await seed(db_url, tmp_path, [LAN, MINH])
    async with (
        TelegramSandbox(token=TOKEN) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        users = {
            p: await client.add_user(p.user_id, p.name, username=p.username) for p in (LAN, MINH)
        }
        await client.add_chat(
            GROUP, type="supergroup", title="Đội PL", members=list(users.values())
        )
        db = Db(db_url)
        async with (
            running_bot(db_url, tmp_path, sandbox.root_url, token_probe_seconds=0.5) as bot,
            aiohttp.ClientSession() as http,
        ):
            api = f"http://127.0.0.1:{bot.http_port}"
            await client.revoke_token()
            for i in range(3):
                assert (await post_intake(http, api, intake_body(f"TOK-{i}")))[0] == 201

            async def degraded() -> bool:
                status, body = await healthz(api)
                return status == 200 and body == {
                    "status": "degraded",
                    "channels": {"telegram": "token_refused"},
                }

            await wait_until(degraded, timeout=20, what="/healthz to say degraded")
            assert 'dispatch_channel_paused{channel="telegram"} 1' in await metrics(api)
            assert await db.pending() == 3 and (await statuses(db)).get("failed", 0) == 0
            assert await cards(client, GROUP) == []
            # Polling stopped too: no getUpdates keeps hammering a refused token.
            channel = bot.channels["telegram"]

            async def stopped() -> bool:
                return not getattr(channel, "running", True)

            await wait_until(stopped, timeout=30, what="polling to pause")
            marker = max(c.seq for c in await client.calls(include_polling=True))

            async def probed() -> bool:
                later = await client.calls("getMe", since=marker)
                return len(later) >= 3

            await wait_until(probed, timeout=20, what="three token probes")
            polls = await client.calls("getUpdates", since=marker)
            assert polls == []

            await client.restore_token()

            async def all_sent() -> bool:
                return await db.pending() == 0 and len(await cards(client, GROUP)) == 3

            await wait_until(all_sent, timeout=20, what="everything queued to be sent")
            assert await cards(client, GROUP) == ["PL-1", "PL-2", "PL-3"]
            assert (await healthz(api))[1]["status"] == "ok"
            assert 'dispatch_channel_paused{channel="telegram"} 0' in await metrics(api)
            # Polling is back: a claim typed in the group is handled.
            await client.send_text(users[MINH], GROUP, "/claim PL-1")

            async def claimed() -> bool:
                return bool(
                    await db.scalar(sa.select(t.cases.c.assignee).where(t.cases.c.ref == "PL-1"))
                )

            await wait_until(claimed, timeout=20, what="the claim after the pause")
            paused = [r for r in caplog.records if "PAUSED" in r.getMessage()]
            assert len(paused) == 1 and paused[0].levelname == "ERROR"
        await db.close()


async def test_a_restart_with_the_new_token_sends_everything_that_waited(
    db_url: str, tmp_path: Path
) -> None:
    await seed(db_url, tmp_path, [LAN, MINH])
    new_token = TOKEN.split(":")[0] + ":a-brand-new-secret-from-botfather"
    async with (
        TelegramSandbox(token=TOKEN) as sandbox,
        SandboxClient(sandbox.root_url) as client,
    ):
        users = [await client.add_user(p.user_id, p.name, username=p.username) for p in (LAN, MINH)]
        await client.add_chat(GROUP, type="supergroup", title="Đội PL", members=users)
        await client.replace_token(new_token)  # @BotFather's "revoke": the old one is dead
        db = Db(db_url)
        # Started with the old token: it runs (intake works), the channel waits.
        async with (
            running_bot(db_url, tmp_path, sandbox.root_url) as bot,
            aiohttp.ClientSession() as http,
        ):
            api = f"http://127.0.0.1:{bot.http_port}"
            for i in range(2):
                assert (await post_intake(http, api, intake_body(f"NEW-{i}")))[0] == 201
            assert (await healthz(api))[1]["status"] == "degraded"
        assert await db.pending() == 2 and (await statuses(db)).get("failed", 0) == 0
        async with running_bot(db_url, tmp_path, sandbox.root_url, telegram_bot_token=new_token):

            async def all_sent() -> bool:
                return await db.pending() == 0

            await wait_until(all_sent, timeout=20, what="the waiting cards after the restart")
            assert await cards(client, GROUP) == ["PL-1", "PL-2"]
        await db.close()


async def _answered(client: SandboxClient, chat: int) -> bool:
    return bool(await bot_messages(client, chat))
