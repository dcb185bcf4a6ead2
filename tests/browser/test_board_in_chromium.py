"""The lead's board in a real headless Chromium at phone size, against the running bot.

Opened as Telegram opens it (signed launch data in the URL's fragment, made by the
sandbox as Telegram's client makes it), with no Telegram script and no tile server: the
page must work on its own. Screenshots of each view go to docs/board/.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.domain.evidence import NewEvidence
from bot.domain.model import Source
from sandbox.client import SandboxClient
from sandbox.phones import TelegramPhone
from sandbox.telegram import make_png
from storage import tables as t
from tests.browser.conftest import Browser
from tests.e2e.conftest import Stage, meter_complaint, new_connection

OTHER_BOT = "888000:another-bot-token-abcdefghij"


def sandbox(stage: Stage) -> SandboxClient:
    phone = stage.phones["telegram"]
    assert isinstance(phone, TelegramPhone)
    return phone.client


async def launch_url(stage: Stage, who: str, **kw: object) -> str:
    """What the person's Telegram opens when they press the board's button."""
    user_id = int(stage.people[who].user_id)
    at = stage.container.clock.now().timestamp()
    return await sandbox(stage).open_web_app(
        user_id,
        f"{stage.api}/app/",
        auth_date=at,
        **kw,  # type: ignore[arg-type]
    )


async def file_cases(stage: Stage) -> list[str]:
    refs = []
    for body in (
        new_connection("TTHCC-PL-2026-00123"),
        meter_complaint("TTHCC-PL-2026-00124"),
        new_connection(
            "TTHCC-PL-2026-00125",
            customer={"name": "Lê Văn Toàn", "phone": "0356789123", "address": "Xóm 3, Liêm Tuyền"},
        ),
    ):
        status, case = await stage.intake(body)
        assert status == 201
        refs.append(case["ref"])
    return refs


async def test_the_lead_opens_the_board_sees_the_team_and_assigns_a_case(
    team: Stage, browser: Browser
) -> None:
    refs = await file_cases(team)
    await team.say(team.minh, f"/claim {refs[1]}")
    await browser.open(await launch_url(team, "lead"))
    await browser.wait("body[data-state='ready']")
    for ref in refs:
        await browser.wait(f".card[data-ref='{ref}']")
    assert "Minh" in await browser.text(f".card[data-ref='{refs[1]}']")
    await browser.screenshot("board")

    await browser.click(f".card[data-ref='{refs[0]}']")
    await browser.wait("aside#case h2", text=refs[0])
    shown = await browser.text("aside#case")
    assert "0912***678" in shown and "0912345678" not in shown
    await browser.click("button[data-action='assign']")
    await browser.wait("button[data-worker='telegram:3003']", text="0")  # Hùng, no case yet
    await browser.screenshot("assign")
    await browser.click("button[data-worker='telegram:3003']")
    await browser.wait("aside#case .row", text="Hùng")

    card = await team.card("telegram", refs[0], contains="@hung_pl")
    assert "@hung_pl" in card.body
    await browser.screenshot("case")


async def test_a_worker_reports_a_survey_with_a_photo_from_my_cases(
    team: Stage, browser: Browser, tmp_path: Path
) -> None:
    refs = await file_cases(team)
    await team.say(team.minh, f"/claim {refs[0]}")
    photo = tmp_path / "pole.png"
    photo.write_bytes(make_png(64, 48))

    await browser.open(await launch_url(team, "minh"))
    await browser.wait("body[data-state='ready']")
    await browser.stand_at(team.api, 20.54123, 105.91234)  # the phone's GPS
    await browser.wait(f".mine[data-ref='{refs[0]}']")
    await browser.click(f".mine[data-ref='{refs[0]}'] button[data-action='survey']")
    await browser.type("form[data-step='survey'] textarea[name='note']", "Cột cách nhà 30m")
    await browser.attach("form[data-step='survey'] input[name='photos']", photo)
    await browser.click("form[data-step='survey'] button.locate")
    await browser.wait("form[data-step='survey'] .understood", text="20.54123")
    assert (
        await browser.script(
            "return document.querySelector(\"input[name='photos']\").getAttribute('capture')"
        )
        == "environment"
    )
    await browser.screenshot("mine")
    await browser.click("form[data-step='survey'] button.send")
    # Recorded: the case now waits for its estimate, and "My cases" offers that form.
    await browser.wait(f".mine[data-ref='{refs[0]}'] button[data-action='estimate']")

    async with team.container.engine.connect() as conn:
        status = (
            await conn.execute(sa.select(t.cases.c.status).where(t.cases.c.ref == refs[0]))
        ).scalar_one()
        kept = (
            await conn.execute(
                sa.select(t.evidence.c.kind, t.evidence.c.latitude).where(
                    t.evidence.c.source == "webapp"
                )
            )
        ).all()
    assert status == "surveyed"
    assert sorted((kind, lat) for kind, lat in kept) == [("location", 20.54123), ("photo", None)]
    card = await team.card("telegram", refs[0], contains="Đã khảo sát")
    assert "Đã khảo sát" in card.body


async def test_forged_or_foreign_launch_data_sees_nothing(team: Stage, browser: Browser) -> None:
    refs = await file_cases(team)
    genuine = await launch_url(team, "lead")
    forged = genuine.replace("3001", "3002", 1)
    for url in (forged, await launch_url(team, "lead", token=OTHER_BOT)):
        await browser.open(url)
        await browser.wait("body[data-state='refused']")
        assert await browser.all(".card") == []
        assert "Không mở được" in await browser.text("#status")
        assert refs[0] not in await browser.text()


async def test_the_map_shows_surveyed_cases_and_lists_the_others(
    team: Stage, browser: Browser
) -> None:
    refs = await file_cases(team)
    await team.say(team.minh, f"/claim {refs[0]}")
    await team.say(team.minh, f"/survey {refs[0]} Cột cách nhà 30m")
    async with team.container.uow() as uow:  # the place Minh's survey form sent
        case = await uow.cases.get_by_ref(refs[0])
        assert case is not None and case.id is not None
        await uow.evidence.add(
            case.id,
            NewEvidence.location(20.54123, 105.91234),
            "telegram:3002",
            team.container.clock.now(),
            Source.TELEGRAM,
        )
        await uow.commit()

    await browser.open(await launch_url(team, "lead"))
    await browser.wait("body[data-state='ready']")
    await browser.click("#tabs button[data-tab='map']")
    await browser.wait("#map.leaflet-container")
    assert await browser.script("return document.getElementById('map').dataset.markers") == "1"
    await browser.wait("#map path.leaflet-interactive")
    listed = await browser.text("#view-map .unlocated")
    assert refs[1] in listed and refs[2] in listed and refs[0] not in listed
    await browser.screenshot("map")

    await browser.click("#tabs button[data-tab='kpis']")
    await browser.wait(".kpi[data-period='month'] h2")
    await browser.screenshot("kpis")


async def test_without_leaflet_the_map_is_a_list(
    sqlite_url: str, tmp_path: Path, clock: object, browser: Browser
) -> None:
    from tests.browser.conftest import BOARD_URL
    from tests.e2e.conftest import running_stage

    where = dict.fromkeys(("lead", "minh"), "telegram")
    async with running_stage(
        sqlite_url,
        tmp_path,
        clock,  # type: ignore[arg-type]
        where,
        webapp_url=BOARD_URL,
        webapp_leaflet_dir=tmp_path / "no-leaflet",
    ) as stage:
        refs = await file_cases(stage)
        await browser.open(await launch_url(stage, "lead"))
        await browser.wait("body[data-state='ready']")
        await browser.click("#tabs button[data-tab='map']")
        await browser.wait("#map-offline")
        listed = await browser.text("#view-map")
        assert all(ref in listed for ref in refs)
        assert await browser.all(".leaflet-container") == []
