"""What every route of the board shares: who is asking (a session's `Visitor`), the
server's parts, and its answers: JSON, errors, the services' refusals as HTTP statuses.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from bot.config import Settings
from bot.domain import errors
from bot.domain.amounts import AmountError
from bot.domain.clock import Clock
from bot.domain.model import Action, Source, Workflow
from bot.domain.people import Actor
from bot.i18n import Lang, Translator
from bot.services.board_links import BoardLinks
from bot.services.cases import CaseService
from bot.services.commands import (
    CaseCommand,
)
from bot.services.evidence import EvidenceService, MediaError, MediaStore
from bot.services.finding import (
    TeamBoard,
    WorkerLoad,
    allowed_actions,
    case_sheet,
    team_board,
)
from bot.services.people import actor_of_account
from bot.services.permissions import visible_teams
from bot.services.ports import ConcurrentUpdate, UnitOfWork
from bot.sla.overdue import late_since
from bot.sla.policy import Policy
from bot.webapp.sessions import SessionSigner, bearer_session, session_key
from bot.webapp.views import BoardViews
from handlers.render import Renderer

log = logging.getLogger(__name__)

#: Leaflet, as `make` installs it from the npm registry (package.json at the project's root).
LEAFLET: Final = Path(__file__).resolve().parents[2] / "node_modules" / "leaflet" / "dist"
MAX_JSON: Final = 16 * 1024

CommandT = TypeVar("CommandT", bound=CaseCommand)


class Refusals(Protocol):
    def words(self, lang: Lang, e: BaseException) -> str | None: ...


class Routing(Protocol):
    @property
    def replies(self) -> Refusals: ...


class AppParts(Protocol):
    """What the board takes from the application (the bootstrap's container has it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def tr(self) -> Translator: ...
    @property
    def renderer(self) -> Renderer: ...
    @property
    def service(self) -> CaseService: ...
    @property
    def dispatcher(self) -> Routing: ...
    @property
    def media(self) -> MediaStore: ...
    def uow(self) -> UnitOfWork: ...


@dataclass(frozen=True)
class Visitor:
    """The person behind a session, as the services see them; a `Speaker` for steps."""

    actor: Actor
    lang: Lang

    def command(self, kind: type[CommandT], ref: str, **values: Any) -> CommandT:
        return kind(actor=self.actor, source=Source.WEBAPP, origin=None, ref=ref, **values)


class BoardServer:
    """What the routes share, built once per HTTP application."""

    def __init__(self, container: AppParts, leaflet: Path | None = LEAFLET) -> None:
        settings = container.settings
        self.container = container
        self.links = BoardLinks(container.clock)
        self.views = BoardViews(container.tr, container.renderer)
        self.media = container.media
        self.evidence = EvidenceService(container.clock)
        self.leaflet = leaflet if leaflet is not None and leaflet.is_dir() else None
        try:
            key = session_key(
                settings.webapp_secret, settings.telegram_bot_token, settings.zalo_bot_token
            )
            self.signer: SessionSigner | None = SessionSigner(key)
        except ValueError:
            self.signer = None  # no channel, no secret: nobody can be let in

    @property
    def workflow(self) -> Workflow:
        return self.container.policy.workflow

    def words(self, lang: Lang, e: Exception) -> str | None:
        return self.container.dispatcher.replies.words(lang, e)

    async def actor(self, account: str, lang: str | None) -> Actor | None:
        return await actor_of_account(
            account, self.container.uow(), self.container.settings.admin_set, lang
        )

    async def teams_of(self, actor: Actor) -> list[str]:
        seen = visible_teams(actor)
        if seen is not None:
            return sorted(seen)
        async with self.container.uow() as uow:
            return [t.code for t in await uow.teams.all()]

    async def boards(self, actor: Actor, teams: Sequence[str]) -> list[TeamBoard]:
        now = self.container.clock.now()
        return [
            await team_board(self.container.uow(), actor, code, now, self.workflow)
            for code in teams
        ]


BOARD: Final = web.AppKey("board", BoardServer)

VisitorHandler = Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------- answers


def json_answer(body: Any, status: int = 200) -> web.Response:
    resp = web.json_response(body, status=status, dumps=_dumps)
    resp.headers[hdrs.CACHE_CONTROL] = "no-store"
    return resp


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def error_answer(status: int, code: str, message: str | None = None, **extra: Any) -> web.Response:
    return json_answer({"error": code, "message": message or code, **extra}, status)


def _status_of(e: Exception) -> tuple[int, str]:
    """The HTTP status of a refusal the chat would word."""
    match e:
        case errors.CaseNotFound():
            return 404, "not_found"
        case (
            errors.NotMember()
            | errors.Forbidden()
            | errors.NotAssignee()
            | errors.TeamNotAllowed()
            | errors.AdminOnly()
        ):
            return 403, "forbidden"
        case AmountError() | errors.BadRating() | errors.UnknownMember() | errors.NotInTeam():
            return 422, "invalid"
        case MediaError():
            return 422, "invalid"
    return 409, "refused"


def authed(handler: VisitorHandler) -> Handler:
    """Let in only a live session of someone who is (still) a member or an admin; turn
    the services' refusals into answers worded as the chat words them."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        board = request.app[BOARD]
        token = bearer_session(request.headers.get(hdrs.AUTHORIZATION))
        now = board.container.clock.now()
        session = board.signer.read(token, now) if token and board.signer else None
        if session is None:
            return error_answer(401, "unauthorized")
        actor = await board.actor(session.account, session.lang)
        if actor is None:  # taken off the team since
            return error_answer(401, "unauthorized")
        visitor = Visitor(actor, board.container.tr.lang(actor.lang))
        try:
            return await handler(request, visitor)
        except (errors.DomainError, ConcurrentUpdate, MediaError) as e:
            status, code = _status_of(e)
            words = board.words(visitor.lang, e) or code
            log.info("board: %s %s refused: %s", request.method, request.path, code)
            return error_answer(status, code, words)

    return wrapped


async def json_body(request: web.Request) -> dict[str, Any] | None:
    """The body as a JSON object (none: an empty one); None when it is not one."""
    try:
        body = await request.json(loads=_strict_loads) if request.can_read_body else {}
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _strict_loads(text: str) -> Any:
    if len(text) > MAX_JSON:
        raise ValueError("too long")
    return json.loads(text)


async def sheet(board: BoardServer, v: Visitor, ref: str) -> dict[str, Any]:
    container = board.container
    sheet = await case_sheet(container.uow(), v.actor, ref)
    case = sheet.case
    now = container.clock.now()
    late = late_since(case, now, board.workflow) is not None
    actions = allowed_actions(v.actor, case, board.workflow)
    pickable: tuple[WorkerLoad, ...] = ()
    if Action.ASSIGN in actions:
        (team,) = await board.boards(v.actor, [case.team_code])
        pickable = tuple(
            w for w in team.workers if w.member.active and w.member.team_code == case.team_code
        )
    return board.views.sheet(v.lang, v.actor, sheet, late, actions, pickable)
