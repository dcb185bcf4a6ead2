"""A form's place is in the database: it survives a restart of the bot, expires without
side effects when abandoned, and keeps every photo when several arrive at once.

These drive the dispatcher directly (no Bot API, no relay): what the bot would send is
read from the outbox, and a "restart" is a second application built on the same database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.channels.base import (
    Attachment,
    AttachmentKind,
    CallbackPress,
    Capabilities,
    ChannelAddress,
    ChatKind,
    Inbound,
    InboundSink,
    InboundUser,
    Outbound,
    Sent,
)
from bot.domain.clock import FixedClock
from bot.domain.model import Action, Role, Source
from bot.services import commands as c
from sandbox.telegram import make_png
from storage import tables as t
from tests.conftest import make_settings
from tests.e2e.fieldkit import tr
from tests.integration.helpers import GROUP, actor_of, add_member, intake_cmd, origin, seed_team

MINH = 7002
PHOTOS = {f"photo-{n}": make_png(10 + n, 10) for n in range(3)}


class FakeTelegram:
    """Only what the forms need of a channel: its name, capabilities and downloads."""

    name = "telegram"
    capabilities = Capabilities(buttons=True, edits=True, max_text=4096)

    async def start(self, sink: InboundSink) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        raise AssertionError("the relay does not run in these tests")

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        raise AssertionError("the relay does not run in these tests")

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        return PHOTOS[file_ref]


class Bot:
    """One running application on the shared database, spoken to as Minh."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.seq = 100

    async def send(self, text: str = "", **kw: Any) -> None:
        self.seq += 1
        chat = str(kw.pop("chat", MINH))
        private = chat == str(MINH)
        await self.container.dispatcher.handle(
            Inbound(
                address=ChannelAddress("telegram", chat),
                chat_kind=ChatKind.PRIVATE if private else ChatKind.GROUP,
                user=InboundUser(str(MINH), "Minh", "minh_pl", "vi"),
                text=text,
                message_id=str(self.seq),
                **kw,
            )
        )

    async def press(self, data: str) -> None:
        await self.send(callback=CallbackPress(id=f"cb{self.seq}", data=data))

    async def photo(self, ref: str) -> None:
        await self.send(attachments=(Attachment(AttachmentKind.PHOTO, file_ref=ref, size=100),))

    async def said(self) -> list[dict[str, Any]]:
        """What the bot queued for Minh's private chat, oldest first."""
        async with self.container.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.outbox.c.payload)
                .where(t.outbox.c.chat_id == str(MINH))
                .order_by(t.outbox.c.id)
            )
            return [dict(r.payload) for r in rows]

    async def last(self) -> dict[str, Any]:
        return (await self.said())[-1]

    async def button(self, label: str) -> str:
        """The data of the button showing `label` on the latest message that has it."""
        for message in reversed(await self.said()):
            for row in message["buttons"]:
                for button in row:
                    if label in button["text"]:
                        return str(button["data"])
        raise AssertionError(f"no button {label!r}")


@pytest.fixture
async def first(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Bot]:
    container = await _app(database_url, tmp_path, clock)
    await seed_team(container)
    await add_member(container, MINH, "Minh", Role.WORKER)
    case, _ = await container.service.intake(intake_cmd("EXT-1"), container.uow())
    await Bot(container).send(f"/claim {case.ref}", chat=GROUP)
    yield Bot(container)
    await container.close()


async def _app(database_url: str, tmp_path: Path, clock: FixedClock) -> Container:
    settings = make_settings(database_url, tmp_path)
    return await bootstrap(settings, clock=clock, channels={"telegram": FakeTelegram()})


async def _status(container: Container) -> str:
    async with container.uow() as uow:
        case = await uow.cases.get_by_ref("PL-1")
    assert case is not None
    return case.status.value


