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

import logging
import mimetypes
from pathlib import Path
from typing import Any, Final

from aiohttp import hdrs, web

from bot.domain import errors
from bot.domain.evidence import EvidenceKind
from bot.domain.model import CaseKind, Role
from bot.reports.formats import report_json
from bot.reports.period import Period
from bot.reports.service import ReportDeps, authorize_report, build
from bot.services.finding import (
    BOARD_LIMIT,
    allowed_actions,
    find,
    mine,
    open_places,
    read_search,
)
from bot.sla.overdue import late_since
from bot.webapp.acting import act, amount, step
from bot.webapp.base import (
    BOARD,
    LEAFLET,
    AppParts,
    BoardServer,
    Visitor,
    authed,
    error_answer,
    json_answer,
    json_body,
    sheet,
)
from bot.webapp.launch import LaunchRefused, verify_launch
from bot.webapp.views import BoardViews
from handlers.steps import BY_ACTION

log = logging.getLogger(__name__)

STATIC: Final = Path(__file__).resolve().parent / "static"
#: OpenStreetMap's tiles, which the page's map shows where it can reach them.
TILES: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
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
    return json_answer({"lang": lang.value, "strings": shown})


# --------------------------------------------------------------------------- getting in


async def open_session(request: web.Request) -> web.StreamResponse:
    board = request.app[BOARD]
    container = board.container
    if board.signer is None:
        return error_answer(503, "not_configured")
    body = await json_body(request)
    if body is None:
        return error_answer(400, "bad_json")
    now = container.clock.now()
    init_data, link = body.get("init_data"), body.get("link")
    lang: str | None = None
    if isinstance(init_data, str) and init_data:
        token = container.settings.telegram_bot_token
        if token is None:
            return error_answer(401, "unauthorized")
        try:
            launch = verify_launch(init_data, token, now)
        except LaunchRefused as e:
            log.info("board: launch data refused (%s)", e.problem.value)
            return error_answer(401, "unauthorized", reason=e.problem.value)
        account, lang = f"telegram:{launch.id}", launch.language_code
    elif isinstance(link, str) and link:
        found = await board.links.redeem(link, container.uow())
        if found is None:
            log.info("board: a link was refused (unknown, used or expired)")
            return error_answer(401, "unauthorized", reason="link")
        account = found
    else:
        return error_answer(400, "no_credentials")
    actor = await board.actor(account, lang)
    if actor is None:
        text = container.tr.t(lang, "app.not_member")
        return error_answer(403, "not_member", text)
    token, session = board.signer.issue(account, now, lang)
    chosen = container.tr.lang(actor.lang)
    return json_answer(
        {
            "token": token,
            "expires_at": session.expires_at.isoformat(),
            "me": BoardViews.me(actor, actor.member, chosen),
        }
    )


@authed
async def me(request: web.Request, v: Visitor) -> web.StreamResponse:
    board = request.app[BOARD]
    return json_answer(
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
    return json_answer(
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
    return json_answer(await sheet(request.app[BOARD], v, request.match_info["ref"]))


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
    return json_answer(
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
    return json_answer(shown)


@authed
async def my_cases(request: web.Request, v: Visitor) -> web.StreamResponse:
    """ "My cases": each with the step it waits for and that step's questions."""
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
    return json_answer({"cases": shown})


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
