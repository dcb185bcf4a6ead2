"""The HTTP server: intake API, health and metrics (`bot.http.ops`), and room for webhooks.

Handlers find the application's parts under ``app[CONTAINER]``. Routes owned
by other modules (the Telegram and Zalo webhooks) are added by passing
*installers* to ``build_http_app``/``start_http``: each is called with the
application before it starts and adds its routes, e.g.::

    def install_telegram_webhook(app: web.Application) -> None:
        app.router.add_post(path, handler)  # handler reads request.app[CONTAINER]

Only ``/api/`` routes demand the intake token; webhooks check their own secret.

Decisions where the contract is silent:

- Every error is JSON, ``{"error": "..."}``; unknown routes too, and what aiohttp
  cannot parse as HTTP at all (see ``_JsonErrorPages``).
- A scoped intake token (``INTAKE_TOKENS`` ``name:SECRET:PL+LN``) reaches only its
  teams: ``403`` for any other team's case, and for a ``team`` it does not hold,
  checked before the team is looked up (so it cannot probe which teams exist).
- The token is compared as a SHA-256 digest with ``hmac.compare_digest``
  against every configured secret, so neither the position of the matching
  secret nor the secrets' lengths show in the response time.
- ``GET /api/v1/cases`` returns a JSON array of cases *without* their history
  (one query for the whole list; ``GET /api/v1/cases/{ref}`` has it). Filters:
  ``status`` (repeatable or comma-separated), ``team``, ``overdue=true|false``,
  ``limit`` (1–1000, default 200); empty values mean "no filter"; an unknown
  status, team or parameter is a 422, as a typo in a filter must not look
  like "no cases".
- Exceptions are logged with their type, a phone-redacted message and the
  stack, never the request body or the Authorization header.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import tzinfo
from http import HTTPStatus
from typing import Any, Final

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from bot.bootstrap import Container
from bot.config import IntakeToken
from bot.credentials import digest
from bot.domain import errors
from bot.domain.model import CaseStatus
from bot.domain.people import Actor
from bot.domain.phone import redact_phones
from bot.http.intake import IntakeInvalid, team_code_of, to_command, validate_intake
from bot.http.openapi import openapi_document
from bot.http.ops import install_ops_routes
from bot.http.views import case_json
from bot.services.case_reads import (
    CaseFile,
    case_file,
    evidence_photo,
    find_cases,
    team_exists,
)
from bot.services.evidence import MediaError
from bot.services.permissions import require_reach
from bot.services.ports import CaseQuery
from bot.webapp.api import install_board
from storage.engine import driver_message
from storage.evidence_store import MediaFiles

log = logging.getLogger(__name__)

#: The application's parts, for every handler (webhooks included).
CONTAINER: Final = web.AppKey("container", Container)

#: Largest intake body accepted; enforced while reading.
MAX_BODY: Final = 64 * 1024
#: Longest a body may take to arrive, so a client that promises more than it sends
#: (or sends a byte a minute) does not hold a connection for ever.
BODY_SECONDS = 30.0
DEFAULT_LIMIT: Final = 200
MAX_LIMIT: Final = 1000
NO_TEAM: Final = "No team with this code."

RouteInstaller = Callable[[web.Application], None]
ApiHandler = Callable[[web.Request, Actor], Awaitable[web.StreamResponse]]

_dumps = functools.partial(json.dumps, ensure_ascii=False)


class Credentials:
    """The intake tokens, kept as digests; names are recorded as the actor."""

    def __init__(self, tokens: Iterable[IntakeToken]) -> None:
        self._digests = [(digest(token.secret), token) for token in tokens]

    def actor(self, authorization: str | None) -> Actor | None:
        """The system actor for a valid ``Bearer`` header (limited to the token's teams,
        if it has any), else None."""
        token = _bearer(authorization)
        if token is None or not self._digests:
            return None
        presented = digest(token)
        found: IntakeToken | None = None
        for stored, known in self._digests:  # no early exit: every secret is compared
            if hmac.compare_digest(presented, stored):
                found = known
        if found is None:
            return None
        return Actor(uid=f"api:{found.name}", name=found.name, is_system=True, teams=found.teams)


_CREDENTIALS: Final = web.AppKey("intake_credentials", Credentials)


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


# ---------------------------------------------------------------- responses


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return _json({"error": message, **extra}, status)


def _invalid(message: str, fields: Mapping[str, str]) -> web.Response:
    return _error(422, message, fields=dict(sorted(fields.items())))


def _unauthorized() -> web.Response:
    resp = _error(401, "unauthorized")
    resp.headers[hdrs.WWW_AUTHENTICATE] = "Bearer"
    return resp


def _tz(container: Container) -> tzinfo:
    return container.policy.calendar.tz


def api(handler: ApiHandler) -> Handler:
    """Refuse the request unless it carries a valid intake token, and answer the refusals
    every API call shares: outside a scoped token's teams (403), an external_ref its
    integration used for another team (409)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        actor = request.app[_CREDENTIALS].actor(request.headers.get(hdrs.AUTHORIZATION))
        if actor is None:
            log.info("refused %s %s: no or wrong token", request.method, request.path)
            return _unauthorized()
        try:
            return await handler(request, actor)
        except errors.TeamNotAllowed as e:
            log.info("refused %s %s (%s): team %s", request.method, request.path, actor.name, e)
            return _error(403, f"This token may not see or file cases of team {e.team_code}.")
        except errors.ExternalRefTaken as e:
            log.info("intake refused (%s): external_ref of a case of team %s", actor.name, e)
            return _error(
                409,
                "This external_ref already names a case of another team, filed with this "
                "token; send a new external_ref, or the team of that case.",
            )

    return wrapped


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON for aiohttp's own errors (404, 405) and for crashes, logged without PII."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        resp = _error(e.status, (e.reason or "error").lower())
        if hdrs.ALLOW in e.headers:
            resp.headers[hdrs.ALLOW] = e.headers[hdrs.ALLOW]
        return resp
    except Exception as e:
        stack = "".join(traceback.format_tb(e.__traceback__))
        log.error(
            "%s %s failed: %s: %s\n%s",
            request.method,
            request.path,
            type(e).__name__,
            _describe(e),
            stack,
        )
        return _error(500, "internal error")


