"""The intake HTTP API end to end, over a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.evidence import NewEvidence
from bot.domain.model import Source
from bot.domain.people import ChatBinding, Team
from bot.http import CONTAINER, build_http_app, start_http, stop_http
from bot.http.server import MAX_BODY
from bot.reminders import ReminderDeps, ReminderKind, remind_pass
from sandbox.telegram import make_png
from storage import tables as t
from storage.evidence_store import MediaFiles
from tests import rawhttp
from tests.conftest import make_settings
from tests.rawhttp import http_errors

TOKEN = "test-intake-token"
DESK_SECRET = "desk-secret-1"
PL_SECRET = "pl-desk-secret-1"  # limited to PL
LN_SECRET = "ln-desk-secret-1"  # limited to LN and DL
TOKENS = f"desk:{DESK_SECRET},pldesk:{PL_SECRET}:PL,lndesk:{LN_SECRET}:ln+DL"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PHONE = "0912345678"

Client = TestClient[web.Request, web.Application]

CASE_KEYS = {
    "ref",
    "external_ref",
    "kind",
    "team",
    "status",
    "assignee",
    "customer",
    "area",
    "purpose",
    "received_at",
    "due_at",
    "estimate",
    "meter",
}


def intake(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_ref": "TTHCC-PL-2026-00123",
        "kind": "new_connection",
        "team": "PL",
        "area": "urban",
        "purpose": "domestic",
        "customer": {
            "name": "Trần Văn Hưng",
            "phone": "+84 912 345 678",
            "address": "12 Trần Hưng Đạo, Phủ Lý",
        },
        "description": "Đăng ký cấp điện sinh hoạt",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


async def _container(
    database_url: str, tmp_path: Path, clock: FixedClock, **settings: object
) -> Container:
    container = await bootstrap(
        make_settings(database_url, tmp_path, **settings), clock=clock, channels={}
    )
    async with container.uow() as uow:
        await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", "-100"),)))
        await uow.teams.add(Team("LN", "Lý Nhân", (ChatBinding("telegram", "-200"),)))
        await uow.commit()
    return container


@pytest.fixture
async def container(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Container]:
    container = await _container(database_url, tmp_path, clock, intake_tokens=TOKENS)
    try:
        yield container
    finally:
        await container.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_http_app(container))) as client:
        yield client


async def count(container: Container, table: sa.Table, *where: Any) -> int:
    async with container.engine.connect() as conn:
        stmt = sa.select(sa.func.count()).select_from(table).where(*where)
        return int((await conn.execute(stmt)).scalar_one())


async def assert_nothing_stored(container: Container) -> None:
    assert await count(container, t.cases) == 0
    assert await count(container, t.case_events) == 0
    assert await count(container, t.outbox) == 0


# ---------------------------------------------------------------- intake


async def test_created_then_repeated_is_one_case_and_one_post(
    client: Client, container: Container
) -> None:
    first = await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    assert first.status == 201
    created = await first.json()
    assert created["ref"] == "PL-1"

    again = await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    assert again.status == 200
    assert await again.json() == created

    assert await count(container, t.cases) == 1
    assert await count(container, t.case_events) == 1
    posts = await count(
        container, t.outbox, t.outbox.c.channel == "telegram", t.outbox.c.chat_id == "-100"
    )
    assert posts == 1


async def test_get_shows_the_contract_shape(client: Client) -> None:
    resp = await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    assert resp.status == 201

    got = await client.get("/api/v1/cases/pl-1", headers=AUTH)
    assert got.status == 200
    assert got.content_type == "application/json"
    case = await got.json()
    assert set(case) == CASE_KEYS | {"history", "evidence"}  # evidence: issue 5
    assert case == {
        "ref": "PL-1",
        "external_ref": "TTHCC-PL-2026-00123",
        "kind": "new_connection",
        "team": "PL",
        "status": "open",
        "assignee": None,
        "customer": {
            "name": "Trần Văn Hưng",
            "phone": PHONE,  # normalized; the API's callers get it in full
            "address": "12 Trần Hưng Đạo, Phủ Lý",
        },
        "area": "urban",
        "purpose": "domestic",
        "received_at": "2026-11-27T09:00:00+07:00",  # default: now
        "due_at": "2026-12-02T09:00:00+07:00",  # 3 working days, Friday → Wednesday
        "estimate": None,
        "meter": None,
        "history": [
            {
                "at": "2026-11-27T09:00:00+07:00",
                "action": "intake",
                "actor": "api:intake",
                "status": "open",
                "note": None,
            }
        ],
        "evidence": [],
    }


@pytest.mark.parametrize(
    ("area", "purpose", "due_at"),
    [
        # Wednesday 08:15 + 3 working days of 8 h: Wed 7h15, Thu 8h, Fri 8h, Mon 0h45.
        ("urban", "domestic", "2026-11-30T08:15:00+07:00"),
        ("rural", "domestic", "2026-12-02T08:15:00+07:00"),
    ],
)
async def test_received_at_in_the_past_starts_the_sla_clock(
    client: Client, area: str, purpose: str, due_at: str
) -> None:
    body = intake(area=area, purpose=purpose, received_at="2026-11-25T08:15:00+07:00")
    resp = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert resp.status == 201
    case = await resp.json()
    assert case["received_at"] == "2026-11-25T08:15:00+07:00"
    assert case["due_at"] == due_at


async def test_received_at_in_another_offset_is_shown_in_local_time(client: Client) -> None:
    body = intake(received_at="2026-11-25T01:15:00Z")
    resp = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert resp.status == 201
    assert (await resp.json())["received_at"] == "2026-11-25T08:15:00+07:00"


async def test_named_token_is_recorded_as_the_actor(client: Client) -> None:
    resp = await client.post(
        "/api/v1/cases", json=intake(), headers={"Authorization": f"bearer {DESK_SECRET}"}
    )
    assert resp.status == 201
    assert [h["actor"] for h in (await resp.json())["history"]] == ["api:desk"]


async def test_optional_fields_may_be_left_out_for_other_kinds(client: Client) -> None:
    body = intake(kind="meter_complaint", area=..., purpose=..., description=..., external_ref=...)
    resp = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert resp.status == 201
    case = await resp.json()
    assert (case["area"], case["purpose"], case["external_ref"]) == (None, None, None)
    # Without an external_ref every call is a new case.
    again = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert again.status == 201
    assert (await again.json())["ref"] == "PL-2"


# ---------------------------------------------------------------- integrations


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_another_integration_with_the_same_external_ref_gets_its_own_case(
    client: Client, container: Container
) -> None:
    """One desk's number never answers with another desk's case (it did: 200, PL-1)."""
    first = await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    assert (first.status, (await first.json())["ref"]) == (201, "PL-1")
    other = await client.post("/api/v1/cases", json=intake(), headers=bearer(DESK_SECRET))
    assert (other.status, (await other.json())["ref"]) == (201, "PL-2")
    # Each retry finds its own integration's case again, and posts nothing more.
    for secret, ref in ((TOKEN, "PL-1"), (DESK_SECRET, "PL-2")):
        again = await client.post("/api/v1/cases", json=intake(), headers=bearer(secret))
        assert (again.status, (await again.json())["ref"]) == (200, ref)
    assert await count(container, t.cases) == 2
    assert await count(container, t.outbox) == 2


async def test_an_integration_reusing_its_external_ref_for_another_team_gets_409(
    client: Client, container: Container
) -> None:
    assert (await client.post("/api/v1/cases", json=intake(), headers=AUTH)).status == 201
    resp = await client.post("/api/v1/cases", json=intake(team="LN"), headers=AUTH)
    assert resp.status == 409
    answer = await resp.json()
    assert set(answer) == {"error"} and "external_ref" in answer["error"]
    assert "PL-1" not in answer["error"] and "TTHCC" not in answer["error"]
    assert await count(container, t.cases) == 1
    # Another integration's namespace is its own: the same number for LN is a new case.
    other = await client.post("/api/v1/cases", json=intake(team="LN"), headers=bearer(DESK_SECRET))
    assert (other.status, (await other.json())["ref"]) == (201, "LN-1")


async def test_a_scoped_token_files_reads_and_lists_only_its_teams(
    client: Client, container: Container, clock: FixedClock
) -> None:
    pl, ln = bearer(PL_SECRET), bearer(LN_SECRET)
    assert (await client.post("/api/v1/cases", json=intake(), headers=pl)).status == 201
    body = intake(team="LN", external_ref="LN-DESK-1")
    assert (await client.post("/api/v1/cases", json=body, headers=ln)).status == 201
    # Filing for a team outside its own, existing or not: 403, nothing stored.
    for token, team in ((pl, "LN"), (pl, "XX"), (ln, "PL"), (ln, "pl")):
        resp = await client.post("/api/v1/cases", json=intake(team=team), headers=token)
        assert resp.status == 403, team
        assert set(await resp.json()) == {"error"}
    assert await count(container, t.cases) == 2
    # Reading: its own teams' cases, and 403 for the others'.
    assert (await client.get("/api/v1/cases/PL-1", headers=pl)).status == 200
    assert (await client.get("/api/v1/cases/LN-1", headers=pl)).status == 403
    assert (await client.get("/api/v1/cases/PL-1", headers=ln)).status == 403
    assert (await client.get("/api/v1/cases/LN-1", headers=ln)).status == 200
    assert (await client.get("/api/v1/cases/PL-99", headers=ln)).status == 404

    async def listed(query: str, token: dict[str, str]) -> tuple[int, list[str]]:
        resp = await client.get(f"/api/v1/cases{query}", headers=token)
        found = await resp.json()
        return resp.status, [c["ref"] for c in found] if resp.status == 200 else []

    assert await listed("", AUTH) == (200, ["PL-1", "LN-1"])
    assert await listed("", pl) == (200, ["PL-1"])
    assert await listed("", ln) == (200, ["LN-1"])
    assert await listed("?team=PL&status=open", pl) == (200, ["PL-1"])
    assert await listed("?team=ln&status=open", ln) == (200, ["LN-1"])
    for query, token in (("?team=LN", pl), ("?team=XX", pl), ("?team=pl", ln)):
        assert (await listed(query, token))[0] == 403, query

    # Evidence photos likewise.
    files = MediaFiles(container.settings.media_dir)
    path, mime = await files.save_final(make_png(4, 4), clock.now())
    async with container.uow() as uow:
        case = await uow.cases.get_by_ref("PL-1")
        assert case is not None and case.id is not None
        photo = NewEvidence.photo(path, mime, 100)
        evidence_id = await uow.evidence.add(case.id, photo, "telegram:7", clock.now(), Source.API)
        await uow.commit()
    url = f"/api/v1/cases/PL-1/evidence/{evidence_id}"
    assert (await client.get(url, headers=pl)).status == 200
    assert (await client.get(url, headers=ln)).status == 403


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-value",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
    ],
)
async def test_no_or_wrong_token_is_refused(
    client: Client, container: Container, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    resp = await client.post("/api/v1/cases", json=intake(), headers=headers)
    assert resp.status == 401
    assert await resp.json() == {"error": "unauthorized"}
    for path in ("/api/v1/cases", "/api/v1/cases/PL-1"):
        assert (await client.get(path, headers=headers)).status == 401
    await assert_nothing_stored(container)


async def test_without_configured_tokens_every_call_is_refused(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    container = await _container(database_url, tmp_path, clock, intake_token=None)
    try:
        assert container.settings.intake_credentials == ()
        async with TestClient(TestServer(build_http_app(container))) as client:
            for headers in ({}, AUTH, {"Authorization": "Bearer "}):
                resp = await client.post("/api/v1/cases", json=intake(), headers=headers)
                assert resp.status == 401
        await assert_nothing_stored(container)
    finally:
        await container.close()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b'{"kind": "new_connection", "kind": "meter_complaint"}',
        b'{"received_at": NaN}',
        b'{"team": "\xff"}',
    ],
)
async def test_not_a_json_object_is_400(client: Client, container: Container, body: bytes) -> None:
    resp = await client.post(
        "/api/v1/cases",
        data=body,
        headers=AUTH | {"Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert set(await resp.json()) == {"error"}
    await assert_nothing_stored(container)


async def test_body_over_64_kib_is_413(client: Client, container: Container) -> None:
    body = intake(description="x" * MAX_BODY)
    resp = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert resp.status == 413
    await assert_nothing_stored(container)


async def test_body_over_64_kib_is_413_without_content_length(
    client: Client, container: Container
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"description": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    resp = await client.post("/api/v1/cases", data=chunks(), headers=AUTH)
    assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert resp.status == 413
    await assert_nothing_stored(container)


async def test_every_bad_field_is_named_at_once(client: Client, container: Container) -> None:
    body = intake(
        kind="new_conection",
        customer={"name": "Trần Văn Hưng", "phone": "12345"},
    )
    resp = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert resp.status == 422
    answer = await resp.json()
    assert answer["error"] == "invalid case"
    assert set(answer["fields"]) == {"kind", "customer.phone", "customer.address"}
    assert "new_connection" in answer["fields"]["kind"]
    assert all(msg.endswith(".") for msg in answer["fields"].values())
    assert "12345" not in await resp.text()
    await assert_nothing_stored(container)


async def test_unknown_team_is_named_with_the_other_fields(
    client: Client, container: Container
) -> None:
    resp = await client.post("/api/v1/cases", json=intake(team="XX", description=7), headers=AUTH)
    assert resp.status == 422
    assert set((await resp.json())["fields"]) == {"team", "description"}
    await assert_nothing_stored(container)


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"received_at": "2026-11-25T08:15:00"}, {"received_at"}),  # naive
        ({"received_at": "2026-11-25"}, {"received_at"}),
        ({"received_at": "yesterday"}, {"received_at"}),
        ({"received_at": 1764200000}, {"received_at"}),
        ({"received_at": "2026-11-27T09:06:00+07:00"}, {"received_at"}),  # 6 min ahead
        ({"area": ..., "purpose": ...}, {"area", "purpose"}),  # new_connection needs both
        ({"area": "suburban"}, {"area"}),
        ({"needs_extra_works": "yes"}, {"needs_extra_works"}),
        ({"external_ref": "A" * 129}, {"external_ref"}),
        ({"external_ref": "A\x00B"}, {"external_ref"}),
        ({"description": "x" * 2001}, {"description"}),
        (
            {"customer": {"name": " ", "phone": "0912345678", "address": "x" * 501}},
            {"customer.name", "customer.address"},
        ),
        (
            {"customer": {"name": "A", "phone": "0912345678", "address": "B", "email": "a@b"}},
            {"customer.email"},
        ),
        ({"customer": "Trần Văn Hưng"}, {"customer"}),
        ({"teams": "PL"}, {"teams"}),  # a typo is not dropped
        ({"kind": ...}, {"kind"}),
        ({"kind": None, "customer": None}, {"kind", "customer"}),
        ({"team": 5}, {"team"}),
    ],
)
async def test_invalid_values_are_422(
    client: Client, container: Container, overrides: dict[str, Any], fields: set[str]
) -> None:
    resp = await client.post("/api/v1/cases", json=intake(**overrides), headers=AUTH)
    assert resp.status == 422
    answer = await resp.json()
    assert answer["error"] == "invalid case"
    assert set(answer["fields"]) == fields
    await assert_nothing_stored(container)


async def test_received_at_a_little_ahead_is_clock_skew(client: Client) -> None:
    body = intake(received_at="2026-11-27T09:04:00+07:00")
    resp = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert resp.status == 201


async def test_nothing_personal_is_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    await client.post("/api/v1/cases", json=intake(kind="x"), headers=AUTH)
    await client.post("/api/v1/cases", json=intake(), headers={"Authorization": "Bearer nope!!!"})
    # Our loggers and aiohttp's; DB drivers log SQL parameters at DEBUG (see LOG_LEVEL).
    ours = ("bot", "handlers", "storage", "aiohttp")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.split(".")[0] in ours)
    assert "intake" in logged
    for secret in (PHONE, "912 345 678", TOKEN, "nope!!!"):
        assert secret not in logged


# ---------------------------------------------------------------- reading


async def test_unknown_ref_is_404(client: Client) -> None:
    resp = await client.get("/api/v1/cases/PL-99", headers=AUTH)
    assert resp.status == 404
    assert await resp.json() == {"error": "not found"}


async def test_list_with_filters(client: Client, clock: FixedClock) -> None:
    await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    body = intake(kind="meter_complaint", external_ref="TTHCC-PL-2026-00124")
    await client.post("/api/v1/cases", json=body, headers=AUTH)

    async def refs(query: str) -> list[str]:
        resp = await client.get(f"/api/v1/cases{query}", headers=AUTH)
        assert resp.status == 200, await resp.text()
        items = await resp.json()
        assert all(set(item) == CASE_KEYS for item in items)  # lists carry no history
        return [item["ref"] for item in items]

    assert await refs("") == ["PL-1", "PL-2"]
    assert await refs("?status=&team=&overdue=") == ["PL-1", "PL-2"]
    assert await refs("?status=open&team=pl") == ["PL-1", "PL-2"]
    assert await refs("?status=claimed,closed") == []
    assert await refs("?limit=1") == ["PL-1"]
    assert await refs("?overdue=true") == []
    # The claim is due 2 working hours after 09:00; at 12:00 both are late.
    clock.advance(timedelta(hours=3))
    assert sorted(await refs("?overdue=true&status=open")) == ["PL-1", "PL-2"]
    assert await refs("?overdue=false") == ["PL-1", "PL-2"]


async def test_a_reminded_case_is_still_listed_overdue(
    client: Client, container: Container, clock: FixedClock
) -> None:
    """Reminding moves the next check ahead; the case is no less late for it."""
    await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    clock.advance(timedelta(hours=5))  # 14:00, past the 2-hour claim target
    actions = await remind_pass(ReminderDeps.of(container), clock.now())
    assert [a.ref for a in actions if a.kind is ReminderKind.REMIND] == ["PL-1"]
    resp = await client.get("/api/v1/cases?overdue=true", headers=AUTH)
    assert [item["ref"] for item in await resp.json()] == ["PL-1"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("?status=opened", {"status"}),
        ("?status=open,bogus", {"status"}),
        ("?team=XX", {"team"}),
        ("?overdue=yes", {"overdue"}),
        ("?limit=0", {"limit"}),
        ("?limit=abc", {"limit"}),
        ("?state=open", {"state"}),
        ("?status=x&overdue=2", {"status", "overdue"}),
    ],
)
async def test_bad_list_filters_are_422(client: Client, query: str, fields: set[str]) -> None:
    resp = await client.get(f"/api/v1/cases{query}", headers=AUTH)
    assert resp.status == 422
    answer = await resp.json()
    assert answer["error"] == "invalid query"
    assert set(answer["fields"]) == fields


# ---------------------------------------------------------------- odd requests


@pytest.fixture
async def port(container: Container) -> AsyncIterator[int]:
    """The real server (aiohttp's own HTTP parsing included), on a free port."""
    runner = await start_http(container, "127.0.0.1", 0)
    try:
        yield int(runner.addresses[0][1])
    finally:
        await stop_http(runner)


CASES = "/api/v1/cases"
PHONE_BODY = json.dumps(intake()).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
        rawhttp.request("POST", CASES, AUTH, PHONE_BODY, raw_headers=b"Content-Length: 3\r\n"),
        rawhttp.request("POST", CASES, AUTH, PHONE_BODY, raw_headers=b"Content-Length: x\r\n"),
        rawhttp.request("GET", CASES, AUTH, raw_headers=b"X-Long: " + b"a" * 9000 + b"\r\n"),
        # A Content-Length shorter than the body: the rest reads as a request of its own.
        rawhttp.request("POST", CASES, AUTH, PHONE_BODY, content_length=10),
    ],
    ids=["request-line", "method", "two-lengths", "length-not-a-number", "long-header", "short"],
)
async def test_what_aiohttp_cannot_read_is_answered_with_our_json_error(
    port: int, container: Container, caplog: pytest.LogCaptureFixture, data: bytes
) -> None:
    """It was aiohttp's text page, quoting the bytes (a phone number among them)."""
    answers = await rawhttp.exchange(port, data)
    assert answers, "no answer"
    for answer in answers:
        assert answer.status == 400, answer
        assert set(answer.json()) == {"error"}
        assert b"0912" not in answer.body and b"GARBAGE" not in answer.body
    assert "345 678" not in caplog.text and "GARBAGE" not in caplog.text
    assert not http_errors(caplog), caplog.text
    await assert_nothing_stored(container)


