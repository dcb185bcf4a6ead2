"""The board's routes: the page at `/app/`, its files, and its JSON API under `/app/api/`.

Getting in: `POST /app/api/session` with Telegram's launch data (checked by the Web App
rule, `bot.webapp.launch`) or a one-time link's token (`bot.services.board_links`)
answers a session token; every other API call carries it as `Authorization: Session
…` (`bot.webapp.sessions`). Launch data that is forged, too old, or another bot's is a
401; a person Telegram vouches for who is no member gets 403 and no session.

Everything after that goes through the services the chat uses, with the person as the
actor: what they see is what `visible_teams` lets them see in chat, each action is the
same `CaseService` call a command makes (so the group's card changes as it would), a
refusal is worded as the chat words it. Decisions where the contract is silent:

- Errors are JSON `{"error": code, "message": words}`: 401 no or bad session, 403 not
  allowed, 404 no such case, 409 the case's state refuses it, 422 bad input (`fields`).
- No cookies: see `bot.webapp.sessions` for why a header token, and why that makes
  cross-site requests (CSRF) powerless. No CORS header is ever sent.
- The page may be framed by Telegram's web client only (`frame-ancestors`); scripts
  come from us or telegram.org (its Mini App script, loaded only inside Telegram).
"""

from __future__ import annotations

import functools
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.typedefs import Handler

from bot.config import Settings
from bot.domain import errors
from bot.domain.amounts import AmountError, format_vnd, parse_vnd
from bot.domain.clock import Clock
from bot.domain.evidence import EvidenceKind, NewEvidence
from bot.domain.model import Action, CaseKind, Role, Source, Workflow
from bot.domain.people import Actor
from bot.domain.steps import NoteRule
from bot.i18n import Lang, Translator
from bot.reports.formats import report_json
from bot.reports.period import Period
from bot.reports.service import ReportDeps, authorize_report, build
from bot.services.board_links import BoardLinks
from bot.services.cases import CaseService
from bot.services.commands import (
    AssignCase,
    CancelCase,
    CaseCommand,
    ClaimCase,
    HoldCase,
    ResumeCase,
)
from bot.services.evidence import EvidenceService, MediaError, MediaStore
from bot.services.finding import (
    BOARD_LIMIT,
    TeamBoard,
    WorkerLoad,
    allowed_actions,
    case_sheet,
    find,
    mine,
    open_places,
    read_search,
    team_board,
)
from bot.services.people import actor_of_account
from bot.services.permissions import visible_teams
from bot.services.ports import ConcurrentUpdate, UnitOfWork
from bot.sla.overdue import late_since
from bot.sla.policy import Policy
from bot.webapp.launch import LaunchRefused, verify_launch
from bot.webapp.sessions import SessionSigner, bearer_session, session_key
from bot.webapp.views import BoardViews
from handlers.forms.spec import MAX_TEXT, TEXT_LIMITS, FieldKind, FieldName
from handlers.record import StepAnswer, record
from handlers.render import Renderer
from handlers.steps import BY_ACTION

log = logging.getLogger(__name__)

STATIC: Final = Path(__file__).resolve().parent / "static"
#: Leaflet, as `make` installs it from the npm registry (package.json at the project's root).
LEAFLET: Final = Path(__file__).resolve().parents[2] / "node_modules" / "leaflet" / "dist"
#: OpenStreetMap's tiles, which the page's map shows where it can reach them.
TILES: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
MAX_JSON: Final = 16 * 1024
MAX_FIELD: Final = 4 * 1024
MAX_PHOTOS: Final = 6
CSP: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' https://telegram.org",
        "style-src 'self'",
        "img-src 'self' blob: data: https://tile.openstreetmap.org",
        "connect-src 'self'",
        "frame-ancestors 'self' https://web.telegram.org",
        "base-uri 'none'",
        "form-action 'none'",
        "object-src 'none'",
    )
)
#: The catalogue keys the page is given: its own words, and the names of kinds and statuses.
PAGE_KEYS: Final = ("app.", "kind.", "status.", "role.")


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