def _describe(e: Exception) -> str:
    """The error's message without personal data: SQL errors quote their
    parameters (names, addresses), so only the driver's own message is kept."""
    return redact_phones(driver_message(e) or str(e))


# ---------------------------------------------------------------- body


class BodyError(Exception):
    """A body that cannot be used, and how to answer it: `status`, and the message."""

    status = 400
    #: Close the connection after answering: the rest of the body is not worth reading.
    close = False


class BodyTooLarge(BodyError):
    status = 413
    close = True

    def __init__(self, limit: int = MAX_BODY) -> None:
        super().__init__(f"The body is larger than {limit // 1024} KiB.")


class BodyIncomplete(BodyError):
    """The client stopped sending before its Content-Length (or went away)."""

    close = True

    def __init__(self) -> None:
        super().__init__("The body ended before its Content-Length.")


class BodyTimeout(BodyError):
    status = 408
    close = True

    def __init__(self) -> None:
        super().__init__(f"The body did not arrive within {BODY_SECONDS:.0f} seconds.")


class BadJson(BodyError):
    def __init__(self, message: str = "The body is not valid JSON.") -> None:
        super().__init__(message)


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The body, or BodyTooLarge as soon as it passes `limit` (Content-Length may lie);
    BodyIncomplete when it stops short of its Content-Length, BodyTimeout when it takes
    longer than BODY_SECONDS (a client trickling it, or promising more than it sends)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit)
    buf = bytearray()
    try:
        async with asyncio.timeout(BODY_SECONDS):
            while True:
                chunk = await request.content.read(limit + 1 - len(buf))
                if not chunk:
                    return bytes(buf)
                buf += chunk
                if len(buf) > limit:
                    raise BodyTooLarge(limit)
    except TimeoutError:
        raise BodyTimeout from None
    except (ConnectionResetError, HttpProcessingError):
        raise BodyIncomplete from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise BadJson("The JSON body has a duplicate key.")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise BadJson


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys (the later one would win silently), no NaN.

    Nesting too deep for the parser (30,000 brackets fit in 64 KiB) is bad JSON too."""
    try:
        text = body.decode("utf-8-sig")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadJson from None


async def read_json(request: web.Request, limit: int = MAX_BODY) -> Any:
    """The body parsed as strict JSON; a BodyError says what is wrong with it."""
    return parse_json(await read_body(request, limit))


def body_refused(e: BodyError) -> web.Response:
    """The answer to a body that cannot be used."""
    resp = _error(e.status, str(e))
    if e.close:
        resp.force_close()
    return resp


# ---------------------------------------------------------------- API


@api
async def create_case(request: web.Request, actor: Actor) -> web.StreamResponse:
    container = request.app[CONTAINER]
    try:
        data = await read_json(request)
    except BodyError as e:
        return body_refused(e)
    if not isinstance(data, dict):
        return _error(400, "The body must be a JSON object.")
    code = team_code_of(data)
    if code is not None:  # before any look-up: an unknown team is refused alike
        require_reach(actor, code)

    try:
        req = validate_intake(data, now=container.clock.now())
    except IntakeInvalid as e:
        # All that is wrong, named at once: the team too. When the rest is right the
        # intake itself refuses an unknown team, in its one unit of work.
        fields = e.fields
        if (
            "team" not in fields
            and code is not None
            and not await team_exists(container.uow(), code)
        ):
            fields["team"] = NO_TEAM
        return _intake_refused(actor, fields)

    cmd = to_command(req, actor)
    try:
        case, created = await container.service.intake(cmd, container.uow())
    except errors.UnknownTeam:
        return _intake_refused(actor, {"team": NO_TEAM})
    log.info(
        "intake %s by %s: %s %s (external_ref %s)",
        "created" if created else "repeated",
        actor.name,
        case.ref,
        case.kind.value,
        redact_phones(case.external_ref or "-"),
        extra={"case_ref": case.ref},
    )
    if created and not cmd.evidence:
        # All there is of a new case was written by this intake, history included: answered
        # from that, not read back in a transaction of its own.
        found: CaseFile | None = CaseFile(case, list(case.history), [])
    else:  # a retry: the case may have moved on since it was filed
        found = await case_file(container.uow(), case.ref, actor)
    if found is None:  # pragma: no cover - the case was just stored or found
        return _error(500, "internal error")
    return _json(_shown(container, found), 201 if created else 200)


def _intake_refused(actor: Actor, fields: dict[str, str]) -> web.Response:
    log.info("intake refused (%s): bad %s", actor.name, ", ".join(sorted(fields)))
    return _invalid("invalid case", fields)


def _shown(container: Container, found: CaseFile) -> dict[str, Any]:
    return case_json(found.case, _tz(container), found.history, found.evidence)


async def _case_with_history(container: Container, ref: str, actor: Actor) -> dict[str, Any] | None:
    found = await case_file(container.uow(), ref, actor)
    return _shown(container, found) if found is not None else None


@api
async def get_case(request: web.Request, actor: Actor) -> web.StreamResponse:
    container = request.app[CONTAINER]
    shown = await _case_with_history(container, request.match_info["ref"], actor)
    if shown is None:
        return _error(404, "not found")
    return _json(shown)


@api
async def get_evidence(request: web.Request, actor: Actor) -> web.StreamResponse:
    """A photo sent as evidence, to a caller holding an intake token."""
    container = request.app[CONTAINER]
    raw_id = request.match_info["evidence_id"]
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18:
        return _error(404, "not found")
    photo = await evidence_photo(container.uow(), request.match_info["ref"], int(raw_id), actor)
    if photo is None:
        return _error(404, "not found")
    try:
        path = MediaFiles(container.settings.media_dir).resolve(photo.path)
    except MediaError:
        return _error(404, "not found")
    if not path.is_file():  # purged, or the disk lost it
        return _error(404, "not found")
    name = f"{photo.ref}-{photo.evidence_id}{path.suffix}"
    return web.FileResponse(
        path,
        headers={
            hdrs.CONTENT_TYPE: photo.mime or "application/octet-stream",
            hdrs.CONTENT_DISPOSITION: f'inline; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            hdrs.CACHE_CONTROL: "private, max-age=3600",
        },
    )


_LIST_PARAMS = frozenset({"status", "team", "overdue", "limit"})


@api
async def list_cases(request: web.Request, actor: Actor) -> web.StreamResponse:
    container = request.app[CONTAINER]
    q = request.query
    fields: dict[str, str] = {}
    for name in q:
        if name not in _LIST_PARAMS:
            fields.setdefault(name, "Unknown parameter.")

    statuses: list[CaseStatus] = []
    for raw in q.getall("status", []):
        for part in filter(None, (p.strip().lower() for p in raw.split(","))):
            try:
                statuses.append(CaseStatus(part))
            except ValueError:
                known = ", ".join(s.value for s in CaseStatus)
                fields["status"] = f"Must be one of {known}."

    overdue = q.get("overdue", "").strip().lower()
    if overdue not in ("", "true", "false"):
        fields["overdue"] = "Must be true or false."

    limit = DEFAULT_LIMIT
    raw_limit = q.get("limit", "").strip()
    if raw_limit:
        if raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            fields["limit"] = f"Must be a whole number from 1 to {MAX_LIMIT}."

    team = q.get("team", "").strip().upper() or None
    if team is not None:  # before any look-up: an unknown team is refused alike
        require_reach(actor, team)
    now = container.clock.now()
    query = CaseQuery(
        team_code=team,
        team_codes=actor.teams,  # a scoped token lists its own teams' cases only
        statuses=tuple(dict.fromkeys(statuses)),
        late_at=now if overdue == "true" else None,
        limit=limit,
    )
    if team is not None and not await team_exists(container.uow(), team):
        fields["team"] = NO_TEAM
    if fields:
        return _invalid("invalid query", fields)
    cases = await find_cases(
        container.uow(), query, container.policy.workflow, late_only=overdue == "true", now=now
    )
    tz = _tz(container)
    return _json([case_json(c, tz) for c in cases])


# ---------------------------------------------------------------- ops


async def openapi(request: web.Request) -> web.StreamResponse:
    """The API's description; public, like the API's existence itself."""
    return _json(
        openapi_document(max_body=MAX_BODY, max_limit=MAX_LIMIT, body_seconds=BODY_SECONDS)
    )


# ---------------------------------------------------------------- app


def build_http_app(
    container: Container, *, installers: Iterable[RouteInstaller] = ()
) -> web.Application:
    """The application with the intake API, /healthz and /metrics, plus `installers`' routes."""
    app = web.Application(middlewares=[_errors])
    app[CONTAINER] = container
    app[_CREDENTIALS] = Credentials(container.settings.intake_credentials)
    app.router.add_post("/api/v1/cases", create_case)
    app.router.add_get("/api/v1/cases", list_cases)
    app.router.add_get("/api/v1/cases/{ref}", get_case)
    app.router.add_get("/api/v1/cases/{ref}/evidence/{evidence_id}", get_evidence)
    app.router.add_get("/api/v1/openapi.json", openapi)
    install_ops_routes(app, container)
    install_board(app, container)
    for install in installers:
        install(app)
    return app


