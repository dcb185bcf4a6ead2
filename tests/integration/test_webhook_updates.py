"""A pushed update is recorded as handled inside its first unit of work's transaction
(bot/services/update_mark.py): one transaction for a webhook Claim, a replay or a second
instance's delivery at the same time applied once, a failure before the commit recording
nothing. Two instances (two bots on one database), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlalchemy import event

from bot.bootstrap import Container, bootstrap
from bot.channels.base import Capabilities, Inbound
from bot.channels.routes import Accepted, Refused, Route, WebhookRoute
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.http import start_http, stop_http
from bot.http.webhooks import UPDATE_STALE_AFTER, webhook_installers
from bot.services.ports import OutboxItem
from handlers.callbacks import ButtonAction, CallbackData
from storage import tables
from storage.updates import UpdateState
from tests.conftest import make_settings
from tests.integration.helpers import GROUP, add_member, seed_team
from tests.integration.test_identify_from_copy import new_case, pressed, said, transactions
from tests.pushed import PushOnly

SECRET = "push-secret"
CAPABILITIES = Capabilities(buttons=False, edits=False, max_text=100)
HEADER = "X-Push-Secret"
Handler = Callable[[str], Awaitable[object]]


@dataclass
class Hook(PushOnly):
    """A platform pushing `{"id": ...}`; how an update is handled is the test's `handler`."""

    handler: Handler
    name: str = "pusher"
    capabilities: Capabilities = CAPABILITIES

    def routes(self) -> Sequence[Route]:
        return (WebhookRoute("/hook", HEADER, lambda s: s == SECRET, self.accept),)

    def accept(self, payload: object) -> Accepted | Refused:
        if not isinstance(payload, dict):
            return Refused.BAD_UPDATE
        key = str(payload["id"])
        return Accepted(key, lambda: self.handler(key))


@dataclass
class Instance:
    container: Container
    url: str
    hook: Hook
    #: What the dispatcher is handed for each update id (the real handlers' tests).
    inbounds: dict[str, Inbound] = field(default_factory=dict)

    async def post(self, update_id: str) -> tuple[int, dict[str, Any]]:
        body, headers = {"id": update_id}, {HEADER: SECRET}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.url, json=body, headers=headers) as answer,
        ):
            return answer.status, await answer.json()

    async def dispatch(self, update_id: str) -> object:
        return await self.container.dispatcher.handle(self.inbounds[update_id])


@contextlib.asynccontextmanager
async def instance(
    database_url: str, tmp_path: Path, clock: FixedClock, name: str
) -> AsyncIterator[Instance]:
    """A bot serving the webhook on its own port; its updates go to the dispatcher unless
    a test sets `hook.handler`."""
    hook = Hook(handler=lambda _key: asyncio.sleep(0))
    settings = make_settings(database_url, tmp_path / name)
    container = await bootstrap(settings, clock=clock, channels={"pusher": hook})
    runner = await start_http(container, "127.0.0.1", 0, installers=webhook_installers(container))
    try:
        host, port = runner.addresses[0][:2]
        found = Instance(container, f"http://{host}:{port}/hook", hook)
        hook.handler = found.dispatch
        yield found
    finally:
        await stop_http(runner)
        await container.close()


