"""One message or press as a form reads it.

Typed words work where buttons do not (Zalo): «xong», «bỏ qua», «hủy», «ok», a
button's own label, or an option's number. Photos are fetched and kept as pending
files under MEDIA_DIR/pending/<form> until the form is confirmed.
"""

from __future__ import annotations

import re
from typing import Any

from bot.channels.base import AttachmentKind, Inbound
from bot.domain.digits import whole_number
from bot.i18n import Lang, Translator
from bot.services.evidence import MediaError, TooBig
from handlers.callbacks import FormOp
from handlers.evidence import EvidenceInbox
from handlers.forms.machine import Input, Line
from handlers.forms.prompts import BUTTON_KEYS
from handlers.forms.spec import plain

#: Typed words meaning a button, in either language (besides the buttons' own labels).
WORDS: dict[FormOp, frozenset[str]] = {
    FormOp.DONE: frozenset({"xong", "done"}),
    FormOp.SKIP: frozenset({"bỏ qua", "bo qua", "skip"}),
    FormOp.CANCEL: frozenset({"hủy", "huỷ", "huy", "cancel"}),
    FormOp.CONFIRM: frozenset({"ok", "xác nhận", "xac nhan", "confirm"}),
}


#: A typed «sửa 2» / «edit 2»: answer the summary's second field again.
EDIT_RE = re.compile(r"^(?:sửa|sua|edit) (\d{1,2})$")


class Reader:
    def __init__(self, tr: Translator, evidence: EvidenceInbox) -> None:
        self.evidence = evidence
        self.words = {
            op: frozenset(extra | {plain(tr.t(lang, BUTTON_KEYS[op])) for lang in Lang})
            for op, extra in WORDS.items()
        }

    async def read(self, inbound: Inbound, form_id: str) -> Input:
        """Words, photos and a location of one message (photos stored as pending files)."""
        location: tuple[float, float] | None = None
        photos: list[dict[str, Any]] = []
        error: Line | None = None
        for attachment in inbound.attachments:
            if attachment.kind is AttachmentKind.LOCATION:
                if attachment.latitude is not None and attachment.longitude is not None:
                    location = (attachment.latitude, attachment.longitude)
            elif attachment.kind is AttachmentKind.PHOTO:
                try:
                    data = await self.evidence.fetch_photo(inbound.channel, attachment)
                    path, mime = await self.evidence.media.save_pending(form_id, data)
                except TooBig:
                    error = Line("evidence.too_big", {"mb": self.evidence.max_mb})
                    continue
                except MediaError:
                    error = Line("evidence.not_image")
                    continue
                photos.append({"path": path, "mime": mime, "size": len(data)})
            elif attachment.kind is AttachmentKind.DOCUMENT:
                error = Line("evidence.not_image")
        text = inbound.text.strip() or None
        op: FormOp | None = None
        option: int | None = None
        if text is not None:
            plain_text = plain(text)
            op = next((o for o, words in self.words.items() if plain_text in words), None)
            number = whole_number(plain_text, max_digits=2) if op is None else None
            if number is not None:
                op, option = FormOp.PICK, number
            edited = EDIT_RE.match(plain_text) if op is None else None
            if edited is not None:  # «sửa 2» where there are no buttons (Zalo)
                op, option = FormOp.EDIT, int(edited.group(1))
            if op is not None:
                text = None
        typed = inbound.text.strip() if op is not None else None
        return Input(text, op, option, tuple(photos), error, location, typed)