@pytest.mark.parametrize(
    "body",
    [b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000],
    ids=["arrays", "objects"],
)
async def test_json_nested_too_deep_is_400(
    client: Client, container: Container, body: bytes
) -> None:
    resp = await client.post(CASES, data=body, headers=AUTH | {"Content-Type": "application/json"})
    assert resp.status == 400
    assert await resp.json() == {"error": "The body is not valid JSON."}
    await assert_nothing_stored(container)


async def test_nesting_the_parser_can_read_is_a_422_naming_the_field(client: Client) -> None:
    deep: Any = "x"
    for _ in range(500):
        deep = [deep]
    resp = await client.post(CASES, json=intake(description=deep), headers=AUTH)
    assert resp.status == 422
    assert set((await resp.json())["fields"]) == {"description"}


async def test_a_body_that_never_arrives_is_408_after_a_while(
    port: int, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Content-Length longer than what is sent held the connection for ever."""
    monkeypatch.setattr("bot.http.server.BODY_SECONDS", 0.3)
    data = rawhttp.request("POST", CASES, AUTH, PHONE_BODY[:20], content_length=len(PHONE_BODY))
    (answer,) = await rawhttp.exchange(port, data, expect=1)
    assert answer.status == 408
    assert set(answer.json()) == {"error"}
    await assert_nothing_stored(container)


async def test_a_client_that_hangs_up_mid_body_is_no_error(
    port: int, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    data = rawhttp.request("POST", CASES, AUTH, PHONE_BODY[:20], content_length=len(PHONE_BODY))
    answers = await rawhttp.exchange(port, data, half_close=True)
    assert [a.status for a in answers] in ([], [400])
    assert not http_errors(caplog), caplog.text
    await assert_nothing_stored(container)


# ---------------------------------------------------------------- ops


async def test_healthz(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"


async def test_healthz_is_503_when_the_database_does_not_answer(
    container: Container, tmp_path: Path
) -> None:
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    try:
        app = build_http_app(dataclasses.replace(container, engine=broken))
        async with TestClient(TestServer(app)) as client:
            resp = await client.get("/healthz")
            assert resp.status == 503
            assert await resp.json() == {"status": "unavailable"}
    finally:
        await broken.dispose()


async def test_metrics(client: Client) -> None:
    await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    assert "# TYPE dispatch_cases gauge" in text
    assert 'dispatch_cases{status="open",team="PL"} 1\n' in text
    assert "dispatch_outbox_pending 1\n" in text
    assert PHONE not in text


async def test_unknown_route_is_json_404(client: Client) -> None:
    resp = await client.get("/api/v2/cases", headers=AUTH)
    assert resp.status == 404
    assert await resp.json() == {"error": "not found"}
    resp = await client.delete("/api/v1/cases", headers=AUTH)
    assert resp.status == 405
    assert "Allow" in resp.headers


async def test_concurrent_retries_make_one_case(client: Client, container: Container) -> None:
    responses = await asyncio.gather(
        *(client.post("/api/v1/cases", json=intake(), headers=AUTH) for _ in range(5))
    )
    assert sorted(r.status for r in responses) == [200, 200, 200, 200, 201]
    assert {(await r.json())["ref"] for r in responses} == {"PL-1"}
    assert await count(container, t.cases) == 1
    assert await count(container, t.outbox) == 1


# ---------------------------------------------------------------- server


async def test_start_and_stop_with_an_installed_route(container: Container) -> None:
    async def hook(request: web.Request) -> web.Response:
        return web.json_response({"host": request.app[CONTAINER].settings.http_host})

    def install(app: web.Application) -> None:
        app.router.add_post("/telegram/webhook", hook)

    runner = await start_http(container, "127.0.0.1", 0, installers=[install])
    try:
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(f"http://{host}:{port}") as session:
            async with session.get("/healthz") as resp:
                assert resp.status == 200
            async with session.post("/telegram/webhook") as resp:
                assert resp.status == 200
                assert await resp.json() == {"host": "127.0.0.1"}
    finally:
        await stop_http(runner)


async def test_a_crash_is_a_json_500_logged_without_the_phone(
    client: Client, container: Container, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    async def boom(*args: object) -> None:
        raise RuntimeError(f"customer {PHONE} broke it")

    monkeypatch.setattr(container.service, "intake", boom)
    resp = await client.post("/api/v1/cases", json=intake(), headers=AUTH)
    assert resp.status == 500
    assert await resp.json() == {"error": "internal error"}
    failures = [r.getMessage() for r in caplog.records if r.name == "bot.http.server"]
    assert any("RuntimeError" in m for m in failures)
    assert not any(PHONE in m for m in failures)
