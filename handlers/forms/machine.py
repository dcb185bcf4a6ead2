"""Where a form is and what one answer does to it: pure, so tests step it directly.

No database, no translator, no chat. The state is plain data (stored as JSON between
two messages); `feed` applies one message or press to it and says what to tell the
person, as message keys with their values (`Line`), for the prompts to word. What the
machine must know of the world comes in a `Context`: whether the channel can send a
location, and the labels of the options on offer (a typed «Phủ Lý» picks that team).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.domain.amounts import AmountError, amount_readings, format_vnd
from bot.domain.model import Action, CaseKind, needs_area_and_purpose
from bot.domain.phone import PhoneError, normalize_phone
from bot.i18n import Lang
from handlers.callbacks import FormOp
from handlers.forms.spec import (
    AREA_FIELDS,
    GIVEN_FIELDS,
    INTAKE_FIELDS,
    MAX_TEXT,
    TEXT_LIMITS,
    FieldKind,
    FieldName,
    FieldSpec,
    plain,
)
from handlers.steps import CHAT_STEPS

#: The questions of every form: a step's from its row, the clerk's new case from the spec.
FORMS: dict[Action, tuple[FieldSpec, ...]] = {
    **{row.action: row.form for row in CHAT_STEPS if row.form is not None},
    Action.INTAKE: INTAKE_FIELDS,
}


@dataclass(frozen=True)
class Line:
    """Something to tell the person: a catalogue key and its values, worded later."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FormState:
    """Where a form is, as stored (JSON) between two messages."""

    id: str
    #: The step the form reports, or `Action.INTAKE` for a new case.
    kind: Action
    chat: str
    lang: str
    ref: str | None = None
    done: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    photos: list[dict[str, Any]] = field(default_factory=list)
    location: list[float] | None = None
    offered: list[str] = field(default_factory=list)
    required_photo: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "id": self.id,
            "kind": self.kind.value,
            "chat": self.chat,
            "lang": self.lang,
            "ref": self.ref,
            "done": list(self.done),
            "values": dict(self.values),
            "photos": list(self.photos),
            "location": list(self.location) if self.location else None,
            "offered": list(self.offered),
            "required_photo": self.required_photo,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormState:
        location = data.get("location")
        return cls(
            id=str(data["id"]),
            kind=Action(data["kind"]),
            chat=str(data["chat"]),
            lang=str(data.get("lang") or Lang.VI.value),
            ref=data.get("ref"),
            done=[str(x) for x in data.get("done") or []],
            values={str(k): str(v) for k, v in (data.get("values") or {}).items()},
            photos=[dict(p) for p in data.get("photos") or []],
            location=[float(location[0]), float(location[1])] if location else None,
            offered=[str(x) for x in data.get("offered") or []],
            required_photo=bool(data.get("required_photo")),
        )


def step_form(
    form_id: str, action: Action, chat: str, lang: str, ref: str, required_photo: bool
) -> FormState:
    """A fresh form for step `action` of case `ref`."""
    return FormState(form_id, action, chat, lang, ref=ref, required_photo=required_photo)


def intake_form(
    form_id: str, chat: str, lang: str, team: str | None, description: str | None
) -> FormState:
    """A fresh new-case form; a clerk's own team and a forwarded text are not asked."""
    state = FormState(form_id, Action.INTAKE, chat, lang)
    if team:
        state.values[FieldName.TEAM] = team
    if description and description.strip():
        state.values[FieldName.DESCRIPTION] = description.strip()[:MAX_TEXT]
    return state


@dataclass(frozen=True)
class Input:
    """One message or press, as the form reads it."""

    text: str | None = None
    op: FormOp | None = None
    option: int | None = None
    photos: tuple[dict[str, Any], ...] = ()
    photo_error: Line | None = None
    location: tuple[float, float] | None = None
    #: What was typed, when it was read as a button (`xong`, `2`): an answer to a
    #: question that has no such button is the text itself (a meter reading of 12).
    typed: str | None = None


@dataclass(frozen=True)
class Context:
    """What the machine knows of the world around the form."""

    #: Whether the channel can send a location (Zalo cannot): the question is left out.
    locations: bool = True
    #: The offered options' labels by value, for reading a typed label as a pick.
    labels: Mapping[str, str] = field(default_factory=dict)


