"""The board's actions: a lead's claim, assign, hold, resume and cancel, and a worker's
step with its form (words, amounts, photos, a place). Each is the service call the chat
makes, so the group's card changes as it would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import BodyPartReader, web

from bot.domain.amounts import AmountError, format_vnd, parse_vnd
from bot.domain.evidence import NewEvidence
from bot.domain.model import Action
from bot.domain.steps import NoteRule
from bot.services.commands import (
    AssignCase,
    CancelCase,
    ClaimCase,
    HoldCase,
    ResumeCase,
)
from bot.services.evidence import MediaError
from bot.webapp.base import (
    BOARD,
    BoardServer,
    Visitor,
    authed,
    error_answer,
    json_answer,
    json_body,
    sheet,
)
from handlers.forms.spec import MAX_TEXT, TEXT_LIMITS, FieldKind, FieldName
from handlers.record import StepAnswer, record
from handlers.steps import BY_ACTION

MAX_FIELD: Final = 4 * 1024
MAX_PHOTOS: Final = 6


# --------------------------------------------------------------------------- acting


@authed
async def act(request: web.Request, v: Visitor) -> web.StreamResponse:
    """claim, assign, hold, resume, cancel: the same service calls as the commands."""
    board = request.app[BOARD]
    service = board.container.service
    ref = request.match_info["ref"]
    body = await json_body(request)
    if body is None:
        return error_answer(400, "bad_json")
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
    return json_answer(await sheet(board, v, ref))


def _field_error(v: Visitor, board: BoardServer, name: str) -> web.Response:
    words = board.container.tr.t(v.lang, "app.required")
    return error_answer(422, "invalid", words, fields={name: words})


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
        return error_answer(422, "invalid", next(iter(problems.values())), fields=problems)
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
    return json_answer(await sheet(board, v, ref))


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
    return json_answer({"value": value, "text": format_vnd(value)})
