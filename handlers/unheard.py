"""What a person sends that is no command and no form's answer: it is answered, never
met with silence, and what they sent is kept until they say where it goes.

- A text in the private chat: what they can do, and their active cases to open.
- A photo in the private chat, replying to nothing: "attach to PL-2?", one button per
  active case (on Zalo, which has no buttons: typing the ref attaches it).
- A file that is no photo (a PDF): what the bot keeps instead (photos, a location).
- A forwarded message while a form is under way: asked before it replaces the form.
- A plain reply to a case's card in the group ("em nhận", "khách hẹn 2h chiều"): claim
  it, or keep the words as a note of the case. Nobody outside the team is answered,
  and nothing of theirs is kept.

Kept items wait in memory, for their sender only, for `HOLD_FOR`; a restart forgets
them (the person sends the photo again). Nothing of a case changes until a press.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.base import AttachmentKind, Button, HandleResult, Inbound, Outbound
from bot.domain.clock import Clock
from bot.domain.model import Case, CaseStatus, Role
from bot.services.commands import AddNote
from bot.services.permissions import can_view
from bot.services.ports import CaseQuery
from handlers.callbacks import ButtonAction, CallbackData, HeldPress
from handlers.commands.steps import StepCommands
from handlers.evidence import EvidenceInbox
from handlers.forms.flow import Forms
from handlers.kit import CommandKit, OnKit
from handlers.parsing import normalize_ref
from handlers.replies import Buttons, in_chat
from handlers.request import Request

#: How long a stray photo or an unsaved note waits for the sender's answer.
HOLD_FOR = timedelta(hours=24)
#: Cases offered as buttons: the sender's first active ones (a phone shows five well).
OFFERED = 5
#: Longest note kept from a reply to a card.
MAX_NOTE = 500


@dataclass(frozen=True)
class Held:
    """Something sent that waits for its sender to say which case it belongs to."""

    uid: str
    at: datetime
    inbound: Inbound | None = None  # a photo (its message, fetched only when placed)
    note: str | None = None  # words replying to a card
    forward: str | None = None  # a forwarded message, while a form was open
    ref: str | None = None  # the case they replied to (a note goes there only)


class Unheard(OnKit):
    def __init__(self, kit: CommandKit, *, steps: StepCommands, forms: Forms, clock: Clock) -> None:
        super().__init__(kit)
        self.steps = steps
        self.forms = forms
        self.clock = clock
        self._held: dict[int, Held] = {}
        self._ids = itertools.count(1)

    async def forwarded(self, req: Request) -> None:
        """A forwarded customer message starts a new case; while another form is under
        way, the clerk is asked first, and that form is kept."""
        if not await self.forms.is_open(req):
            await self.forms.start_intake(req, req.inbound.text, req.inbound)
            return
        held = Held(req.actor.uid, self.clock.now(), inbound=req.inbound, forward=req.inbound.text)
        held_id = self._keep(held)
        label = self.tr.t(req.lang, "button.start_new_case")
        buttons = ((Button(label, HeldPress(None, held_id).encode()),),)
        await self._answer(req, self.tr.t(req.lang, "unheard.second_forward"), buttons)

    async def message(self, req: Request) -> None:
        """Anything not a command nor a form's answer (the router asked the forms first)."""
        inbound = req.inbound
        if any(a.kind is AttachmentKind.DOCUMENT for a in inbound.attachments):
            await self._document(req)
        elif EvidenceInbox.has_evidence(inbound):
            if req.is_private and inbound.reply_to_message_id is None:
                await self._stray_photo(req)
            else:
                await self.steps.attach(req)
        elif req.is_private:
            await self._private_text(req)
        elif inbound.reply_to_message_id is not None:
            await self._card_reply(req)

    # ------------------------------------------------------------ answers

    async def _private_text(self, req: Request) -> None:
        """A typed ref places the photo kept for the person; anything else gets a hint."""
        ref = normalize_ref(req.inbound.text.strip().lstrip("#"))
        held = self._latest_photo(req.actor.uid)
        if ref is not None and held is not None:
            await self.speaker_checked()  # the photo is given away once: by a member
            held_id, item = held
            del self._held[held_id]
            assert item.inbound is not None
            await self.steps.attach_to(req, ref, item.inbound)
            return
        cases = await self._active(req)
        t = self.tr.t
        lines = [t(req.lang, "unheard.private")]
        if cases:
            refs = ", ".join(c.ref for c in cases)
            lines.append(t(req.lang, "unheard.your_cases", refs=refs, ref=cases[0].ref))
        buttons = tuple(
            (Button(c.ref, CallbackData(ButtonAction.CASE, c.ref).encode()),) for c in cases
        )
        await self._answer(req, "\n".join(lines), buttons)

    async def _stray_photo(self, req: Request) -> None:
        """A photo (or location) replying to nothing: a ref in its caption says where;
        else the sender's active cases are offered, and it waits."""
        named = normalize_ref(req.inbound.text.strip().lstrip("#"))
        if named is not None:
            await self.steps.attach_to(req, named, req.inbound)
            return
        cases = await self._active(req)
        if not cases:
            await self.replies.say(req, self.tr.t(req.lang, "evidence.how"))
            return
        held_id = self._keep(Held(req.actor.uid, self.clock.now(), inbound=req.inbound))
        text = self.tr.t(req.lang, "unheard.photo_which", ref=cases[0].ref)
        buttons = tuple(
            (
                Button(
                    self.tr.t(req.lang, "button.attach_to", ref=c.ref),
                    HeldPress(c.ref, held_id).encode(),
                ),
            )
            for c in cases
        )
        await self._answer(req, text, buttons)

    async def _document(self, req: Request) -> None:
        if req.is_private or await self.lookup.replied_case(req) is not None:
            await self.replies.say(req, self.tr.t(req.lang, "unheard.document"))

    async def _card_reply(self, req: Request) -> None:
        """Words replying to a case's card: claim it, or keep them as its note."""
        case = await self.lookup.replied_case(req)
        words = req.inbound.text.strip()
        if case is None or not words or not can_view(req.actor, case.team_code):
            return  # not about a case, or from outside the team: nothing kept, no answer
        held_id = self._keep(
            Held(req.actor.uid, self.clock.now(), note=words[:MAX_NOTE], ref=case.ref)
        )
        t = self.tr.t
        row = [Button(t(req.lang, "button.keep_note"), HeldPress(case.ref, held_id).encode())]
        member = req.actor.member
        if (
            case.status is CaseStatus.OPEN
            and member is not None
            and member.role in (Role.WORKER, Role.LEAD)
        ):
            claim = CallbackData(ButtonAction.CLAIM, case.ref).encode()
            row.insert(0, Button(t(req.lang, "button.claim"), claim))
            text = t(req.lang, "unheard.card_reply_open", ref=case.ref)
        else:
            text = t(req.lang, "unheard.card_reply", ref=case.ref)
        await self._answer(req, text, (tuple(row),))

    # ------------------------------------------------------------ presses

    async def press(self, req: Request, press: HeldPress) -> HandleResult:
        """«Đính kèm vào PL-2» or «Lưu làm ghi chú»: only for whoever sent it, once."""
        await self.speaker_checked()  # before the item is given away or the press answered
        item = self._held.get(press.held_id)
        if item is None or item.uid != req.actor.uid or self._stale(item):
            return HandleResult(toast=self.tr.t(req.lang, "unheard.gone"), alert=True)
        if (item.note is not None and item.ref != press.ref) or (
            (item.forward is None) == (press.ref is None)
        ):
            return HandleResult(toast=self.tr.t(req.lang, "unheard.gone"), alert=True)
        del self._held[press.held_id]
        if item.forward is not None:
            await self.forms.start_intake(req, item.forward or None, item.inbound)
        elif item.note is not None and press.ref is not None:
            await self.service.add_note(req.command(AddNote, press.ref, note=item.note), self.uow())
            await self.replies.say(req, self.tr.t(req.lang, "unheard.note_kept", ref=press.ref))
        elif item.inbound is not None and press.ref is not None:
            await self.steps.attach_to(req, press.ref, item.inbound)
        return HandleResult()

    # ------------------------------------------------------------ helpers

    async def _active(self, req: Request) -> list[Case]:
        if req.actor.member is None:
            return []
        query = CaseQuery(assignee=req.actor.member.uid, active_only=True, limit=OFFERED)
        async with self.uow() as uow:
            return await uow.cases.find(query)

    async def _answer(self, req: Request, text: str, buttons: Buttons) -> None:
        message = Outbound(text=text, reply_to=req.origin.message_id, buttons=buttons)
        await self.replies.send(in_chat(req.origin, message))

    def _keep(self, item: Held) -> int:
        for key in [k for k, v in self._held.items() if self._stale(v)]:
            del self._held[key]
        held_id = next(self._ids)
        self._held[held_id] = item
        return held_id

    def _stale(self, item: Held) -> bool:
        return self.clock.now() - item.at > HOLD_FOR

    def _latest_photo(self, uid: str) -> tuple[int, Held] | None:
        mine = [
            (k, v)
            for k, v in self._held.items()
            if v.uid == uid and v.inbound is not None and v.forward is None and not self._stale(v)
        ]
        return mine[-1] if mine else None