async def test_a_form_survives_a_restart_of_the_bot(
    first: Bot, database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    await first.press(await first.button(tr("vi", "button.survey")))
    await first.send("Cột gần nhà")
    await first.photo("photo-0")
    assert tr("vi", "form.ask.photos_more", count=1) in (await first.last())["text"]
    await first.container.close()

    again = Bot(await _app(database_url, tmp_path, clock))  # the bot restarted
    try:
        await again.photo("photo-1")
        assert tr("vi", "form.ask.photos_more", count=2) in (await again.last())["text"]
        await again.press(await again.button(tr("vi", "form.btn.done")))
        await again.send(
            attachments=(Attachment(AttachmentKind.LOCATION, latitude=20.1, longitude=105.2),)
        )
        summary = await again.last()
        assert tr("vi", "form.sum.photos", count=2) in summary["text"]
        await again.press(await again.button(tr("vi", "form.btn.confirm")))
        assert await _status(again.container) == "surveyed"
        async with again.container.uow() as uow:
            case = await uow.cases.get_by_ref("PL-1")
            assert case is not None and case.id is not None
            evidence = await uow.evidence.for_case(case.id)
        assert [e.kind.value for e in evidence] == ["photo", "photo", "location"]
        media = again.container.settings.media_dir
        kept = sorted(p.read_bytes() for p in media.rglob("*") if p.is_file())
        assert kept == sorted([PHOTOS["photo-0"], PHOTOS["photo-1"]])
        assert all("evidence" in e.path for e in evidence if e.path)
    finally:
        await again.container.close()


async def test_an_abandoned_form_expires_without_side_effects(
    first: Bot, clock: FixedClock
) -> None:
    app = first.container
    await first.press(await first.button(tr("vi", "button.survey")))
    await first.send("Cột gần nhà")
    await first.photo("photo-0")
    media = app.settings.media_dir
    assert [p for p in media.rglob("*") if p.is_file()]  # waiting, not attached
    clock.advance(timedelta(hours=1, minutes=1))
    await first.send("ảnh nữa đây")
    told = await first.last()
    assert told["text"] == tr("vi", "form.expired", minutes=60)
    assert told.get("remove_keys") is True
    assert await _status(app) == "claimed"
    async with app.uow() as uow:
        assert await uow.forms.get("telegram", str(MINH)) is None
        case = await uow.cases.get_by_ref("PL-1")
        assert case is not None and case.id is not None
        assert await uow.evidence.for_case(case.id) == []
    assert [p for p in media.rglob("*") if p.is_file()] == []
    # An old button of the expired form only says so.
    before = len(await first.said())
    await first.press(await first.button(tr("vi", "form.btn.done")))
    assert len(await first.said()) == before


async def test_expired_forms_of_others_are_swept_when_a_form_starts(
    first: Bot, clock: FixedClock
) -> None:
    app = first.container
    await first.press(await first.button(tr("vi", "button.survey")))
    await first.send("Cột gần nhà")
    await first.photo("photo-0")
    clock.advance(timedelta(hours=2))
    forms = app.dispatcher.forms
    assert forms is not None
    assert await forms.sweep() == 1
    assert [p for p in app.settings.media_dir.rglob("*") if p.is_file()] == []


async def test_photos_arriving_at_once_are_all_kept(first: Bot) -> None:
    await first.press(await first.button(tr("vi", "button.survey")))
    await first.send("Cột gần nhà")
    await asyncio.gather(*(first.photo(f"photo-{n}") for n in range(3)))
    await first.press(await first.button(tr("vi", "form.btn.done")))
    await first.send(tr("vi", "form.btn.skip"))  # the keyboard's key under the location question
    assert tr("vi", "form.sum.photos", count=3) in (await first.last())["text"]


async def test_a_step_done_meanwhile_by_a_command_ends_the_form_with_the_reason(
    first: Bot,
) -> None:
    app = first.container
    await first.press(await first.button(tr("vi", "button.survey")))
    await first.send("Cột gần nhà")
    await first.press(await first.button(tr("vi", "form.btn.done")))
    await first.send(tr("vi", "form.btn.skip"))
    async with app.uow() as uow:
        member = await uow.members.get(f"telegram:{MINH}")
    assert member is not None
    await app.service.report_step(  # meanwhile, typed in the group
        c.ReportStep(
            actor_of(member), Source.TELEGRAM, origin(), ref="PL-1", action=Action.SURVEY, note="x"
        ),
        app.uow(),
    )
    await app.service.estimate(  # and the case moved past the survey: no correction now
        c.RecordEstimate(
            actor_of(member), Source.TELEGRAM, origin(), ref="PL-1", customer_cost=1, utility_cost=0
        ),
        app.uow(),
    )
    await first.press(await first.button(tr("vi", "form.btn.confirm")))
    told = (await first.last())["text"]
    assert tr("vi", "form.not_saved") in told and "PL-1" in told
    async with app.uow() as uow:
        assert await uow.forms.get("telegram", str(MINH)) is None