class _JsonErrorPages(web.RequestHandler):
    """One connection. What aiohttp cannot parse (a bad request line, a Content-Length
    that is not a number or is given twice, the tail of a body longer than its
    Content-Length) it answers itself, before any middleware, with a text page that
    quotes the bytes; here that answer is our JSON error, logged in one line without
    the bytes (they may hold a customer's phone number)."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: too late for another answer
            raise ConnectionError("an answer was started already")
        what = type(exc).__name__ if exc is not None else str(status)
        if status >= 500:
            log.error("a request from %s failed before its handler: %s", request.remote, what)
            resp = _error(status, "internal error")
        else:
            log.info("refused a request from %s that is not HTTP: %s", request.remote, what)
            resp = _error(status, HTTPStatus(status).phrase.lower())
        resp.force_close()
        return resp


class _JsonErrorServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        connection = super().__call__()
        # aiohttp has no setting for the class of its connections; ours only adds a method.
        connection.__class__ = _JsonErrorPages
        return connection


class _Runner(web.AppRunner):
    """aiohttp's runner, with connections that answer unreadable requests in JSON."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # the same object; only __call__ differs
        return server


async def start_http(
    container: Container,
    host: str,
    port: int,
    *,
    installers: Iterable[RouteInstaller] = (),
    shutdown_timeout: float = 60.0,
) -> web.AppRunner:
    """Serve on host:port until `stop_http`; port 0 picks a free one (see runner.addresses).

    On cleanup, requests already being handled get `shutdown_timeout` seconds to finish.
    """
    runner = _Runner(
        build_http_app(container, installers=installers), shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("HTTP server listening on %s:%s", host, port)
    return runner


async def stop_http(runner: web.AppRunner) -> None:
    """Stop accepting, let running requests finish, close the sockets."""
    await runner.cleanup()