@contextlib.asynccontextmanager
async def two_instances(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[tuple[Instance, Instance]]:
    async with (
        instance(database_url, tmp_path, clock, "a") as a,
        instance(database_url, tmp_path, clock, "b") as b,
    ):
        await seed_team(a.container)
        yield a, b


async def recorded(container: Container) -> dict[str, str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(tables.processed_updates.c.update_id, tables.processed_updates.c.state)
        )
        return {str(r.update_id): str(r.state) for r in rows}


async def outbox_texts(container: Container) -> list[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(sa.select(tables.outbox.c.payload).order_by(tables.outbox.c.id))
        return [str(payload.get("text", "")) for (payload,) in rows]


def writing(container: Container, text: str) -> Callable[[], Awaitable[None]]:
    """A unit of work that queues one message (no dedupe key: only the mark stops a twin)."""

    async def write() -> None:
        async with container.uow() as uow:
            await uow.outbox.add(OutboxItem("telegram", GROUP, {"text": text}))
            await uow.commit()

    return write


OK = (200, {"ok": True})
DUPLICATE = (200, {"ok": True, "duplicate": True})


async def test_a_webhook_claim_is_one_transaction_its_mark_inside(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with two_instances(database_url, tmp_path, clock) as (a, _):
        minh = await add_member(a.container, 11, "Minh", Role.WORKER)
        a.inbounds["1"] = said(minh, "/start", private=True)
        assert await a.post("1") == OK  # first sight: the copy learns him
        ref = await new_case(a.container)
        a.inbounds["2"] = pressed(minh, CallbackData(ButtonAction.CLAIM, ref).encode())
        begun = transactions(a.container.engine)

        assert await a.post("2") == OK

        assert len(begun) == 1  # was 3: the claim on the update, the command, "done"
        assert await recorded(a.container) == {"1": "done", "2": "done"}


async def test_a_replay_is_a_duplicate_that_writes_nothing_on_either_instance(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with two_instances(database_url, tmp_path, clock) as (a, b):
        minh = await add_member(a.container, 11, "Minh", Role.WORKER)
        ref = await new_case(a.container)
        a.inbounds["1"] = b.inbounds["1"] = pressed(
            minh, CallbackData(ButtonAction.CLAIM, ref).encode()
        )
        assert await a.post("1") == OK
        sent = await outbox_texts(a.container)
        begun = transactions(a.container.engine)

        assert await a.post("1") == DUPLICATE
        assert begun == []  # known to this instance: not even read
        assert await b.post("1") == DUPLICATE  # handled up to its first unit of work

        assert await outbox_texts(a.container) == sent
        assert await recorded(a.container) == {"1": "done"}


async def test_two_instances_given_one_update_at_once_apply_it_once(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """The first holds its transaction open, the mark written; the second's unit of work
    waits for it (PostgreSQL: on the mark's key; SQLite: at BEGIN IMMEDIATE), finds the
    update recorded and stops before reading or writing anything."""
    async with two_instances(database_url, tmp_path, clock) as (a, b):
        holding, release, b_started = asyncio.Event(), asyncio.Event(), asyncio.Event()
        inside: list[str] = []

        async def first(_key: str) -> None:
            async with a.container.uow() as uow:
                inside.append("a")
                await uow.outbox.add(OutboxItem("telegram", GROUP, {"text": "from a"}))
                holding.set()
                await release.wait()
                await uow.commit()

        async def second(_key: str) -> None:
            b_started.set()
            async with b.container.uow() as uow:
                inside.append("b")
                await uow.outbox.add(OutboxItem("telegram", GROUP, {"text": "from b"}))
                await uow.commit()

        a.hook.handler, b.hook.handler = first, second
        async with asyncio.timeout(20):
            to_a = asyncio.create_task(a.post("7"))
            await holding.wait()
            to_b = asyncio.create_task(b.post("7"))
            await b_started.wait()
            if a.container.engine.dialect.name == "postgresql":
                await waiting_on_the_mark(a.container)
            release.set()
            answers = [await to_a, await to_b]

        assert answers == [OK, DUPLICATE]
        assert inside == ["a"]
        assert await outbox_texts(a.container) == ["from a"]
        assert await recorded(a.container) == {"7": "done"}


async def waiting_on_the_mark(container: Container) -> None:
    """Until another backend waits on a lock in its INSERT of an update's mark."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO processed_updates%'"
    )
    while True:
        async with container.engine.connect() as conn:
            if await conn.scalar(query):
                return
        await asyncio.sleep(0.01)


async def test_a_failure_before_the_commit_records_nothing_and_the_retry_is_handled(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with two_instances(database_url, tmp_path, clock) as (a, _):
        tries: list[str] = []

        async def flaky(_key: str) -> None:
            async with a.container.uow() as uow:
                await uow.outbox.add(OutboxItem("telegram", GROUP, {"text": "once"}))
                tries.append("try")
                if len(tries) == 1:
                    raise RuntimeError("the instance fails mid-update")
                await uow.commit()

        a.hook.handler = flaky
        status, _ = await a.post("3")
        assert status == 500
        assert await recorded(a.container) == {} and await outbox_texts(a.container) == []

        assert await a.post("3") == OK
        assert await a.post("3") == DUPLICATE
        assert await outbox_texts(a.container) == ["once"]


async def test_an_update_that_commits_nothing_is_recorded_after_it(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with two_instances(database_url, tmp_path, clock) as (a, b):
        handled: list[str] = []

        async def chatter(key: str) -> None:
            handled.append(key)

        a.hook.handler = b.hook.handler = chatter
        begun = transactions(a.container.engine)
        assert await a.post("4") == OK
        assert len(begun) == 1  # the mark, in a transaction of its own
        assert await a.post("4") == DUPLICATE
        assert handled == ["4"]
        # Another instance knows it only by the row: handled (nothing written), then told.
        assert await b.post("4") == DUPLICATE
        assert await recorded(a.container) == {"4": "done"}


async def test_an_update_of_several_units_of_work_is_marked_by_its_first_commit(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    async with two_instances(database_url, tmp_path, clock) as (a, b):
        marks = inserts_of_marks(a.container)

        async def steps(_key: str) -> None:
            async with a.container.uow():
                pass  # a read, no commit: its mark goes with its transaction
            await writing(a.container, "one")()
            await writing(a.container, "two")()

        a.hook.handler = steps
        begun = transactions(a.container.engine)
        assert await a.post("5") == OK
        # Three transactions; the mark written by the read (rolled back), then the first commit.
        assert len(begun) == 3 and len(marks) == 2
        b.hook.handler = steps
        assert await b.post("5") == DUPLICATE
        assert await outbox_texts(a.container) == ["one", "two"]


def inserts_of_marks(container: Container) -> list[str]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.startswith("INSERT INTO processed_updates"):
            seen.append(statement)

    event.listen(container.engine.sync_engine, "before_cursor_execute", note)
    return seen


async def test_an_older_versions_claim_is_waited_for_then_dropped_once_stale(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Rows an instance of the version before left while it handled an update."""
    async with two_instances(database_url, tmp_path, clock) as (a, _):
        async with a.container.engine.begin() as conn:
            await conn.execute(
                sa.insert(tables.processed_updates).values(
                    channel="pusher", update_id="6", at=clock.now(), state="processing"
                )
            )
        a.hook.handler = lambda _key: writing(a.container, "six")()

        assert (await a.post("6"))[0] == 503  # its instance is at work
        assert await recorded(a.container) == {"6": UpdateState.PROCESSING.value}
        clock.advance(UPDATE_STALE_AFTER)
        assert (await a.post("6"))[0] == 503  # left by a crash: dropped, come back
        assert await recorded(a.container) == {}
        assert await a.post("6") == OK
        assert await outbox_texts(a.container) == ["six"]
