"""The intake API against its own OpenAPI document, by schemathesis.

The server runs for real (aiohttp on a free port, SQLite) in a thread with its
own event loop, because schemathesis calls it synchronously. Every generated
call, valid or not, must get a documented status, no 5xx, and a body that
matches the document.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import SystemClock
from bot.domain.model import Action, Role, Source
from bot.http.server import start_http, stop_http
from bot.services import commands as c
from tests.conftest import make_settings
from tests.integration.helpers import actor_of, add_member, intake_cmd, origin, seed_team

TOKEN = "test-intake-token"
PL_ONLY = "pl-desk-secret-1"  # a token limited to team PL
DL_ONLY = "dl-desk-secret-1"  # and one limited to team DL
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


class ServerThread:
    """The HTTP server on a loop of its own, for a synchronous client."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.base_url = ""
        self._teardown: Any = None

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.base_url = self._run(self._start(), timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(self._stop(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _run(self, coro: Any, timeout: float) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    async def _start(self) -> str:
        url = f"sqlite+aiosqlite:///{self.tmp / 'openapi.db'}"
        # The wall clock: generated `received_at` values are judged against now.
        settings = make_settings(
            url, self.tmp, intake_tokens=f"pldesk:{PL_ONLY}:PL,dldesk:{DL_ONLY}:DL"
        )
        container = await bootstrap(settings, clock=SystemClock(), channels={})
        await seed_team(container)
        await seed_team(container, "DL", "-1002")
        await _a_case_with_every_field(container)
        runner = await start_http(container, "127.0.0.1", 0)
        self._teardown = (container, runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def _stop(self) -> None:
        container, runner = self._teardown
        await stop_http(runner)
        await container.close()


async def _a_case_with_every_field(container: Container) -> None:
    """PL-1, installed: estimate, meter and history all present, so that a body with
    every optional part filled is held to the document too."""
    worker = actor_of(await add_member(container, 7, "Minh", Role.WORKER))
    svc, tg, here = container.service, Source.TELEGRAM, origin()
    case, _ = await svc.intake(intake_cmd("EXT-1"), container.uow())
    await svc.claim(c.ClaimCase(worker, tg, here, ref=case.ref), container.uow())
    await svc.report_step(
        c.ReportStep(worker, tg, here, ref=case.ref, action=Action.SURVEY, note="ok"),
        container.uow(),
    )
    await svc.estimate(
        c.RecordEstimate(worker, tg, here, ref=case.ref, customer_cost=1, utility_cost=2),
        container.uow(),
    )
    await svc.report_step(
        c.ReportStep(worker, tg, here, ref=case.ref, action=Action.AGREE), container.uow()
    )
    await svc.install(
        c.RecordInstall(worker, tg, here, ref=case.ref, meter_serial="M-1", reading="12"),
        container.uow(),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("openapi")) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(server: ServerThread) -> Any:
    return schemathesis.openapi.from_url(f"{server.base_url}/api/v1/openapi.json")


def _operation(api_schema: Any, method: str, path: str) -> Any:
    for result in api_schema.get_all_operations():
        op = result.ok()
        if op.method.upper() == method and op.path == path:
            return op
    raise AssertionError(f"{method} {path} is not in the document")


OPERATIONS = [
    ("POST", "/api/v1/cases"),
    ("GET", "/api/v1/cases"),
    ("GET", "/api/v1/cases/{ref}"),
    ("GET", "/api/v1/cases/{ref}/evidence/{evidence_id}"),
    ("GET", "/healthz"),
]


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS]
    # /healthz takes no input, so nothing about it can be invalid.
    + [(m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if p != "/healthz"],
)
def test_the_api_keeps_to_its_document(
    api_schema: Any, server: ServerThread, method: str, path: str, mode: GenerationMode
) -> None:
    """Generated calls, valid and invalid, with a valid token: documented statuses,
    no 5xx, bodies as documented."""
    operation = _operation(api_schema, method, path)
    headers = {"Authorization": f"Bearer {TOKEN}"}

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    def calls(case: Any) -> None:
        case.call_and_validate(base_url=server.base_url, headers=headers, checks=CHECKS)

    calls()


@pytest.mark.parametrize(("method", "path"), OPERATIONS[:4])
def test_without_a_token_every_call_is_refused_as_documented(
    api_schema: Any, server: ServerThread, method: str, path: str
) -> None:
    operation = _operation(api_schema, method, path)

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    def calls(case: Any) -> None:
        response = case.call_and_validate(base_url=server.base_url, checks=CHECKS)
        assert response.status_code == 401

    calls()


VALID_INTAKE = {
    "external_ref": "EXT-2",
    "kind": "new_connection",
    "team": "PL",
    "area": "rural",
    "purpose": "domestic",
    "customer": {"name": "Trần Văn Hưng", "phone": "0912345678", "address": "12 Trần Hưng Đạo"},
    "description": "Đăng ký cấp điện",
}


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("POST", "/api/v1/cases", {"body": VALID_INTAKE, "media_type": "application/json"}),
        ("POST", "/api/v1/cases", {"body": VALID_INTAKE, "media_type": "application/json"}),
        ("GET", "/api/v1/cases/{ref}", {"path_parameters": {"ref": "PL-1"}}),
        ("GET", "/api/v1/cases", {"query": {"team": "PL"}}),
        ("GET", "/api/v1/cases", {"query": {"overdue": "false", "limit": 5}}),
    ],
    ids=["created", "repeated", "one-case", "list", "list-limit"],
)
def test_successful_answers_match_the_document(
    api_schema: Any, server: ServerThread, method: str, path: str, call: dict[str, Any]
) -> None:
    """Random input rarely makes a valid case: these calls make sure 2xx bodies are checked."""
    case = _operation(api_schema, method, path).Case(**call)
    response = case.call_and_validate(
        base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS
    )
    assert response.status_code in (200, 201)
    body = response.json()
    assert body if isinstance(body, list) else body["ref"].startswith("PL-")


@pytest.mark.parametrize(("method", "path"), OPERATIONS[:4])
def test_a_token_of_another_team_gets_only_documented_answers(
    api_schema: Any, server: ServerThread, method: str, path: str
) -> None:
    """Generated calls with a token limited to DL, where every case is PL's."""
    operation = _operation(api_schema, method, path)
    headers = {"Authorization": f"Bearer {DL_ONLY}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def calls(case: Any) -> None:
        response = case.call_and_validate(base_url=server.base_url, headers=headers, checks=CHECKS)
        if response.status_code == 200 and method == "GET" and path == "/api/v1/cases":
            assert all(item["team"] == "DL" for item in response.json())

    calls()


@pytest.mark.parametrize(
    ("method", "path", "call", "token", "status"),
    [
        ("POST", "/api/v1/cases", {"body": VALID_INTAKE}, DL_ONLY, 403),
        ("GET", "/api/v1/cases/{ref}", {"path_parameters": {"ref": "PL-1"}}, DL_ONLY, 403),
        ("GET", "/api/v1/cases/{ref}", {"path_parameters": {"ref": "PL-1"}}, PL_ONLY, 200),
        ("GET", "/api/v1/cases", {"query": {"team": "PL"}}, DL_ONLY, 403),
        ("GET", "/api/v1/cases", {"query": {}}, DL_ONLY, 200),
        (
            "GET",
            "/api/v1/cases/{ref}/evidence/{evidence_id}",
            {"path_parameters": {"ref": "PL-1", "evidence_id": 1}},
            DL_ONLY,
            403,
        ),
    ],
    ids=[
        "other-team-files",
        "other-team-reads",
        "own-team-reads",
        "other-team-lists-by-team",
        "other-team-lists",
        "other-team-evidence",
    ],
)
def test_team_scopes_and_ref_conflicts_answer_as_documented(
    api_schema: Any,
    server: ServerThread,
    method: str,
    path: str,
    call: dict[str, Any],
    token: str,
    status: int,
) -> None:
    if "body" in call:
        call = {**call, "media_type": "application/json"}
    case = _operation(api_schema, method, path).Case(**call)
    response = case.call_and_validate(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
    assert response.status_code == status
    if status == 200 and path == "/api/v1/cases":
        assert response.json() == []  # every case is PL's


def test_an_external_ref_reused_for_another_team_is_a_documented_409(
    api_schema: Any, server: ServerThread
) -> None:
    operation = _operation(api_schema, "POST", "/api/v1/cases")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    statuses = []
    for team in ("PL", "DL"):
        body = {**VALID_INTAKE, "external_ref": "EXT-9", "team": team}
        case = operation.Case(body=body, media_type="application/json")
        response = case.call_and_validate(base_url=server.base_url, headers=headers, checks=CHECKS)
        statuses.append(response.status_code)
    assert statuses == [201, 409]


def test_the_document_names_every_route_of_the_api(server: ServerThread) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{server.base_url}/api/v1/openapi.json") as resp:
        doc = resp.read().decode()
    for path in ('"/api/v1/cases"', '"/api/v1/cases/{ref}"', '"/healthz"', "/evidence/"):
        assert path in doc