class Outcome(StrEnum):
    MOVED = "moved"  # the answer was taken, or refused with a reason (see the notes)
    CANCEL = "cancel"  # drop the form, nothing saved
    CONFIRM = "confirm"  # everything answered and confirmed: do what the form asked


@dataclass(frozen=True)
class Said:
    """A message of its own before the next question (`form.photo_kept`)."""

    line: Line
    remove_keys: bool = False


@dataclass(frozen=True)
class Reaction:
    outcome: Outcome
    #: Messages to send before the question.
    said: tuple[Said, ...] = ()
    #: Lines shown above the question asked again (why the answer was refused).
    notes: tuple[Line, ...] = ()
    #: Whether to ask (the next question, or the same again).
    ask: bool = False


# ------------------------------------------------------------ questions


def fields(state: FormState, ctx: Context) -> list[FieldSpec]:
    """The form's questions as they apply now (what the channel and the answers allow)."""
    kind = state.values.get(FieldName.KIND)
    wanted: list[FieldSpec] = []
    for spec in FORMS[state.kind]:
        if spec.kind is FieldKind.LOCATION and not ctx.locations:
            continue
        if spec.name in AREA_FIELDS and (
            kind is None or not needs_area_and_purpose(CaseKind(kind))
        ):
            continue
        if spec.name in GIVEN_FIELDS and spec.name in state.values and spec.name not in state.done:
            continue  # given before the form started (own team, forwarded text)
        wanted.append(spec)
    return wanted


def current(state: FormState, ctx: Context) -> FieldSpec | None:
    """The question to answer now; None once everything is answered (the summary)."""
    return next((s for s in fields(state, ctx) if s.name not in state.done), None)


def asks(state: FormState, ctx: Context, name: FieldName) -> bool:
    return any(spec.name is name for spec in fields(state, ctx))


def has_button(spec: FieldSpec, op: FormOp | None, offered: bool = False) -> bool:
    """Whether the question offers `op` (else a typed `xong`, `2` is just text); an
    amount offers its readings when the typed one was in doubt."""
    if op is FormOp.SKIP:
        return True  # refused with a reason where the question must be answered
    if op is FormOp.DONE:
        return spec.kind is FieldKind.PHOTOS
    if op is FormOp.PICK:
        return spec.kind is FieldKind.CHOICE or (spec.kind is FieldKind.AMOUNT and offered)
    return False


def prefill(
    state: FormState,
    given: Mapping[FieldName, str],
    ctx: Context,
    doubt: FieldName | None = None,
    readings: tuple[int, ...] = (),
) -> None:
    """A typed step put in its form, to be asked about before it is saved: what was
    given is answered, the optional rest skipped (it was not typed), and the field in
    `doubt` asked again with its `readings` offered."""
    for spec in fields(state, ctx):
        if spec.name is doubt:
            continue
        if spec.name in given:
            _take(state, spec.name, given[spec.name])
        elif spec.optional:
            state.done.append(spec.name)
    state.offered = [str(r) for r in readings] if doubt is not None else []


def doubt_line(text: str, readings: tuple[int, ...]) -> Line:
    """Why an amount is asked again: what was typed and what it may mean."""
    shown = " / ".join(format_vnd(r) for r in readings)
    return Line("form.amount_doubt", {"text": text[:40], "options": shown})


def edit(state: FormState, ctx: Context, number: int) -> bool:
    """Answer the summary's field `number` (from 1) again; False when there is none."""
    wanted = fields(state, ctx)
    if not 0 < number <= len(wanted):
        return False
    name = wanted[number - 1].name
    state.done = [x for x in state.done if x != name]
    state.values.pop(name, None)
    if name is FieldName.PHOTOS:
        state.photos.clear()
    if name is FieldName.LOCATION:
        state.location = None
    return True


# ------------------------------------------------------------ one input


