"""Cases as the board shows them: what the group's card shows, and no more.

Names, addresses and notes pass through `redact_phones` as on the card; the customer's
number is masked unless the person has the case (`sees_full_phone`). Labels come from
the catalogues in the person's language, so the page prints what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain.amounts import format_vnd
from bot.domain.evidence import EvidenceKind
from bot.domain.model import Action, Case, CaseStatus
from bot.domain.people import Actor, Member
from bot.domain.phone import mask_phone, redact_phones
from bot.domain.steps import NoteRule, step_of
from bot.i18n import Lang, Translator
from bot.services.finding import CaseSheet, TeamBoard, WorkerLoad
from bot.services.permissions import sees_full_phone
from handlers.forms.spec import FieldSpec
from handlers.render import DESCRIPTION_SHOWN, NOTE_SHOWN, Renderer
from handlers.steps import BY_ACTION

#: The board's columns, in the order work moves; the statuses a kind skips stay empty.
COLUMNS: tuple[CaseStatus, ...] = (
    CaseStatus.OPEN,
    CaseStatus.CLAIMED,
    CaseStatus.SURVEYED,
    CaseStatus.INSPECTED,
    CaseStatus.ESTIMATED,
    CaseStatus.AGREED,
    CaseStatus.INSTALLED,
    CaseStatus.RESOLVED,
    CaseStatus.ON_HOLD,
)


class BoardViews:
    def __init__(self, tr: Translator, render: Renderer) -> None:
        self.tr = tr
        self.render = render

    def iso(self, at: datetime | None) -> str | None:
        return at.astimezone(self.tr.tz).isoformat(timespec="minutes") if at else None

    def card(
        self, lang: Lang, case: Case, names: dict[str, str], late: frozenset[str]
    ) -> dict[str, Any]:
        return {
            "ref": case.ref,
            "team": case.team_code,
            "kind": case.kind.value,
            "kind_label": self.tr.t(lang, f"kind.{case.kind.value}"),
            "status": case.status.value,
            "status_label": self.render.status(lang, case.status),
            "address": redact_phones(case.customer.address),
            "customer": redact_phones(case.customer.name),
            "assignee": case.assignee,
            "assignee_name": names.get(case.assignee, case.assignee) if case.assignee else None,
            "due_at": self.iso(case.due_at),
            "due": self.tr.when(case.due_at) if case.is_active else None,
            "late": case.ref in late,
        }

    def columns(
        self, lang: Lang, cases: Sequence[Case], names: dict[str, str], late: frozenset[str]
    ) -> list[dict[str, Any]]:
        return [
            {
                "status": status.value,
                "label": self.render.status(lang, status),
                "cases": [self.card(lang, c, names, late) for c in cases if c.status is status],
            }
            for status in COLUMNS
        ]

    @staticmethod
    def worker(load: WorkerLoad) -> dict[str, Any]:
        return {
            "uid": load.member.uid,
            "name": load.member.name,
            "role": load.member.role.value,
            "count": load.count,
            "late": len(load.late),
        }

    def workers(self, boards: Sequence[TeamBoard]) -> list[dict[str, Any]]:
        return [self.worker(w) for board in boards for w in board.workers]

    def sheet(
        self,
        lang: Lang,
        actor: Actor,
        sheet: CaseSheet,
        late: bool,
        actions: Sequence[Action],
        pickable: Sequence[WorkerLoad],
    ) -> dict[str, Any]:
        """One case opened: its card, history, photos, places, estimate and what may be done."""
        case = sheet.case
        names = dict(sheet.names)
        if sheet.assignee is not None:
            names[sheet.assignee.uid] = sheet.assignee.name
        whole = sees_full_phone(actor, case)
        t = self.tr.t
        shown = self.card(lang, case, names, frozenset({case.ref}) if late else frozenset())
        shown.update(
            external_ref=case.external_ref,
            phone=case.customer.phone if whole else mask_phone(case.customer.phone),
            description=redact_phones(case.description, limit=DESCRIPTION_SHOWN)
            if not whole
            else case.description,
            estimate=_estimate(case),
            meter={"serial": case.meter.serial, "reading": case.meter.reading}
            if case.meter
            else None,
            history=[
                {
                    "at": self.iso(h.at),
                    "when": self.tr.when(h.at),
                    "action": h.action.value,
                    "label": self.render.status(lang, h.status),
                    "who": names.get(h.actor, h.actor),
                    "note": redact_phones(h.note, limit=NOTE_SHOWN) if h.note else None,
                }
                for h in sheet.history
            ],
            photos=[
                {
                    "id": e.id,
                    "when": self.tr.when(e.at),
                    "who": names.get(e.actor, e.actor),
                    "url": f"/app/api/cases/{case.ref}/photos/{e.id}",
                }
                for e in sheet.evidence
                if e.kind is EvidenceKind.PHOTO and e.path is not None
            ],
            places=[
                {
                    "lat": e.latitude,
                    "lon": e.longitude,
                    "when": self.tr.when(e.at),
                    "who": names.get(e.actor, e.actor),
                }
                for e in sheet.evidence
                if e.kind is EvidenceKind.LOCATION and e.latitude is not None
            ],
            actions=[self.action(lang, case, a) for a in actions],
            workers=[self.worker(w) for w in pickable] if Action.ASSIGN in actions else [],
            labels={"phone": t(lang, "app.phone"), "estimate": t(lang, "app.estimate")},
        )
        return shown

    def action(self, lang: Lang, case: Case, action: Action) -> dict[str, Any]:
        """An action the page offers: a step comes with its form's questions."""
        row = BY_ACTION.get(action)
        fields = [self.field(lang, action, f) for f in row.form or ()] if row else []
        shown: dict[str, Any] = {
            "action": action.value,
            "label": self.tr.t(lang, f"app.action.{action.value}"),
            "step": row is not None,
            "fields": fields,
        }
        if row is not None:
            shown["note_required"] = step_of(action).note is NoteRule.REQUIRED
        return shown

    def field(self, lang: Lang, action: Action, spec: FieldSpec) -> dict[str, Any]:
        return {
            "name": spec.name.value,
            "kind": spec.kind.value,
            "optional": spec.optional,
            "label": self.tr.t(lang, f"app.field.{spec.name.value}"),
        }

    @staticmethod
    def me(actor: Actor, member: Member | None, lang: Lang) -> dict[str, Any]:
        return {
            "uid": actor.uid,
            "name": actor.name,
            "role": member.role.value if member else None,
            "team": member.team_code if member else None,
            "admin": actor.is_admin,
            "lang": lang.value,
        }


def _estimate(case: Case) -> dict[str, Any] | None:
    if case.estimate is None:
        return None
    return {
        "customer": case.estimate.customer_cost,
        "utility": case.estimate.utility_cost,
        "customer_text": format_vnd(case.estimate.customer_cost),
        "utility_text": format_vnd(case.estimate.utility_cost),
    }