def _json(body: Any, status: int = 200) -> web.Response:
    resp = web.json_response(body, status=status, dumps=_dumps)
    resp.headers[hdrs.CACHE_CONTROL] = "no-store"
    return resp


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _error(status: int, code: str, message: str | None = None, **extra: Any) -> web.Response:
    return _json({"error": code, "message": message or code, **extra}, status)


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
            return _error(401, "unauthorized")
        actor = await board.actor(session.account, session.lang)
        if actor is None:  # taken off the team since
            return _error(401, "unauthorized")
        visitor = Visitor(actor, board.container.tr.lang(actor.lang))
        try:
            return await handler(request, visitor)
        except (errors.DomainError, ConcurrentUpdate, MediaError) as e:
            status, code = _status_of(e)
            words = board.words(visitor.lang, e) or code
            log.info("board: %s %s refused: %s", request.method, request.path, code)
            return _error(status, code, words)

    return wrapped


# --------------------------------------------------------------------------- the page


async def page(request: web.Request) -> web.StreamResponse:
    resp = web.FileResponse(STATIC / "index.html")
    resp.headers.update(
        {
            hdrs.CONTENT_TYPE: "text/html; charset=utf-8",
            hdrs.CACHE_CONTROL: "no-store",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
    )
    return resp


async def to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/app/")


def _file(root: Path | None, name: str) -> web.StreamResponse:
    """A file under `root`, never outside it; 404 for anything else."""
    if root is None:
        raise web.HTTPNotFound()
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise web.HTTPNotFound()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        kind = "text/javascript"
    return web.FileResponse(
        path,
        headers={
            hdrs.CONTENT_TYPE: kind,
            hdrs.CACHE_CONTROL: "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def static_file(request: web.Request) -> web.StreamResponse:
    return _file(STATIC, request.match_info["name"])


async def leaflet_file(request: web.Request) -> web.StreamResponse:
    return _file(request.app[BOARD].leaflet, request.match_info["name"])


async def strings(request: web.Request) -> web.StreamResponse:
    """The page's words in a language (before anyone is let in: nothing secret)."""
    tr = request.app[BOARD].container.tr
    lang = tr.lang(request.query.get("lang"))
    shown = {k: v for k, v in tr.catalogues[lang].items() if k.startswith(PAGE_KEYS)}
    return _json({"lang": lang.value, "strings": shown})


# --------------------------------------------------------------------------- getting in


async def open_session(request: web.Request) -> web.StreamResponse:
    board = request.app[BOARD]
    container = board.container
    if board.signer is None:
        return _error(503, "not_configured")
    body = await _json_body(request)
    if body is None:
        return _error(400, "bad_json")
    now = container.clock.now()
    init_data, link = body.get("init_data"), body.get("link")
    lang: str | None = None
    if isinstance(init_data, str) and init_data:
        token = container.settings.telegram_bot_token
        if token is None:
            return _error(401, "unauthorized")
        try:
            launch = verify_launch(init_data, token, now)
        except LaunchRefused as e:
            log.info("board: launch data refused (%s)", e.problem.value)
            return _error(401, "unauthorized", reason=e.problem.value)
        account, lang = f"telegram:{launch.id}", launch.language_code
    elif isinstance(link, str) and link:
        found = await board.links.redeem(link, container.uow())
        if found is None:
            log.info("board: a link was refused (unknown, used or expired)")
            return _error(401, "unauthorized", reason="link")
        account = found
    else:
        return _error(400, "no_credentials")
    actor = await board.actor(account, lang)
    if actor is None:
        text = container.tr.t(lang, "app.not_member")
        return _error(403, "not_member", text)
    token, session = board.signer.issue(account, now, lang)
    chosen = container.tr.lang(actor.lang)
    return _json(
        {
            "token": token,
            "expires_at": session.expires_at.isoformat(),
            "me": BoardViews.me(actor, actor.member, chosen),
        }
    )


async def _json_body(request: web.Request) -> dict[str, Any] | None:
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


@authed
async def me(request: web.Request, v: Visitor) -> web.StreamResponse:
    board = request.app[BOARD]
    return _json(
        {
            **BoardViews.me(v.actor, v.actor.member, v.lang),
            "teams": await board.teams_of(v.actor),
            "kpis": v.actor.is_admin or v.actor.has_role(Role.LEAD),
            "map": board.leaflet is not None,
            "tiles": TILES,
        }
    )


# --------------------------------------------------------------------------- the board


@authed
async def board_view(request: web.Request, v: Visitor) -> web.StreamResponse:
    """The board: columns by status, each card a case, filtered as asked."""
    board = request.app[BOARD]
    q = request.query
    teams = await board.teams_of(v.actor)
    team = (q.get("team") or "").strip().upper() or None
    if team is not None and team not in teams:
        raise errors.NotMember(team)
    boards = await board.boards(v.actor, [team] if team else teams)
    cases = [c for b in boards for w in b.workers for c in w.cases]
    cases += [c for b in boards for c in b.unclaimed]
    late = frozenset().union(*(b.late for b in boards)) if boards else frozenset()
    text = (q.get("q") or "").strip()
    search = read_search(text) if text else None
    if search is not None:
        found = await find(
            board.container.uow(),
            v.actor,
            search,
            team=team,
            limit=BOARD_LIMIT,
            active_only=True,
        )
        refs = {c.ref for c in found.cases}
        cases = [c for c in cases if c.ref in refs]
    worker = q.get("worker") or None
    if worker == "none":
        cases = [c for c in cases if c.assignee is None]
    elif worker is not None:
        cases = [c for c in cases if c.assignee == worker]
    kind = q.get("kind") or None
    if kind is not None:
        cases = [c for c in cases if c.kind.value == kind]
    if q.get("overdue") in ("1", "true"):
        cases = [c for c in cases if c.ref in late]
    names = {w.member.uid: w.member.name for b in boards for w in b.workers}
    lang = v.lang
    tr = board.container.tr
    return _json(
        {
            "teams": teams,
            "team": team,
            "total": len(cases),
            "late": sum(1 for c in cases if c.ref in late),
            "columns": board.views.columns(lang, cases, names, late),
            "workers": board.views.workers(boards),
            "kinds": [{"kind": k.value, "label": tr.t(lang, f"kind.{k.value}")} for k in CaseKind],
        }
    )


@authed
async def case_view(request: web.Request, v: Visitor) -> web.StreamResponse:
    return _json(await _sheet(request.app[BOARD], v, request.match_info["ref"]))


async def _sheet(board: BoardServer, v: Visitor, ref: str) -> dict[str, Any]:
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


@authed
async def photo(request: web.Request, v: Visitor) -> web.StreamResponse:
    """A photo of a case, to whoever may see the case (as `/case` lists it in chat)."""
    board = request.app[BOARD]
    raw = request.match_info["evidence_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise web.HTTPNotFound()
    _case, items = await board.evidence.of_case(
        request.match_info["ref"], v.actor, board.container.uow()
    )
    item = next((e for e in items if e.id == int(raw)), None)
    if item is None or item.kind is not EvidenceKind.PHOTO or item.path is None:
        raise web.HTTPNotFound()
    path = board.media.resolve(item.path)
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={
            hdrs.CONTENT_TYPE: item.mime or "application/octet-stream",
            hdrs.CACHE_CONTROL: "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --------------------------------------------------------------------------- acting


@authed
async def act(request: web.Request, v: Visitor) -> web.StreamResponse:
    """claim, assign, hold, resume, cancel: the same service calls as the commands."""
    board = request.app[BOARD]
    service = board.container.service
    ref = request.match_info["ref"]
    body = await _json_body(request)
    if body is None:
        return _error(400, "bad_json")
    action = request.match_info["action"]
    uow = board.container.uow()
    reason = str(body.get("reason") or "").strip()[:MAX_TEXT]
    if action == Action.CLAIM.value:
        await service.claim(v.command(ClaimCase, ref), uow)
    elif action == Action.ASSIGN.value:
        member = str(body.get("member") or "")
        if not member:
            return _field_error(v, board, "member")
        await service.assign(v.command(AssignCase, ref, member_uid=member), uow)
    elif action in (Action.HOLD.value, Action.CANCEL.value) and not reason:
        return _field_error(v, board, "reason")
    elif action == Action.HOLD.value:
        await service.hold(v.command(HoldCase, ref, reason=reason), uow)
    elif action == Action.CANCEL.value:
        await service.cancel(v.command(CancelCase, ref, reason=reason), uow)
    elif action == Action.RESUME.value:
        await service.resume(v.command(ResumeCase, ref), uow)
    else:
        raise web.HTTPNotFound()
    return _json(await _sheet(board, v, ref))


def _field_error(v: Visitor, board: BoardServer, name: str) -> web.Response:
    words = board.container.tr.t(v.lang, "app.required")
    return _error(422, "invalid", words, fields={name: words})


@authed
async def step(request: web.Request, v: Visitor) -> web.StreamResponse:
    """A step with its form's answers (multipart: words, amounts, photos, a place),
    recorded by the call the chat's form makes."""
    board = request.app[BOARD]
    ref = request.match_info["ref"]
    try:
        action = Action(request.match_info["action"])
    except ValueError:
        raise web.HTTPNotFound() from None
    row = BY_ACTION.get(action)
    if row is None or row.form is None:
        raise web.HTTPNotFound()
    texts, photos = await _read_form(request, board.media.max_bytes)
    answer, problems = _answer(row.form, texts, v, board)
    if row.step.note is NoteRule.REQUIRED and not answer.note:
        problems[FieldName.NOTE.value] = board.container.tr.t(v.lang, "app.required")
    if problems:
        return _error(422, "invalid", next(iter(problems.values())), fields=problems)
    saved: list[NewEvidence] = []
    try:
        now = board.container.clock.now()
        for data in photos:
            path, mime = await board.media.save_final(data, now)
            saved.append(NewEvidence.photo(path, mime, len(data)))
        if answer.location is not None:
            saved.append(NewEvidence.location(*answer.location))
        given = StepAnswer(
            note=answer.note,
            customer_cost=answer.customer_cost,
            utility_cost=answer.utility_cost,
            serial=answer.serial,
            reading=answer.reading,
            evidence=tuple(saved),
        )
        await record(board.container.service, v, action, ref, given, board.container.uow())
    except BaseException:
        for item in saved:
            if item.path is not None:
                await board.media.remove(item.path)
        raise
    return _json(await _sheet(board, v, ref))


@dataclass
class _Answer:
    note: str | None = None
    customer_cost: int = 0
    utility_cost: int = 0
    serial: str = ""
    reading: str | None = None
    location: tuple[float, float] | None = None


def _answer(
    form: Sequence[Any], texts: dict[str, str], v: Visitor, board: BoardServer
) -> tuple[_Answer, dict[str, str]]:
    """The form's answers read as the chat's form reads them; problems by field."""
    t = board.container.tr.t
    answer = _Answer()
    problems: dict[str, str] = {}
    for spec in form:
        name = spec.name
        raw = texts.get(name.value, "").strip()
        if spec.kind is FieldKind.PHOTOS:
            continue
        if spec.kind is FieldKind.LOCATION:
            try:
                answer.location = _place(texts.get("latitude", ""), texts.get("longitude", ""))
            except ValueError:
                problems[name.value] = t(v.lang, "app.bad_location")
            continue
        if not raw:
            if not spec.optional:
                problems[name.value] = t(v.lang, "app.required")
            continue
        if len(raw) > TEXT_LIMITS.get(name, MAX_TEXT):
            problems[name.value] = t(v.lang, "app.too_long")
            continue
        if spec.kind is FieldKind.AMOUNT:
            try:
                setattr(answer, name.value, parse_vnd(raw))
            except AmountError:
                problems[name.value] = t(v.lang, "err.bad_amount", text=raw[:40])
            continue
        setattr(answer, name.value, raw)
    return answer, problems


def _place(lat_text: str, lon_text: str) -> tuple[float, float] | None:
    """(lat, lon) from the browser; None when not given; ValueError when not a place."""
    if not lat_text.strip() and not lon_text.strip():
        return None
    lat, lon = float(lat_text), float(lon_text)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("not a place on Earth")
    return lat, lon


async def _read_form(request: web.Request, max_photo: int) -> tuple[dict[str, str], list[bytes]]:
    """Text fields and photos of a multipart form, each within its limit."""
    texts: dict[str, str] = {}
    photos: list[bytes] = []
    if request.content_type == "application/x-www-form-urlencoded":
        posted = await request.post()  # aiohttp's own size limit (1 MiB) holds here
        return {k: v for k, v in posted.items() if isinstance(v, str)}, photos
    if not request.content_type.startswith("multipart/"):
        return texts, photos
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "photos" and part.filename:
            if len(photos) >= MAX_PHOTOS:
                raise MediaError("too many photos")
            data = await _bounded(part, max_photo)
            if data:
                photos.append(data)
        elif part.name:
            texts[part.name] = (await _bounded(part, MAX_FIELD)).decode("utf-8", "replace")
    return texts, photos


async def _bounded(part: BodyPartReader, limit: int) -> bytes:
    buf = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        buf += chunk
        if len(buf) > limit:
            raise MediaError(f"a part over {limit} bytes")
    return bytes(buf)


@authed
async def amount(request: web.Request, v: Visitor) -> web.StreamResponse:
    """What an amount typed in a form is read as, before it is sent."""
    text = request.query.get("text", "")[:64]
    value = parse_vnd(text)
    return _json({"value": value, "text": format_vnd(value)})


# --------------------------------------------------------------------------- map, KPIs, mine


@authed
async def places(request: web.Request, v: Visitor) -> web.StreamResponse:
    board = request.app[BOARD]
    team = (request.query.get("team") or "").strip().upper() or None
    found = await open_places(board.container.uow(), v.actor, team)
    now = board.container.clock.now()
    late = frozenset(
        c.ref
        for c in (*(c for c, _ in found.located), *found.unlocated)
        if late_since(c, now, board.workflow) is not None
    )
    views = board.views
    return _json(
        {
            "tiles": TILES,
            "located": [
                {**views.card(v.lang, c, {}, late), "lat": e.latitude, "lon": e.longitude}
                for c, e in found.located
            ],
            "unlocated": [views.card(v.lang, c, {}, late) for c in found.unlocated],
        }
    )


@authed
async def kpis(request: web.Request, v: Visitor) -> web.StreamResponse:
    """This week's and this month's figures per worker: `/report`'s own numbers."""
    board = request.app[BOARD]
    container = board.container
    asked = (request.query.get("team") or "").strip().upper() or None
    member = v.actor.member
    team = asked or (member.team_code if member is not None else None)
    authorize_report(v.actor, team)
    now = container.clock.now()
    today = now.astimezone(container.policy.calendar.tz).date()
    deps = ReportDeps.of(container)
    shown: dict[str, Any] = {"team": team}
    for word in ("week", "month"):
        period = Period.from_words(word, today)
        data = report_json(await build(deps, period, team, now))
        shown[word] = {
            "from": data["from"],
            "to": data["to"],
            "label": container.tr.t(v.lang, f"app.kpi.{word}"),
            "received": data["received"],
            "completed": data["completed"],
            "on_time_rate": data["on_time_rate"],
            "workers": data["by_worker"],
        }
    return _json(shown)


@authed
async def my_cases(request: web.Request, v: Visitor) -> web.StreamResponse:
    """"My cases": each with the step it waits for and that step's questions."""
    board = request.app[BOARD]
    cases = await mine(board.container.uow(), v.actor)
    now = board.container.clock.now()
    late = frozenset(c.ref for c in cases if late_since(c, now, board.workflow) is not None)
    shown = []
    for case in cases:
        card = board.views.card(v.lang, case, {v.actor.uid: v.actor.name}, late)
        steps = [
            board.views.action(v.lang, case, a)
            for a in allowed_actions(v.actor, case, board.workflow)
            if a in BY_ACTION
        ]
        shown.append({**card, "steps": steps})
    return _json({"cases": shown})


# --------------------------------------------------------------------------- routes


def install_board(app: web.Application, container: AppParts) -> None:
    """The board's routes, on the bot's own HTTP server."""
    app[BOARD] = BoardServer(container, container.settings.webapp_leaflet_dir or LEAFLET)
    router = app.router
    router.add_get("/app", to_page)
    router.add_get("/app/", page)
    router.add_get("/app/static/{name}", static_file)
    router.add_get("/app/vendor/leaflet/{name:.+}", leaflet_file)
    router.add_get("/app/api/strings", strings)
    router.add_post("/app/api/session", open_session)
    router.add_get("/app/api/me", me)
    router.add_get("/app/api/board", board_view)
    router.add_get("/app/api/map", places)
    router.add_get("/app/api/kpis", kpis)
    router.add_get("/app/api/mine", my_cases)
    router.add_get("/app/api/amount", amount)
    router.add_get("/app/api/cases/{ref}", case_view)
    router.add_get("/app/api/cases/{ref}/photos/{evidence_id}", photo)
    router.add_post("/app/api/cases/{ref}/steps/{action}", step)
    router.add_post("/app/api/cases/{ref}/{action}", act)
