"""Guided forms in the private chat, run: what the router hands a message or press to.

A worker at a pole presses «Khảo sát» under the case and is asked for a note, then
photos (any number, then «Xong»), then the location (a "send location" key), then
sees a summary to confirm. A clerk's `/new` asks for a case the same way. The answer
is the same service call a typed command makes (`calls`), so the case, its history,
the group's card and the replies are exactly as if the command had been typed.

The steps of the conversation are the pure `machine`; this module loads and keeps the
state (`store`), reads messages (`reading`), words the questions (`prompts`) and
writes the answers as outbox rows in the transaction that moves the form.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.channels.base import Capabilities, HandleResult, Inbound, Outbound
from bot.domain import errors
from bot.domain.evidence import NewEvidence
from bot.domain.model import Action, Area, Purpose, Role
from bot.domain.steps import step_of
from bot.services.evidence import MediaError, MediaStore
from bot.services.forms import StoredForm
from bot.services.ports import ConcurrentUpdate, UnitOfWork
from handlers.callbacks import FormOp, FormPress
from handlers.forms.calls import execute
from handlers.forms.machine import (
    Context,
    FormState,
    Input,
    Line,
    Outcome,
    current,
    feed,
    intake_form,
    prefill,
    step_form,
)
from handlers.forms.prompts import Prompts
from handlers.forms.reading import Reader
from handlers.forms.spec import FieldKind, FieldName
from handlers.forms.store import FormStore
from handlers.kit import CommandKit, OnKit
from handlers.refusals import PrivateOnly
from handlers.replies import in_chat
from handlers.request import Request, capabilities_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Typed:
    """A typed step's words as its form's answers, with what to ask about them."""

    given: Mapping[FieldName, str]
    notes: tuple[Line, ...] = ()
    doubt: FieldName | None = None
    readings: tuple[int, ...] = ()


#: Tries at applying one input while other messages of the same person move the form.
FEED_TRIES = 5


class Fed(StrEnum):
    """What one attempt to feed an input to a form came to."""

    TAKEN = "taken"
    GONE = "gone"  # no form (any more), or another one: the message is not the form's
    RETRY = "retry"  # another message moved the form meanwhile
    CONFIRM = "confirm"


class Forms(OnKit):
    """The guided forms of every channel."""

    def __init__(
        self,
        kit: CommandKit,
        *,
        store: FormStore,
        prompts: Prompts,
        reader: Reader,
        media: MediaStore,
        capabilities: Mapping[str, Capabilities],
    ) -> None:
        super().__init__(kit)
        self.store = store
        self.prompts = prompts
        self.reader = reader
        self.media = media
        self.capabilities = capabilities

    def _context(self, req: Request, labels: Mapping[str, str] | None = None) -> Context:
        caps = capabilities_of(self.capabilities, req.inbound.channel)
        return Context(locations=caps.locations, labels=labels or {})

    # ------------------------------------------------------------ starting

    async def start_step(self, req: Request, action: Action, ref: str) -> None:
        """The form of a step of `ref`, refused at once if that step cannot be taken now."""
        await self._begin(req, await self._step_state(req, action, ref))

    async def question_typed(self, req: Request, action: Action, ref: str, typed: Typed) -> None:
        """A typed step with odd input, put in its form and asked about before anything
        is saved: the doubtful amount's readings as buttons, or the summary to confirm."""
        state = await self._step_state(req, action, ref)
        prefill(state, typed.given, self._context(req), typed.doubt, typed.readings)
        await self._begin(req, state, typed.notes)

    async def _step_state(self, req: Request, action: Action, ref: str) -> FormState:
        if not req.is_private:
            raise PrivateOnly()
        case = await self.service.check_step(ref, req.actor, action, self.uow())
        policy = self.service.policy
        required_photo = step_of(action).needs_photo(policy.install_requires_photo)
        return step_form(
            _new_id(), action, req.origin.chat_id, req.lang.value, case.ref, required_photo
        )

    async def start_intake(
        self, req: Request, description: str | None = None, forwarded: Inbound | None = None
    ) -> None:
        """A clerk's (or a lead's) new case, asked field by field; the photos of a
        forwarded customer message are kept with it, and filed with the case."""
        if not req.is_private:
            raise PrivateOnly()
        self.check_intake(req)
        actor = req.actor
        member = actor.member
        own_team = member.team_code if member is not None and not actor.is_admin else None
        state = intake_form(_new_id(), req.origin.chat_id, req.lang.value, own_team, description)
        if forwarded is not None and forwarded.attachments:
            state.photos.extend((await self.reader.read(forwarded, state.id)).photos)
        await self._begin(req, state)

    @staticmethod
    def check_intake(req: Request) -> None:
        """Whether this person may file a new case here (a clerk, a lead, an admin)."""
        actor = req.actor
        if not (actor.is_admin or actor.has_role(Role.CLERK, Role.LEAD)):
            if actor.member is None:
                raise errors.NotMember(None)
            raise errors.Forbidden((Role.CLERK, Role.LEAD))

    async def _begin(self, req: Request, state: FormState, notes: tuple[Line, ...] = ()) -> None:
        await self.sweep()
        channel, user = req.inbound.channel, req.inbound.user.id
        async with self.uow() as uow:
            old = await uow.forms.get(channel, user)
            question = await self._ask(uow, req, state, self._context(req), notes)
            if not await uow.forms.put(self.store.row(channel, user, state)):
                return  # another form of the same person started at this very moment
            await uow.outbox.add(in_chat(req.origin, question))
            await uow.commit()
        if old is not None:
            await self.store.drop_files(old)

    # ------------------------------------------------------------ input

    async def is_open(self, req: Request) -> bool:
        """Whether the person has a form under way (a new one would replace it)."""
        async with self.uow() as uow:
            return await uow.forms.get(req.inbound.channel, req.inbound.user.id) is not None

    async def cancel(self, req: Request) -> bool:
        """Drop the person's form, if any; True when there was one."""
        async with self.uow() as uow:
            stored = await uow.forms.get(req.inbound.channel, req.inbound.user.id)
            if stored is None or not await self.store.take(uow, stored):
                return False
            await uow.outbox.add(in_chat(req.origin, self.prompts.cancelled(req.lang)))
            await uow.commit()
        await self.store.drop_files(stored)
        return True

    async def on_message(self, req: Request) -> bool:
        """A message in a private chat with a form open: True when the form took it."""
        if not req.is_private:
            return False
        stored, expired = await self.store.live(req.inbound.channel, req.inbound.user.id)
        if expired:  # what was meant for the form goes nowhere; say why
            await self.replies.show(req, self.prompts.expired(req.lang, self.store.ttl_minutes))
            return True
        if stored is None:
            return False
        state = FormState.from_json(stored.state)
        if state.chat != req.origin.chat_id:
            return False
        return await self._feed(req, state.id, await self.reader.read(req.inbound, state.id))

    async def on_press(self, req: Request, press: FormPress) -> HandleResult:
        stored, _ = await self.store.live(req.inbound.channel, req.inbound.user.id)
        state = FormState.from_json(stored.state) if stored is not None else None
        if stored is None or state is None or state.id != press.form_id:
            return HandleResult(toast=self.tr.t(req.lang, "form.gone"), alert=True)
        if press.op is FormOp.CONFIRM:
            await self._confirm(req, stored)
            return HandleResult()
        await self._feed(req, state.id, Input(op=press.op, option=press.option))
        return HandleResult()

    async def _feed(self, req: Request, form_id: str, given: Input) -> bool:
        """Apply one input; retried when another message of the same person moved the form."""
        for _ in range(FEED_TRIES):
            outcome = await self._feed_once(req, form_id, given)
            if outcome is Fed.RETRY:
                continue
            if outcome is Fed.CONFIRM:  # a typed «ok» at the summary, as the button would
                stored, _ = await self.store.live(req.inbound.channel, req.inbound.user.id)
                if stored is not None:
                    await self._confirm(req, stored)
                return True
            return outcome is Fed.TAKEN
        log.warning("form %s: gave up after repeated concurrent changes", form_id)
        return True

    async def _feed_once(self, req: Request, form_id: str, given: Input) -> Fed:
        async with self.uow() as uow:
            stored = await uow.forms.get(req.inbound.channel, req.inbound.user.id)
            state = FormState.from_json(stored.state) if stored is not None else None
            if stored is None or state is None or state.id != form_id:
                await self.store.drop_paths(given.photos)
                return Fed.GONE
            ctx = await self._reading_context(uow, req, state)
            reaction = feed(state, given, ctx)
            if reaction.outcome is Outcome.CANCEL:
                if not await self.store.take(uow, stored):
                    return Fed.RETRY
                await uow.outbox.add(in_chat(req.origin, self.prompts.cancelled(req.lang)))
                await uow.commit()
                await self.store.drop_files(stored)
                return Fed.TAKEN
            if reaction.outcome is Outcome.CONFIRM:
                return Fed.CONFIRM
            messages = [self.prompts.said(req.lang, said) for said in reaction.said]
            if reaction.ask:
                messages.append(await self._ask(uow, req, state, ctx, reaction.notes))
            moved = self.store.row(stored.channel, stored.user_id, state, stored.version)
            if not await uow.forms.put(moved):
                return Fed.RETRY
            for message in messages:
                await uow.outbox.add(in_chat(req.origin, message))
            await uow.commit()
        return Fed.TAKEN

    # ------------------------------------------------------------ questions

    async def _ask(
        self,
        uow: UnitOfWork,
        req: Request,
        state: FormState,
        ctx: Context,
        notes: tuple[Line, ...] = (),
    ) -> Outbound:
        """The question to answer now (its options offered), or the summary."""
        spec = current(state, ctx)
        teams: dict[str, str] = {}
        if spec is not None and spec.kind is FieldKind.CHOICE:
            if spec.name is FieldName.TEAM:
                teams = await _team_names(uow)
            state.offered = self._options(spec.name, teams)
        caps = capabilities_of(self.capabilities, req.inbound.channel)
        return self.prompts.question(req.lang, state, spec, caps, notes, teams)

    def _options(self, name: FieldName, teams: Mapping[str, str]) -> list[str]:
        if name is FieldName.KIND:
            return [k.value for k in self.service.policy.workflow.steps]
        if name is FieldName.AREA:
            return [a.value for a in Area]
        if name is FieldName.PURPOSE:
            return [p.value for p in Purpose]
        return list(teams)

    async def _reading_context(self, uow: UnitOfWork, req: Request, state: FormState) -> Context:
        """The context to read an answer in: a typed option label picks that option."""
        ctx = self._context(req)
        spec = current(state, ctx)
        if spec is None or spec.kind is not FieldKind.CHOICE or not state.offered:
            return ctx
        teams = await _team_names(uow) if spec.name is FieldName.TEAM else {}
        labels = self.prompts.labels(req.lang, spec.name, state.offered, teams)
        return self._context(req, labels)

    # ------------------------------------------------------------ the result

    async def _confirm(self, req: Request, stored: StoredForm) -> None:
        """Do what the form asked: the same service call as the typed command."""
        state = FormState.from_json(stored.state)
        if current(state, self._context(req)) is not None:
            return
        async with self.uow() as uow:
            if not await self.store.take(uow, stored):
                return  # confirmed (or cancelled) by a press a moment ago
            await uow.commit()
        promoted: list[str] = []
        try:
            now = self.service.clock.now()
            evidence: list[NewEvidence] = []
            for photo in state.photos:
                path = await self.media.promote(str(photo["path"]), now)
                promoted.append(path)
                evidence.append(NewEvidence.photo(path, str(photo["mime"]), int(photo["size"])))
            if state.location:
                evidence.append(NewEvidence.location(state.location[0], state.location[1]))
            await execute(self.service, req, state, tuple(evidence), self.uow())
        except ConcurrentUpdate:
            for i, path in enumerate(promoted):
                state.photos[i]["path"] = await self.media.demote(path, state.id)
            await self.store.restore(stored, state)
            await self._tell(req, self.tr.t(req.lang, "err.concurrent"))
            return
        except BaseException as e:
            for path in promoted:
                await self.media.remove(path)
            await self.store.drop_files(stored)
            text = self._not_saved(req, e)
            if text is None:
                raise
            await self._tell(req, text)
            return
        await self.store.drop_files(stored)

    def _not_saved(self, req: Request, e: BaseException) -> str | None:
        """Why the confirmed form saved nothing; None for a fault (raised on)."""
        t = self.tr.t
        if isinstance(e, errors.DomainError):
            reason = self.replies.domain_words(req.lang, e)
            return reason + "\n" + t(req.lang, "form.not_saved")
        if isinstance(e, MediaError):
            return t(req.lang, "form.photos_lost")
        return None

    async def _tell(self, req: Request, text: str) -> None:
        await self.replies.show(req, Outbound(text=text))

    # ------------------------------------------------------------ upkeep

    async def sweep(self) -> int:
        """Drop forms past their deadline, and their photos; nothing else changes."""
        return await self.store.sweep()


def _new_id() -> str:
    return secrets.token_hex(4)


async def _team_names(uow: UnitOfWork) -> dict[str, str]:
    return {team.code: team.name for team in await uow.teams.all()}