def feed(state: FormState, given: Input, ctx: Context) -> Reaction:
    """Apply one message or press to the form, changing `state` in place."""
    if given.op is FormOp.CANCEL:
        return Reaction(Outcome.CANCEL)
    before = current(state, ctx)
    if given.op is FormOp.CONFIRM and before is None:
        return Reaction(Outcome.CONFIRM)
    if given.op is FormOp.EDIT:
        if before is not None or not edit(state, ctx, given.option or 0):
            return Reaction(Outcome.MOVED, notes=(Line("form.use_buttons"),), ask=True)
        return Reaction(Outcome.MOVED, ask=True)
    said: list[Said] = []
    notes: list[Line] = []
    if given.photo_error is not None:
        notes.append(given.photo_error)
    if given.photos:
        state.photos.extend(given.photos)
        if before is None or before.kind is not FieldKind.PHOTOS:
            said.append(Said(Line("form.photo_kept", {"count": len(state.photos)})))
    if given.location is not None and asks(state, ctx, FieldName.LOCATION):
        state.location = [given.location[0], given.location[1]]
        if FieldName.LOCATION not in state.done:
            state.done.append(FieldName.LOCATION)
        if before is None or before.kind is not FieldKind.LOCATION:
            said.append(Said(Line("form.location_kept")))
    if before is not None:
        refusal = answer(state, before, given, ctx)
        if refusal is not None:
            notes.append(refusal)
    elif given.text is not None or given.op is not None:
        notes.append(Line("form.use_buttons"))
    after = current(state, ctx)
    if before is not None and before.kind is FieldKind.LOCATION and after != before:
        key = "form.location_kept" if state.location else "form.location_skipped"
        said.append(Said(Line(key), remove_keys=True))
    more_photos = after is not None and after.kind is FieldKind.PHOTOS and bool(given.photos)
    ask = after != before or bool(notes) or more_photos
    return Reaction(Outcome.MOVED, tuple(said), tuple(notes), ask)


def answer(state: FormState, spec: FieldSpec, given: Input, ctx: Context) -> Line | None:
    """Take the answer to `spec`; returns the reason to ask again, if it is refused."""
    name = spec.name
    if given.typed is not None and not has_button(spec, given.op, bool(state.offered)):
        given = Input(text=given.typed)
    if given.op is FormOp.SKIP and spec.optional:
        state.done.append(name)
        return None
    if given.op is FormOp.DONE and spec.kind is FieldKind.PHOTOS:
        if not state.photos and (state.required_photo or not spec.optional):
            return Line("form.photo_needed")
        state.done.append(name)
        return None
    if given.op is FormOp.PICK and spec.kind is FieldKind.AMOUNT and state.offered:
        index = (given.option or 0) - 1
        if not 0 <= index < len(state.offered):
            return Line("form.pick_one")
        _take(state, name, state.offered[index])
        return None
    if given.op is FormOp.PICK and spec.kind is FieldKind.CHOICE:
        index = (given.option or 0) - 1
        if not 0 <= index < len(state.offered):
            return Line("form.pick_one")
        _take(state, name, state.offered[index])
        return None
    text = given.text
    if text is None:
        if given.op is FormOp.SKIP:
            return Line("form.cannot_skip")
        if given.photos or given.location or given.photo_error:
            return None
        return Line("form.use_buttons")
    return _typed(state, spec, text, ctx)


def _typed(state: FormState, spec: FieldSpec, text: str, ctx: Context) -> Line | None:
    if spec.kind is FieldKind.PHOTOS:
        return Line("form.want_photo")
    if spec.kind is FieldKind.LOCATION:
        return Line("form.want_location")
    if spec.kind is FieldKind.CHOICE:
        wanted = plain(text)
        picked = [v for v in state.offered if v in ctx.labels and plain(ctx.labels[v]) == wanted]
        if not picked:
            return Line("form.pick_one")
        value = picked[0]
    elif spec.kind is FieldKind.AMOUNT:
        try:
            readings = amount_readings(text)
        except AmountError:
            return Line("err.bad_amount", {"text": text[:40]})
        if len(readings) > 1:  # `1tr5k`, `1500`: asked, never guessed
            state.offered = [str(r) for r in readings]
            return doubt_line(text, readings)
        value = str(readings[0])
    elif spec.kind is FieldKind.PHONE:
        try:
            value = normalize_phone(text)
        except PhoneError as e:
            return Line(f"form.bad_phone.{e.reason.value}")
    else:
        limit = TEXT_LIMITS.get(spec.name, MAX_TEXT)
        if len(text) > limit:
            return Line("form.too_long", {"limit": limit})
        value = text
    _take(state, spec.name, value)
    return None


def _take(state: FormState, name: FieldName, value: str) -> None:
    state.values[name] = value
    state.done.append(name)
    state.offered = []
