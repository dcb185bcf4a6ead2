"""Guided forms in the private chat: one question at a time, buttons instead of syntax.

A worker at a pole presses «Khảo sát» under the case and is asked for a note, then
photos (any number, then «Xong»), then the location (a "send location" key), then
sees a summary to confirm. A clerk's `/new` asks for a case the same way. The answer
is the same service call a typed command makes, so the case, its history, the
group's card and the replies are exactly as if the command had been typed.

The form's place is kept in the database (it survives a restart) and expires after
`FORM_TTL` without use. Photos wait under MEDIA_DIR/pending/<form> until the form is
confirmed, so a cancelled or abandoned form changes nothing. Typed words work where
buttons do not (Zalo): «xong», «bỏ qua», «hủy», «ok», or an option's number.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.channels.base import (
    AttachmentKind,
    Button,
    Capabilities,
    HandleResult,
    Key,
    Outbound,
)
from bot.domain import errors
from bot.domain.amounts import AmountError, format_vnd, parse_vnd
from bot.domain.digits import whole_number
from bot.domain.evidence import NewEvidence
from bot.domain.model import (
    Action,
    Area,
    CaseKind,
    CaseStatus,
    Customer,
    Purpose,
    Role,
    needs_area_and_purpose,
)
from bot.domain.phone import PhoneError, normalize_phone
from bot.domain.steps import STEP_OF_ACTION
from bot.i18n import Lang, Translator
from bot.services import commands as c
from bot.services.cases import CaseService
from bot.services.evidence import MediaError, TooBig
from bot.services.forms import StoredForm
from bot.services.permissions import authorize
from bot.services.ports import ConcurrentUpdate, OutboxItem, UnitOfWork
from handlers.callbacks import FormOp, FormPress
from handlers.evidence import EvidenceInbox
from handlers.render import Renderer

if TYPE_CHECKING:
    from handlers.dispatcher import Request

log = logging.getLogger(__name__)

#: A form not touched for this long is dropped, with nothing saved.
FORM_TTL = timedelta(hours=1)
MAX_TEXT = 1000
MAX_SERIAL = 64
MAX_READING = 32
DEFAULT_CAPABILITIES = Capabilities(buttons=True, edits=True, max_text=4096)


class FormKind(StrEnum):
    SURVEY = "survey"
    ESTIMATE = "estimate"
    AGREE = "agree"
    INSTALL = "install"
    INSPECT = "inspect"
    RESOLVE = "resolve"
    CLOSE = "close"
    INTAKE = "intake"


class FieldKind(StrEnum):
    TEXT = "text"
    AMOUNT = "amount"
    PHONE = "phone"
    CHOICE = "choice"
    PHOTOS = "photos"
    LOCATION = "location"


class FieldName(StrEnum):
    NOTE = "note"
    CUSTOMER_COST = "customer_cost"
    UTILITY_COST = "utility_cost"
    SERIAL = "serial"
    READING = "reading"
    PHOTOS = "photos"
    LOCATION = "location"
    KIND = "kind"
    TEAM = "team"
    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    AREA = "area"
    PURPOSE = "purpose"
    DESCRIPTION = "description"


@dataclass(frozen=True)
class FieldSpec:
    name: FieldName
    kind: FieldKind
    optional: bool = False


F = FieldSpec
_N = FieldName
_K = FieldKind
_FIELD_WORK = (
    F(_N.NOTE, _K.TEXT),
    F(_N.PHOTOS, _K.PHOTOS, True),
    F(_N.LOCATION, _K.LOCATION, True),
)
FORMS: dict[FormKind, tuple[FieldSpec, ...]] = {
    FormKind.SURVEY: _FIELD_WORK,
    FormKind.INSPECT: _FIELD_WORK,
    FormKind.RESOLVE: (F(_N.NOTE, _K.TEXT), F(_N.PHOTOS, _K.PHOTOS, True)),
    FormKind.ESTIMATE: (
        F(_N.CUSTOMER_COST, _K.AMOUNT),
        F(_N.UTILITY_COST, _K.AMOUNT),
        F(_N.NOTE, _K.TEXT, True),
    ),
    FormKind.AGREE: (),
    FormKind.CLOSE: (F(_N.NOTE, _K.TEXT, True),),
    FormKind.INSTALL: (
        F(_N.SERIAL, _K.TEXT),
        F(_N.READING, _K.TEXT, True),
        F(_N.PHOTOS, _K.PHOTOS, True),
        F(_N.LOCATION, _K.LOCATION, True),
    ),
    FormKind.INTAKE: (
        F(_N.KIND, _K.CHOICE),
        F(_N.TEAM, _K.CHOICE),
        F(_N.NAME, _K.TEXT),
        F(_N.PHONE, _K.PHONE),
        F(_N.ADDRESS, _K.TEXT),
        F(_N.AREA, _K.CHOICE),
        F(_N.PURPOSE, _K.CHOICE),
        F(_N.DESCRIPTION, _K.TEXT, True),
    ),
}
TEXT_LIMITS = {_N.SERIAL: MAX_SERIAL, _N.READING: MAX_READING, _N.NAME: 200, _N.ADDRESS: 500}
#: Typed words meaning a button, in either language (plus the buttons' own labels).
WORDS: dict[FormOp, frozenset[str]] = {
    FormOp.DONE: frozenset({"xong", "done"}),
    FormOp.SKIP: frozenset({"bỏ qua", "bo qua", "skip"}),
    FormOp.CANCEL: frozenset({"hủy", "huỷ", "huy", "cancel"}),
    FormOp.CONFIRM: frozenset({"ok", "xác nhận", "xac nhan", "confirm"}),
}
BUTTON_KEYS: dict[FormOp, str] = {
    FormOp.DONE: "form.btn.done",
    FormOp.SKIP: "form.btn.skip",
    FormOp.CANCEL: "form.btn.cancel",
    FormOp.CONFIRM: "form.btn.confirm",
}


def _plain(text: str) -> str:
    """Lower case letters and single spaces only: `✅ Xong!` → `xong`."""
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class FormState:
    """Where a form is, as stored (JSON) between two messages."""

    id: str
    kind: FormKind
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
            kind=FormKind(data["kind"]),
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


@dataclass(frozen=True)
class Input:
    """One message or press, as the form reads it."""

    text: str | None = None
    op: FormOp | None = None
    option: int | None = None
    photos: tuple[dict[str, Any], ...] = ()
    photo_error: str | None = None  # message key
    location: tuple[float, float] | None = None
    #: What was typed, when it was read as a button (`xong`, `2`): an answer to a
    #: question that has no such button is the text itself (a meter reading of 12).
    typed: str | None = None


class Fed(StrEnum):
    """What one attempt to feed an input to a form came to."""

    TAKEN = "taken"
    GONE = "gone"  # no form (any more), or another one: the message is not the form's
    RETRY = "retry"  # another message moved the form meanwhile
    CONFIRM = "confirm"


class Forms:
    """The guided forms of every channel; the dispatcher hands it messages and presses."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        tr: Translator,
        render: Renderer,
        service: CaseService,
        evidence: EvidenceInbox,
        describe: Callable[[Lang, errors.DomainError], str],
        capabilities: Mapping[str, Capabilities] | None = None,
        ttl: timedelta = FORM_TTL,
    ) -> None:
        self.uow = uow
        self.tr = tr
        self.render = render
        self.service = service
        self.evidence = evidence
        self.describe = describe
        self.capabilities: Mapping[str, Capabilities] = capabilities or {}
        self.ttl = ttl
        self._words = self._known_words()
        self._team_names: dict[str, str] = {}  # filled by _options, read by the labels

    def _known_words(self) -> dict[FormOp, frozenset[str]]:
        words: dict[FormOp, frozenset[str]] = {}
        for op, extra in WORDS.items():
            labels = {_plain(self.tr.t(lang, BUTTON_KEYS[op])) for lang in Lang}
            words[op] = frozenset(extra | labels)
        return words

    def caps(self, channel: str) -> Capabilities:
        return self.capabilities.get(channel, DEFAULT_CAPABILITIES)

    # ------------------------------------------------------------ starting

    async def start_step(self, req: Request, action: Action, ref: str) -> None:
        """The form of a step of `ref`, refused at once if that step cannot be taken now."""
        if not req.is_private:
            raise PrivateOnly()
        case = await self.service.view(ref, req.actor, self.uow())
        try:
            authorize(req.actor, action, case)
        except errors.NotAssignee as e:
            async with self.uow() as uow:
                owner = await uow.members.get(case.assignee) if case.assignee else None
            raise errors.NotAssignee(e.ref, e.owner, owner.name if owner else None) from None
        case.require_active()
        if case.status is CaseStatus.ON_HOLD:
            raise errors.CaseOnHold(case.ref)
        workflow = self.service.policy.workflow
        target = STEP_OF_ACTION[action]
        if not workflow.can_move(case.kind, case.status, target):
            nxt = workflow.next_step(case.kind, case.status)
            raise errors.IllegalTransition(case.ref, case.status, target, nxt)
        state = FormState(
            id=secrets.token_hex(4),
            kind=FormKind(action.value),
            chat=req.origin.chat_id,
            lang=req.lang.value,
            ref=case.ref,
            required_photo=action is Action.INSTALL and self.service.policy.install_requires_photo,
        )
        await self._begin(req, state)

    async def start_intake(self, req: Request, description: str | None = None) -> None:
        """A clerk's (or a lead's) new case, asked field by field."""
        if not req.is_private:
            raise PrivateOnly()
        actor = req.actor
        if not (actor.is_admin or actor.has_role(Role.CLERK, Role.LEAD)):
            if actor.member is None:
                raise errors.NotMember(None)
            raise errors.Forbidden((Role.CLERK, Role.LEAD))
        state = FormState(
            id=secrets.token_hex(4),
            kind=FormKind.INTAKE,
            chat=req.origin.chat_id,
            lang=req.lang.value,
        )
        member = actor.member
        if member is not None and member.team_code and not actor.is_admin:
            state.values[_N.TEAM] = member.team_code
        if description and description.strip():
            state.values[_N.DESCRIPTION] = description.strip()[:MAX_TEXT]
        await self._begin(req, state)

    async def _begin(self, req: Request, state: FormState) -> None:
        await self.sweep()
        channel, user = req.inbound.channel, req.inbound.user.id
        async with self.uow() as uow:
            old = await uow.forms.get(channel, user)
            messages = await self._prompt(uow, req, state)
            expires = self.service.clock.now() + self.ttl
            if not await uow.forms.put(StoredForm(channel, user, state.to_json(), expires, 0)):
                return  # another form of the same person started at this very moment
            await self._send(uow, req, messages)
            await uow.commit()
        if old is not None:
            await self._drop_files(old)

    # ------------------------------------------------------------ input

    async def cancel(self, req: Request) -> bool:
        """Drop the person's form, if any; True when there was one."""
        async with self.uow() as uow:
            stored = await uow.forms.get(req.inbound.channel, req.inbound.user.id)
            if stored is None or not await self._take(uow, stored):
                return False
            await self._send(uow, req, [self._cancelled(req)])
            await uow.commit()
        await self._drop_files(stored)
        return True

    async def on_message(self, req: Request) -> bool:
        """A message in a private chat with a form open: True when the form took it."""
        if not req.is_private:
            return False
        stored, expired = await self._live(req)
        if expired:  # what was meant for the form goes nowhere; say why
            minutes = int(self.ttl.total_seconds() // 60)
            text = self.tr.t(req.lang, "form.expired", minutes=minutes)
            async with self.uow() as uow:
                await self._send(uow, req, [Outbound(text=text, remove_keys=True)])
                await uow.commit()
            return True
        if stored is None:
            return False
        state = FormState.from_json(stored.state)
        if state.chat != req.origin.chat_id:
            return False
        return await self._feed(req, state.id, await self._read(req, state))

    async def on_press(self, req: Request, press: FormPress) -> HandleResult:
        stored, _ = await self._live(req)
        state = FormState.from_json(stored.state) if stored is not None else None
        if stored is None or state is None or state.id != press.form_id:
            return HandleResult(toast=self.tr.t(req.lang, "form.gone"), alert=True)
        if press.op is FormOp.CONFIRM:
            await self._confirm(req, stored)
            return HandleResult()
        await self._feed(req, state.id, Input(op=press.op, option=press.option))
        return HandleResult()

    async def _live(self, req: Request) -> tuple[StoredForm | None, bool]:
        """The person's live form, and whether an expired one was just dropped (with its
        photos)."""
        async with self.uow() as uow:
            stored = await uow.forms.get(req.inbound.channel, req.inbound.user.id)
            if stored is None:
                return None, False
            if stored.expires_at > self.service.clock.now():
                return stored, False
            if not await self._take(uow, stored):
                return None, False
            await uow.commit()
        await self._drop_files(stored)
        return None, True

    async def _read(self, req: Request, state: FormState) -> Input:
        """Words, photos and a location of one message (photos stored as pending files)."""
        inbound = req.inbound
        location: tuple[float, float] | None = None
        photos: list[dict[str, Any]] = []
        error: str | None = None
        for attachment in inbound.attachments:
            if attachment.kind is AttachmentKind.LOCATION:
                if attachment.latitude is not None and attachment.longitude is not None:
                    location = (attachment.latitude, attachment.longitude)
            elif attachment.kind is AttachmentKind.PHOTO:
                try:
                    data = await self.evidence.fetch_photo(inbound.channel, attachment)
                    path, mime = await self.evidence.media.save_pending(state.id, data)
                except TooBig:
                    error = "evidence.too_big"
                    continue
                except MediaError:
                    error = "evidence.not_image"
                    continue
                photos.append({"path": path, "mime": mime, "size": len(data)})
            elif attachment.kind is AttachmentKind.DOCUMENT:
                error = "evidence.not_image"
        text = inbound.text.strip() or None
        op: FormOp | None = None
        option: int | None = None
        if text is not None:
            plain = _plain(text)
            op = next((o for o, words in self._words.items() if plain in words), None)
            number = whole_number(plain, max_digits=2) if op is None else None
            if number is not None:
                op, option = FormOp.PICK, number
            if op is not None:
                text = None
        typed = inbound.text.strip() if op is not None else None
        return Input(text, op, option, tuple(photos), error, location, typed)

    async def _feed(self, req: Request, form_id: str, given: Input) -> bool:
        """Apply one input; retried when another message of the same person moved the form."""
        for _ in range(5):
            outcome = await self._feed_once(req, form_id, given)
            if outcome is Fed.RETRY:
                continue
            if outcome is Fed.CONFIRM:  # a typed «ok» at the summary, as the button would
                stored, _ = await self._live(req)
                if stored is not None:
                    await self._confirm(req, stored)
                return True
            return outcome is Fed.TAKEN
        log.warning("form %s: gave up after repeated concurrent changes", form_id)
        return True

    async def _feed_once(self, req: Request, form_id: str, given: Input) -> Fed:
        async with self.uow() as uow:
            stored = await uow.forms.get(req.inbound.channel, req.inbound.user.id)
            if stored is None or FormState.from_json(stored.state).id != form_id:
                await self._drop_paths(given.photos)
                return Fed.GONE
            state = FormState.from_json(stored.state)
            if given.op is FormOp.CANCEL:
                if not await self._take(uow, stored):
                    return Fed.RETRY
                await self._send(uow, req, [self._cancelled(req)])
                await uow.commit()
                await self._drop_files(stored)
                return Fed.TAKEN
            if given.op is FormOp.CONFIRM and self._field(req, state) is None:
                return Fed.CONFIRM
            messages = await self._apply(uow, req, state, given)
            expires = self.service.clock.now() + self.ttl
            moved = StoredForm(
                stored.channel, stored.user_id, state.to_json(), expires, stored.version
            )
            if not await uow.forms.put(moved):
                return Fed.RETRY
            await self._send(uow, req, messages)
            await uow.commit()
        return Fed.TAKEN

    async def _apply(
        self, uow: UnitOfWork, req: Request, state: FormState, given: Input
    ) -> list[Outbound]:
        t, lang = self.tr.t, req.lang
        before = self._field(req, state)
        notes: list[str] = []
        messages: list[Outbound] = []
        if given.photo_error is not None:
            mb = self.evidence.media.max_bytes // (1024 * 1024)
            notes.append(t(lang, given.photo_error, mb=mb))
        if given.photos:
            state.photos.extend(given.photos)
            if before is None or before.kind is not FieldKind.PHOTOS:
                messages.append(Outbound(t(lang, "form.photo_kept", count=len(state.photos))))
        if given.location is not None and self._has(req, state, FieldName.LOCATION):
            state.location = [given.location[0], given.location[1]]
            if FieldName.LOCATION not in state.done:
                state.done.append(FieldName.LOCATION)
            if before is None or before.kind is not FieldKind.LOCATION:
                messages.append(Outbound(t(lang, "form.location_kept")))
        if before is not None:
            error = self._answer(state, before, given, lang)
            if error is not None:
                notes.append(error)
        elif given.text is not None or given.op is not None:
            notes.append(t(lang, "form.use_buttons"))
        after = self._field(req, state)
        if before is not None and before.kind is FieldKind.LOCATION and after != before:
            key = "form.location_kept" if state.location else "form.location_skipped"
            messages.append(Outbound(t(lang, key), remove_keys=True))
        more_photos = after is not None and after.kind is FieldKind.PHOTOS and bool(given.photos)
        if after != before or notes or more_photos:
            messages.extend(await self._prompt(uow, req, state, notes))
        return messages

    def _answer(self, state: FormState, spec: FieldSpec, given: Input, lang: Lang) -> str | None:
        """Take the answer to `spec`; returns an error to show with the question again."""
        t = self.tr.t
        name = spec.name
        if given.typed is not None and not self._has_button(spec, given.op):
            given = Input(text=given.typed)
        if given.op is FormOp.SKIP and spec.optional:
            state.done.append(name)
            return None
        if given.op is FormOp.DONE and spec.kind is FieldKind.PHOTOS:
            if not state.photos and (state.required_photo or not spec.optional):
                return t(lang, "form.photo_needed")
            state.done.append(name)
            return None
        if given.op is FormOp.PICK and spec.kind is FieldKind.CHOICE:
            index = (given.option or 0) - 1
            if not 0 <= index < len(state.offered):
                return t(lang, "form.pick_one")
            state.values[name] = state.offered[index]
            state.done.append(name)
            return None
        text = given.text
        if text is None:
            if given.op is FormOp.SKIP:
                return t(lang, "form.cannot_skip")
            if given.photos or given.location or given.photo_error:
                return None
            return t(lang, "form.use_buttons")
        if spec.kind is FieldKind.PHOTOS:
            return t(lang, "form.want_photo")
        if spec.kind is FieldKind.LOCATION:
            return t(lang, "form.want_location")
        if spec.kind is FieldKind.CHOICE:
            wanted = _plain(text)
            labels = [_plain(self._option_label(lang, name, v)) for v in state.offered]
            if wanted in labels:
                state.values[name] = state.offered[labels.index(wanted)]
                state.done.append(name)
                return None
            return t(lang, "form.pick_one")
        if spec.kind is FieldKind.AMOUNT:
            try:
                state.values[name] = str(parse_vnd(text))
            except AmountError:
                return t(lang, "err.bad_amount", text=text[:40])
        elif spec.kind is FieldKind.PHONE:
            try:
                state.values[name] = normalize_phone(text)
            except PhoneError as e:
                return t(lang, f"form.bad_phone.{e.reason.value}")
        else:
            limit = TEXT_LIMITS.get(name, MAX_TEXT)
            if len(text) > limit:
                return t(lang, "form.too_long", limit=limit)
            state.values[name] = text
        state.done.append(name)
        return None

    @staticmethod
    def _has_button(spec: FieldSpec, op: FormOp | None) -> bool:
        """Whether the question offers `op` (else a typed `xong`, `2` is just text)."""
        if op is FormOp.SKIP:
            return True  # refused with a reason where the question must be answered
        if op is FormOp.DONE:
            return spec.kind is FieldKind.PHOTOS
        if op is FormOp.PICK:
            return spec.kind is FieldKind.CHOICE
        return False

    # ------------------------------------------------------------ questions

    def _has(self, req: Request, state: FormState, name: FieldName) -> bool:
        return any(spec.name is name for spec in self._fields(req, state))

    def _fields(self, req: Request, state: FormState) -> list[FieldSpec]:
        """The form's questions as they apply now (what the channel and answers allow)."""
        caps = self.caps(req.inbound.channel)
        kind = state.values.get(FieldName.KIND)
        wanted: list[FieldSpec] = []
        for spec in FORMS[state.kind]:
            if spec.kind is FieldKind.LOCATION and not caps.locations:
                continue
            if spec.name in (FieldName.AREA, FieldName.PURPOSE) and (
                kind is None or not needs_area_and_purpose(CaseKind(kind))
            ):
                continue
            if spec.name in (FieldName.TEAM, FieldName.DESCRIPTION) and (
                spec.name in state.values and spec.name not in state.done
            ):
                continue  # given before the form started (own team, forwarded text)
            wanted.append(spec)
        return wanted

    def _field(self, req: Request, state: FormState) -> FieldSpec | None:
        """The question to answer now; None once everything is answered (the summary)."""
        return next((s for s in self._fields(req, state) if s.name not in state.done), None)

    async def _prompt(
        self, uow: UnitOfWork, req: Request, state: FormState, notes: list[str] | None = None
    ) -> list[Outbound]:
        t, lang = self.tr.t, req.lang
        caps = self.caps(req.inbound.channel)
        spec = self._field(req, state)
        lines = [self._title(lang, state), *(notes or [])]
        if spec is None:
            lines += self._summary(lang, state)
            lines.append(t(lang, "form.confirm"))
            ops = [FormOp.CONFIRM, FormOp.CANCEL]
            return [self._question(lang, state, lines, ops, caps)]
        ops = [FormOp.SKIP] if spec.optional else []
        if spec.kind is FieldKind.PHOTOS:
            count = len(state.photos)
            key = "form.ask.photos_more" if count else f"form.ask.photos_{state.kind.value}"
            if state.kind not in (FormKind.INSTALL, FormKind.SURVEY) and not count:
                key = "form.ask.photos"
            lines.append(t(lang, key, count=count))
            return [self._question(lang, state, lines, [FormOp.DONE, FormOp.CANCEL], caps)]
        if spec.kind is FieldKind.LOCATION:
            lines.append(t(lang, "form.ask.location"))
            keys: list[tuple[Key, ...]] = [(Key(t(lang, "form.btn.location"), True),)]
            bottom = [Key(t(lang, BUTTON_KEYS[op])) for op in (*ops, FormOp.CANCEL)]
            keys.append(tuple(bottom))
            return [Outbound(text="\n".join(lines), keys=tuple(keys))]
        if spec.kind is FieldKind.CHOICE:
            state.offered = await self._options(uow, state, spec.name)
            lines.append(t(lang, f"form.ask.{spec.name.value}"))
            labels = [self._option_label(lang, spec.name, v) for v in state.offered]
            return [self._question(lang, state, lines, [*ops, FormOp.CANCEL], caps, labels)]
        key = f"form.ask.{spec.name.value}"
        if spec.name is FieldName.NOTE:
            key = f"form.ask.note_{state.kind.value}"
        lines.append(t(lang, key))
        return [self._question(lang, state, lines, [*ops, FormOp.CANCEL], caps)]

    def _question(
        self,
        lang: Lang,
        state: FormState,
        lines: list[str],
        ops: list[FormOp],
        caps: Capabilities,
        options: list[str] | None = None,
    ) -> Outbound:
        t = self.tr.t
        rows: list[tuple[Button, ...]] = []
        for i, label in enumerate(options or [], start=1):
            rows.append((Button(label, FormPress(state.id, FormOp.PICK, i).encode()),))
        rows.append(
            tuple(Button(t(lang, BUTTON_KEYS[op]), FormPress(state.id, op).encode()) for op in ops)
        )
        if not caps.buttons:  # say what to type instead
            for i, label in enumerate(options or [], start=1):
                lines.append(t(lang, "form.option_line", n=i, label=label))
            if options:
                lines.append(t(lang, "form.type.option"))
            lines += [t(lang, f"form.type.{op.name.lower()}") for op in ops]
        return Outbound(text="\n".join(lines), buttons=tuple(rows))

    def _title(self, lang: Lang, state: FormState) -> str:
        if state.kind is FormKind.INTAKE:
            return self.tr.t(lang, "form.title_new")
        step = self.tr.t(lang, f"form.kind.{state.kind.value}")
        return self.tr.t(lang, "form.title", ref=state.ref or "", step=step)

    async def _options(self, uow: UnitOfWork, state: FormState, name: FieldName) -> list[str]:
        if name is FieldName.KIND:
            return [k.value for k in self.service.policy.workflow.steps]
        if name is FieldName.AREA:
            return [a.value for a in Area]
        if name is FieldName.PURPOSE:
            return [p.value for p in Purpose]
        teams = await uow.teams.all()
        self._team_names = {x.code: x.name for x in teams}
        return [x.code for x in teams]

    def _option_label(self, lang: Lang, name: FieldName, value: str) -> str:
        if name is FieldName.KIND:
            return self.tr.t(lang, f"kind.{value}")
        if name is FieldName.AREA:
            return self.tr.t(lang, f"area.{value}")
        if name is FieldName.PURPOSE:
            return self.tr.t(lang, f"purpose.{value}")
        return self.tr.t(lang, "form.team_option", code=value, name=self._team_names.get(value, ""))

    def _summary(self, lang: Lang, state: FormState) -> list[str]:
        t = self.tr.t
        v = state.values
        lines: list[str] = []
        for spec in FORMS[state.kind]:
            name = spec.name
            if spec.kind is FieldKind.PHOTOS:
                lines.append(t(lang, "form.sum.photos", count=len(state.photos)))
                continue
            if spec.kind is FieldKind.LOCATION:
                if state.location:
                    lat, lon = state.location
                    lines.append(t(lang, "form.sum.location", lat=f"{lat:.5f}", lon=f"{lon:.5f}"))
                continue
            if name not in v:
                continue
            value = v[name]
            if spec.kind is FieldKind.AMOUNT:
                value = format_vnd(int(value))
            elif spec.kind is FieldKind.CHOICE and name is not FieldName.TEAM:
                value = self._option_label(lang, name, value)
            lines.append(t(lang, f"form.sum.{name.value}", value=value))
        return lines

    def _cancelled(self, req: Request) -> Outbound:
        return Outbound(text=self.tr.t(req.lang, "form.cancelled"), remove_keys=True)

    # ------------------------------------------------------------ the result

    async def _confirm(self, req: Request, stored: StoredForm) -> None:
        """Do what the form asked: the same service call as the typed command."""
        state = FormState.from_json(stored.state)
        if self._field(req, state) is not None:
            return
        async with self.uow() as uow:
            if not await self._take(uow, stored):
                return  # confirmed (or cancelled) by a press a moment ago
            await uow.commit()
        promoted: list[str] = []
        try:
            now = self.service.clock.now()
            evidence: list[NewEvidence] = []
            for photo in state.photos:
                path = await self.evidence.media.promote(str(photo["path"]), now)
                promoted.append(path)
                evidence.append(NewEvidence.photo(path, str(photo["mime"]), int(photo["size"])))
            if state.location:
                evidence.append(NewEvidence.location(state.location[0], state.location[1]))
            await self._execute(req, state, tuple(evidence))
        except ConcurrentUpdate:
            for i, path in enumerate(promoted):
                state.photos[i]["path"] = await self.evidence.media.demote(path, state.id)
            await self._restore(req, stored, state)
            await self._say(req, self.tr.t(req.lang, "err.concurrent"))
            return
        except errors.DomainError as e:
            for path in promoted:
                await self.evidence.media.remove(path)
            await self._drop_files(stored)
            text = self.describe(req.lang, e) + "\n" + self.tr.t(req.lang, "form.not_saved")
            await self._say(req, text)
            return
        except MediaError:
            for path in promoted:
                await self.evidence.media.remove(path)
            await self._drop_files(stored)
            await self._say(req, self.tr.t(req.lang, "form.photos_lost"))
            return
        except BaseException:
            for path in promoted:
                await self.evidence.media.remove(path)
            await self._drop_files(stored)
            raise
        await self._drop_files(stored)

    async def _execute(
        self, req: Request, state: FormState, evidence: tuple[NewEvidence, ...]
    ) -> None:
        v = state.values
        base: dict[str, Any] = {"actor": req.actor, "source": req.source, "origin": req.origin}
        if state.kind is FormKind.INTAKE:
            kind = CaseKind(v[FieldName.KIND])
            area, purpose = v.get(FieldName.AREA), v.get(FieldName.PURPOSE)
            await self.service.intake(
                c.IntakeCase(
                    **base,
                    kind=kind,
                    team_code=v[FieldName.TEAM],
                    customer=Customer(v[FieldName.NAME], v[FieldName.PHONE], v[FieldName.ADDRESS]),
                    description=v.get(FieldName.DESCRIPTION, ""),
                    area=Area(area) if area else None,
                    purpose=Purpose(purpose) if purpose else None,
                ),
                self.uow(),
            )
            return
        assert state.ref is not None
        ref = state.ref
        if state.kind is FormKind.ESTIMATE:
            await self.service.estimate(
                c.RecordEstimate(
                    **base,
                    ref=ref,
                    customer_cost=int(v[FieldName.CUSTOMER_COST]),
                    utility_cost=int(v[FieldName.UTILITY_COST]),
                    note=v.get(FieldName.NOTE),
                    evidence=evidence,
                ),
                self.uow(),
            )
        elif state.kind is FormKind.INSTALL:
            await self.service.install(
                c.RecordInstall(
                    **base,
                    ref=ref,
                    meter_serial=v[FieldName.SERIAL],
                    reading=v.get(FieldName.READING),
                    evidence=evidence,
                ),
                self.uow(),
            )
        else:
            await self.service.report_step(
                c.ReportStep(
                    **base,
                    ref=ref,
                    action=Action(state.kind.value),
                    note=v.get(FieldName.NOTE),
                    evidence=evidence,
                ),
                self.uow(),
            )

    # ------------------------------------------------------------ upkeep

    async def sweep(self) -> int:
        """Drop forms past their deadline, and their photos; nothing else changes."""
        async with self.uow() as uow:
            gone = await uow.forms.take_expired(self.service.clock.now())
            await uow.commit()
        for stored in gone:
            await self._drop_files(stored)
        return len(gone)

    async def _take(self, uow: UnitOfWork, stored: StoredForm) -> bool:
        return await uow.forms.take(stored.channel, stored.user_id, stored.version)

    async def _restore(self, req: Request, stored: StoredForm, state: FormState) -> None:
        async with self.uow() as uow:
            expires = self.service.clock.now() + self.ttl
            await uow.forms.put(
                StoredForm(stored.channel, stored.user_id, state.to_json(), expires, 0)
            )
            await uow.commit()

    async def _drop_files(self, stored: StoredForm) -> None:
        form_id = stored.state.get("id")
        if isinstance(form_id, str) and form_id:
            await self.evidence.media.drop_pending(form_id)

    async def _drop_paths(self, photos: tuple[dict[str, Any], ...]) -> None:
        for photo in photos:
            await self.evidence.media.remove(str(photo["path"]))

    async def _send(self, uow: UnitOfWork, req: Request, messages: list[Outbound]) -> None:
        for message in messages:
            await uow.outbox.add(
                OutboxItem(req.origin.channel, req.origin.chat_id, message.to_json())
            )

    async def _say(self, req: Request, text: str) -> None:
        async with self.uow() as uow:
            await uow.outbox.add(
                OutboxItem(req.origin.channel, req.origin.chat_id, Outbound(text=text).to_json())
            )
            await uow.commit()


class PrivateOnly(Exception):
    """Forms live in the private chat with the bot."""
