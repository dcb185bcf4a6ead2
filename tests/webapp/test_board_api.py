"""The board's server: who gets in (Telegram's signature, one-time links, sessions) and what
each endpoint shows or does for each role: nothing the person could not see in chat."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
import sqlalchemy as sa

from bot.domain.model import Action, CaseStatus
from bot.reports.formats import report_json
from bot.reports.period import Period
from bot.reports.service import ReportDeps, build
from sandbox.telegram import make_png
from storage import tables as t
from tests.webapp.conftest import GROUP, Board

OTHER_BOT = "888000:another-bot-token-abcdefghij"


# --------------------------------------------------------------------------- getting in


async def test_valid_launch_data_opens_a_session_for_the_member(board: Board) -> None:
    resp = await board.client.post("/app/api/session", json={"init_data": board.init_data("lan")})
    assert resp.status == 200
    body = await resp.json()
    assert body["me"] == {
        "uid": "telegram:3001",
        "name": "Lan",
        "role": "lead",
        "team": "PL",
        "admin": False,
        "lang": "vi",
    }
    me = await board.client.get(
        "/app/api/me", headers={"Authorization": f"Session {body['token']}"}
    )
    assert me.status == 200 and (await me.json())["teams"] == ["PL"]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda data: data.replace("3001", "3002"), id="forged-user"),
        pytest.param(lambda data: data[:-4] + "0000", id="forged-hash"),
        pytest.param(lambda data: data.split("&hash=")[0], id="unsigned"),
    ],
)
async def test_forged_launch_data_is_401_and_opens_nothing(board: Board, spoil: object) -> None:
    data = spoil(board.init_data("lan"))  # type: ignore[operator]
    resp = await board.client.post("/app/api/session", json={"init_data": data})
    assert resp.status == 401
    assert "token" not in await resp.json()


async def test_launch_data_of_another_bot_is_401(board: Board) -> None:
    data = board.init_data("lan", token=OTHER_BOT)
    resp = await board.client.post("/app/api/session", json={"init_data": data})
    assert resp.status == 401 and (await resp.json())["reason"] == "forged"


async def test_launch_data_older_than_a_day_is_401(board: Board) -> None:
    data = board.init_data("lan")
    board.clock.advance(timedelta(days=1, minutes=1))
    resp = await board.client.post("/app/api/session", json={"init_data": data})
    assert resp.status == 401 and (await resp.json())["reason"] == "expired"


async def test_someone_telegram_vouches_for_who_is_no_member_gets_403(board: Board) -> None:
    data = board.init_data("stranger")
    resp = await board.client.post("/app/api/session", json={"init_data": data})
    assert resp.status == 403
    body = await resp.json()
    assert "token" not in body and "thành viên" in body["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Session nonsense"},
        {"Authorization": "Bearer test-intake-token"},
        {"Cookie": "session=anything"},
    ],
)
async def test_every_api_call_without_a_live_session_is_401(
    board: Board, headers: dict[str, str]
) -> None:
    ref = await board.intake()
    for path in (
        "/app/api/me",
        "/app/api/board",
        f"/app/api/cases/{ref}",
        "/app/api/map",
        "/app/api/kpis",
        "/app/api/mine",
        f"/app/api/cases/{ref}/photos/1",
    ):
        resp = await board.client.get(path, headers=headers)
        assert resp.status == 401, path
    resp = await board.client.post(f"/app/api/cases/{ref}/claim", headers=headers, json={})
    assert resp.status == 401


async def test_a_session_ends_after_its_hour(board: Board) -> None:
    headers = await board.session("lan")
    board.clock.advance(timedelta(minutes=61))
    resp = await board.client.get("/app/api/board", headers=headers)
    assert resp.status == 401


async def test_a_member_taken_off_the_team_loses_the_board_at_once(board: Board) -> None:
    headers = await board.session("minh")
    async with board.container.uow() as uow:
        await uow.connection.execute(
            sa.update(t.members).where(t.members.c.uid == "telegram:3002").values(active=False)
        )
        await uow.commit()
    resp = await board.client.get("/app/api/board", headers=headers)
    assert resp.status == 401


async def test_a_one_time_link_opens_one_session_once(board: Board) -> None:
    token = await board.container.dispatcher.finding.opener.links.issue(
        "telegram:3002", board.container.uow()
    )
    first = await board.client.post("/app/api/session", json={"link": token})
    assert first.status == 200 and (await first.json())["me"]["name"] == "Minh"
    again = await board.client.post("/app/api/session", json={"link": token})
    assert again.status == 401


async def test_a_one_time_link_expires(board: Board) -> None:
    token = await board.container.dispatcher.finding.opener.links.issue(
        "telegram:3002", board.container.uow()
    )
    board.clock.advance(timedelta(minutes=16))
    resp = await board.client.post("/app/api/session", json={"link": token})
    assert resp.status == 401
    stored = await _scalar(board, sa.select(sa.func.count()).select_from(t.board_links))
    raw = await _scalar(board, sa.select(sa.func.count()).where(t.board_links.c.digest == token))
    assert stored == 1 and raw == 0  # only the token's digest is kept


async def _scalar(board: Board, query: sa.Select[tuple[int]]) -> int:
    async with board.container.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


# --------------------------------------------------------------------------- what each sees


async def test_the_board_shows_a_lead_their_team_and_nothing_of_another(board: Board) -> None:
    pl = await board.intake("PL")
    dl = await board.intake("DL")
    status, shown = await board.get("lan", "/app/api/board")
    refs = {c["ref"] for col in shown["columns"] for c in col["cases"]}
    assert status == 200 and refs == {pl}
    status, shown = await board.get("quang", "/app/api/board")
    assert {c["ref"] for col in shown["columns"] for c in col["cases"]} == {dl}
    status, _ = await board.get("quang", "/app/api/board?team=PL")
    assert status == 403


async def test_a_clerk_serving_every_team_and_an_admin_see_all_teams(board: Board) -> None:
    await board.intake("PL")
    await board.intake("DL")
    for who in ("thu", "admin"):
        status, shown = await board.get(who, "/app/api/board")
        assert status == 200 and shown["teams"] == ["DL", "PL"] and shown["total"] == 2, who


async def test_board_filters_by_worker_kind_overdue_and_search(board: Board) -> None:
    hung = await board.intake(name="Trần Văn Hưng")
    mai = await board.intake(name="Nguyễn Thị Mai", phone="0987654321")
    await board.claim("minh", mai)

    async def refs(query: str) -> set[str]:
        status, shown = await board.get("lan", f"/app/api/board?{query}")
        assert status == 200
        return {c["ref"] for col in shown["columns"] for c in col["cases"]}

    assert await refs("worker=telegram:3002") == {mai}
    assert await refs("worker=none") == {hung}
    assert await refs("kind=meter_complaint") == set()
    assert await refs("q=tran+van+hung") == {hung}
    assert await refs("q=0987+654+321") == {mai}
    assert await refs("overdue=1") == set()
    board.clock.advance(timedelta(days=7))
    assert await refs("overdue=1") == {hung, mai}


async def test_a_case_shows_the_phone_whole_to_its_assignee_only(board: Board) -> None:
    ref = await board.intake()
    await board.claim("minh", ref)
    _, for_minh = await board.get("minh", f"/app/api/cases/{ref}")
    _, for_lead = await board.get("lan", f"/app/api/cases/{ref}")
    _, for_hung = await board.get("hung", f"/app/api/cases/{ref}")
    assert for_minh["phone"] == "0912345678"
    assert for_lead["phone"] == for_hung["phone"] == "0912***678"
    status, _ = await board.get("quang", f"/app/api/cases/{ref}")
    assert status == 403


async def test_the_actions_offered_follow_the_permission_table(board: Board) -> None:
    ref = await board.intake()
    await board.claim("minh", ref)

    async def offered(who: str) -> list[str]:
        _, shown = await board.get(who, f"/app/api/cases/{ref}")
        return [a["action"] for a in shown["actions"]]

    assert await offered("lan") == ["survey", "assign", "hold", "cancel"]
    assert await offered("minh") == ["survey", "hold"]
    assert await offered("hung") == []
    _, shown = await board.get("lan", f"/app/api/cases/{ref}")
    assert {w["name"]: w["count"] for w in shown["workers"]} == {"Hùng": 0, "Lan": 0, "Minh": 1}


# --------------------------------------------------------------------------- acting


async def test_a_lead_assigns_and_the_group_card_is_queued_for_an_edit(board: Board) -> None:
    ref = await board.intake()
    before = await _outbox(board)
    status, shown = await board.post(
        "lan", f"/app/api/cases/{ref}/assign", {"member": "telegram:3003"}
    )
    assert status == 200 and shown["assignee"] == "telegram:3003"
    assert shown["status"] == CaseStatus.CLAIMED.value
    rows = (await _outbox(board))[len(before) :]
    group = [r for r in rows if r.chat_id == GROUP]
    assert group and group[0].card_key is not None and "Hùng" in group[0].payload["text"]
    private = [r for r in rows if r.chat_id == "3003"]
    assert private and "0912345678" in private[0].payload["text"]  # the contact, to Hùng only
    history = shown["history"]
    assert history[-1]["action"] == Action.ASSIGN.value


async def _outbox(board: Board) -> list[sa.Row[object]]:
    async with board.container.engine.connect() as conn:
        return list(await conn.execute(sa.select(t.outbox).order_by(t.outbox.c.id)))


async def test_a_worker_may_not_assign_and_another_lead_may_not_hold(board: Board) -> None:
    ref = await board.intake()
    status, body = await board.post(
        "minh", f"/app/api/cases/{ref}/assign", {"member": "telegram:3002"}
    )
    assert status == 403 and "đội trưởng" in body["message"]
    status, _ = await board.post("quang", f"/app/api/cases/{ref}/hold", {"reason": "chờ"})
    assert status == 403
    status, body = await board.post("lan", f"/app/api/cases/{ref}/hold", {})
    assert status == 422 and "reason" in body["fields"]


async def test_hold_resume_and_cancel_go_through_the_service(board: Board) -> None:
    ref = await board.intake()
    status, shown = await board.post(
        "lan", f"/app/api/cases/{ref}/hold", {"reason": "Chờ giấy phép"}
    )
    assert status == 200 and shown["status"] == "on_hold"
    assert [a["action"] for a in shown["actions"]] == ["assign", "resume", "cancel"]
    status, shown = await board.post("lan", f"/app/api/cases/{ref}/resume", {})
    assert status == 200 and shown["status"] == "open"
    status, shown = await board.post("lan", f"/app/api/cases/{ref}/cancel", {"reason": "Khách rút"})
    assert status == 200 and shown["status"] == "cancelled" and shown["actions"] == []
    status, body = await board.post("lan", f"/app/api/cases/{ref}/resume", {})
    assert status == 409 and ref in body["message"]


async def test_a_worker_reports_a_survey_with_a_photo_and_a_place(board: Board) -> None:
    ref = await board.intake()
    await board.claim("minh", ref)
    form = aiohttp.FormData()
    form.add_field("note", "Cột cách nhà 30m")
    form.add_field("photos", make_png(32, 24), filename="pole.png", content_type="image/png")
    form.add_field("latitude", "20.54123")
    form.add_field("longitude", "105.91234")
    status, shown = await board.post("minh", f"/app/api/cases/{ref}/steps/survey", data=form)
    assert status == 200, shown
    assert shown["status"] == "surveyed" and len(shown["photos"]) == 1
    assert shown["places"][0]["lat"] == pytest.approx(20.54123)
    assert shown["history"][-1]["note"] == "Cột cách nhà 30m"
    photo = await board.client.get(shown["photos"][0]["url"], headers=await board.session("hung"))
    assert photo.status == 200 and (await photo.read()).startswith(b"\x89PNG")
    foreign = await board.client.get(
        shown["photos"][0]["url"], headers=await board.session("quang")
    )
    assert foreign.status == 403
    _, places = await board.get("lan", "/app/api/map")
    assert [c["ref"] for c in places["located"]] == [ref]


async def test_a_step_form_is_read_as_the_chat_reads_it(board: Board) -> None:
    ref = await board.intake()
    await board.claim("minh", ref)
    status, body = await board.post(
        "minh", f"/app/api/cases/{ref}/steps/survey", data=aiohttp.FormData({"note": ""})
    )
    assert status == 422 and "note" in body["fields"]
    form = aiohttp.FormData({"note": "ok"})
    await board.post("minh", f"/app/api/cases/{ref}/steps/survey", data=form)
    bad = aiohttp.FormData({"customer_cost": "mười nghìn", "utility_cost": "2tr"})
    status, body = await board.post("minh", f"/app/api/cases/{ref}/steps/estimate", data=bad)
    assert status == 422 and set(body["fields"]) == {"customer_cost"}
    good = aiohttp.FormData({"customer_cost": "1,5tr", "utility_cost": "2.000.000"})
    status, shown = await board.post("minh", f"/app/api/cases/{ref}/steps/estimate", data=good)
    assert status == 200 and shown["estimate"]["customer"] == 1_500_000
    assert shown["estimate"]["customer_text"] == "1.500.000 đ"
    status, body = await board.post(
        "hung", f"/app/api/cases/{ref}/steps/agree", data=aiohttp.FormData({})
    )
    assert status == 403


async def test_an_amount_is_previewed_by_the_vietnamese_parser(board: Board) -> None:
    status, read = await board.get("minh", "/app/api/amount?text=1,5tr")
    assert status == 200 and read == {"value": 1_500_000, "text": "1.500.000 đ"}
    status, _ = await board.get("minh", "/app/api/amount?text=m%C6%B0%E1%BB%9Di")
    assert status == 422


# --------------------------------------------------------------------------- map, KPIs, mine


async def test_the_map_lists_only_the_teams_the_person_sees(board: Board) -> None:
    pl = await board.intake("PL")
    await board.intake("DL")
    _, places = await board.get("lan", "/app/api/map")
    assert [c["ref"] for c in places["unlocated"]] == [pl] and places["located"] == []


async def test_kpis_are_the_reports_numbers_and_for_leads_only(board: Board) -> None:
    ref = await board.intake()
    await board.claim("minh", ref)
    for step, form in (
        ("survey", {"note": "ok"}),
        ("estimate", {"customer_cost": "1tr", "utility_cost": "1tr"}),
    ):
        status, _ = await board.post(
            "minh", f"/app/api/cases/{ref}/steps/{step}", data=aiohttp.FormData(form)
        )
        assert status == 200
    for step in ("agree",):
        await board.post("lan", f"/app/api/cases/{ref}/steps/{step}", data=aiohttp.FormData({}))
    form = aiohttp.FormData({"serial": "CT-1", "reading": "0"})
    status, _ = await board.post("minh", f"/app/api/cases/{ref}/steps/install", data=form)
    assert status == 200
    status, shown = await board.get("lan", "/app/api/kpis")
    assert status == 200
    now = board.clock.now()
    today = now.astimezone(board.container.policy.calendar.tz).date()
    for word in ("week", "month"):
        expected = report_json(
            await build(ReportDeps.of(board.container), Period.from_words(word, today), "PL", now)
        )
        assert shown[word]["workers"] == expected["by_worker"]
        assert shown[word]["completed"] == expected["completed"] == 1
    status, _ = await board.get("minh", "/app/api/kpis")
    assert status == 403
    status, _ = await board.get("quang", "/app/api/kpis?team=PL")
    assert status == 403


async def test_my_cases_lists_a_workers_cases_with_their_next_step(board: Board) -> None:
    ref = await board.intake()
    await board.intake()
    await board.claim("minh", ref)
    status, mine = await board.get("minh", "/app/api/mine")
    assert status == 200 and [c["ref"] for c in mine["cases"]] == [ref]
    step = mine["cases"][0]["steps"][0]
    assert step["action"] == "survey"
    assert [(f["name"], f["kind"]) for f in step["fields"]] == [
        ("note", "text"),
        ("photos", "photos"),
        ("location", "location"),
    ]
    _, theirs = await board.get("hung", "/app/api/mine")
    assert theirs["cases"] == []


# --------------------------------------------------------------------------- the page


async def test_the_page_is_served_with_a_strict_content_policy(board: Board) -> None:
    resp = await board.client.get("/app/")
    assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self' https://telegram.org" in csp
    assert "frame-ancestors 'self' https://web.telegram.org" in csp
    assert "Access-Control-Allow-Origin" not in resp.headers
    script = await board.client.get("/app/static/app.js")
    assert script.status == 200 and "javascript" in script.headers["Content-Type"]
    for sneaky in ("/app/static/..%2Fapi.py", "/app/static/%2e%2e/launch.py"):
        assert (await board.client.get(sneaky)).status == 404


async def test_the_pages_words_come_in_both_languages(board: Board) -> None:
    vi = await (await board.client.get("/app/api/strings?lang=vi")).json()
    en = await (await board.client.get("/app/api/strings?lang=en")).json()
    assert vi["strings"]["app.tab.board"] == "Bảng" and en["strings"]["app.tab.board"] == "Board"
    assert set(vi["strings"]) == set(en["strings"])
    assert not any(k.startswith(("err.", "card.")) for k in vi["strings"])
