"""Channel-neutral views of a case, rebuilt from its state every time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote_plus

from bot.channels.base import Button, ButtonKind, Outbound
from bot.domain.amounts import format_vnd
from bot.domain.evidence import Evidence, EvidenceKind
from bot.domain.model import Action, Case, CaseStatus, HistoryEntry, Workflow
from bot.domain.phone import mask_phone, redact_phones
from bot.domain.steps import ACTION_OF_STEP
from bot.i18n import Lang, Translator
from handlers.callbacks import ButtonAction, CallbackData, CommandPress, ListKind, PagePress
from handlers.steps import chat_step, has_form

#: A maps search for an address: opens the phone's map app, or the web map.
MAPS_SEARCH = "https://www.google.com/maps/search/?api=1&query="
#: Cases per page of /mine and /open: ten buttons still fit a phone's screen.
PAGE_SIZE = 10
#: Characters of a description a card shows, and of a note in `/case`'s history.
DESCRIPTION_SHOWN = 300
NOTE_SHOWN = 200


def page_count(total: int) -> int:
    """Pages of a list of `total` cases (one, even when empty)."""
    return max(1, -(-total // PAGE_SIZE))


def page_window(page: int, total: int) -> tuple[int, int]:
    """The page actually shown (a stale button may ask past the end) and its first row."""
    page = min(max(page, 1), page_count(total))
    return page, (page - 1) * PAGE_SIZE


class Renderer:
    def __init__(self, tr: Translator, workflow: Workflow) -> None:
        self.tr = tr
        self.workflow = workflow

    def kind_line(self, lang: Lang, case: Case) -> str:
        kind = self.tr.t(lang, f"kind.{case.kind.value}")
        extras = [self.tr.t(lang, f"area.{case.area.value}")] if case.area else []
        if case.purpose:
            extras.append(self.tr.t(lang, f"purpose.{case.purpose.value}"))
        # The options are capitalised as the form's buttons; inside the line they are not.
        extras = [x[:1].lower() + x[1:] for x in extras]
        return f"{kind} ({', '.join(extras)})" if extras else kind

    def status(self, lang: Lang, status: CaseStatus) -> str:
        return self.tr.t(lang, f"status.{status.value}")

    def next_usage(self, lang: Lang, case: Case) -> str | None:
        """The command to type for the case's next step, or None when nothing is next."""
        if case.status is CaseStatus.ON_HOLD:
            return self.tr.t(lang, "usage.resume", ref=case.ref)
        step = self.workflow.next_step(case.kind, case.status)
        action = ACTION_OF_STEP.get(step) if step else None
        return self.usage(lang, action, case.ref) if action else None

    def usage(self, lang: Lang, action: Action, ref: str) -> str:
        return self.tr.t(lang, chat_step(action).usage, ref=ref)

    def card(self, lang: Lang, case: Case, assignee_name: str | None) -> Outbound:
        """The one group message per case, edited in place.

        Groups see it, so the phone is masked and so is any number typed into the
        customer's name, the address or the description (`redact_phones`).
        """
        t = self.tr.t
        lines = [
            t(lang, "card.title", ref=case.ref, kind=self.kind_line(lang, case)),
            t(lang, "card.address", address=redact_phones(case.customer.address)),
            t(
                lang,
                "card.customer",
                name=redact_phones(case.customer.name),
                phone=mask_phone(case.customer.phone),
            ),
        ]
        if case.description:  # a forwarded customer message may carry a number
            text = redact_phones(case.description, limit=DESCRIPTION_SHOWN)
            lines.append(t(lang, "card.description", text=text))
        if case.is_active:
            lines.append(t(lang, "card.due", due=self.tr.when(case.due_at)))
        lines.append(t(lang, "card.status", status=self.status(lang, case.status)))
        # What a channel that cannot edit posts when the card changes: title, status, who.
        summary = [lines[0], lines[-1]]
        if assignee_name:
            lines.append(t(lang, "card.assignee", name=assignee_name))
            summary.append(lines[-1])
        if case.estimate:
            lines.append(
                t(
                    lang,
                    "card.estimate",
                    customer=format_vnd(case.estimate.customer_cost),
                    utility=format_vnd(case.estimate.utility_cost),
                )
            )
        if case.meter:
            if case.meter.reading:
                lines.append(
                    t(
                        lang,
                        "card.meter_reading",
                        serial=case.meter.serial,
                        reading=case.meter.reading,
                    )
                )
            else:
                lines.append(t(lang, "card.meter", serial=case.meter.serial))
        claimable = case.status is CaseStatus.OPEN
        buttons: tuple[tuple[Button, ...], ...] = ()
        if claimable:
            data = CallbackData(ButtonAction.CLAIM, case.ref).encode()
            buttons = ((Button(t(lang, "button.claim"), data),),)
        return Outbound(
            text="\n".join(lines),
            buttons=buttons,
            claim_ref=case.ref if claimable else None,
            lang=lang,
            summary=tuple(summary),
        )

    def contact(self, lang: Lang, case: Case, assigned_by: str | None = None) -> Outbound:
        """Sent privately to whoever has the case: the only place the full phone appears.
        Given by someone else, it says who gave it."""
        t = self.tr.t
        kind = self.kind_line(lang, case)
        title = (
            t(lang, "contact.title_assigned", ref=case.ref, kind=kind, actor=assigned_by)
            if assigned_by
            else t(lang, "contact.title", ref=case.ref, kind=kind)
        )
        lines = [
            title,
            t(lang, "contact.customer", name=case.customer.name),
            t(lang, "contact.phone", phone=case.customer.phone),
            t(lang, "contact.address", address=case.customer.address),
        ]
        if case.description:
            lines.append(t(lang, "contact.description", text=case.description))
        lines.append(t(lang, "contact.due", due=self.tr.when(case.due_at)))
        usage = self.next_usage(lang, case)
        if usage:
            lines.append(t(lang, "contact.next", usage=usage))
        return Outbound(text="\n".join(lines), buttons=self.private_buttons(lang, case))

    def next_action(self, case: Case) -> Action | None:
        """The step a guided form can report next, if any."""
        if not case.is_active or case.status is CaseStatus.ON_HOLD:
            return None
        step = self.workflow.next_step(case.kind, case.status)
        action = ACTION_OF_STEP.get(step) if step else None
        return action if action is not None and has_form(action) else None

    def recorded(self, lang: Lang, case: Case, action: Action, note: str | None) -> list[str]:
        """What a step wrote on the case, in the words of the form's summary: the person
        sees what was understood (groups see it too, so numbers in a note are masked)."""
        t = self.tr.t
        lines: list[str] = []
        if action is Action.ESTIMATE and case.estimate is not None:
            lines.append(
                t(lang, "form.sum.customer_cost", value=format_vnd(case.estimate.customer_cost))
            )
            lines.append(
                t(lang, "form.sum.utility_cost", value=format_vnd(case.estimate.utility_cost))
            )
        if action is Action.INSTALL and case.meter is not None:
            lines.append(t(lang, "form.sum.serial", value=case.meter.serial))
            if case.meter.reading:
                lines.append(t(lang, "form.sum.reading", value=case.meter.reading))
        if note:
            lines.append(t(lang, "form.sum.note", value=redact_phones(note)[:NOTE_SHOWN]))
        return lines

    def private_buttons(self, lang: Lang, case: Case) -> tuple[tuple[Button, ...], ...]:
        """Under the case in its worker's private chat: the next step, hold or resume and
        release (pressed, not typed), and the address on a map (the phone number is
        in the text, where a phone makes it a call link)."""
        t = self.tr.t
        rows = list(self.step_buttons(lang, case))
        if case.is_active:
            pause = "resume" if case.status is CaseStatus.ON_HOLD else "hold"
            row = [Button(t(lang, f"button.{pause}"), CommandPress(pause, case.ref).encode())]
            if case.status is CaseStatus.CLAIMED:
                row.append(
                    Button(t(lang, "button.release"), CommandPress("release", case.ref).encode())
                )
            rows.append(tuple(row))
        if case.customer.address.strip():
            url = MAPS_SEARCH + quote_plus(case.customer.address.strip())
            rows.append((Button(t(lang, "button.map"), url, ButtonKind.URL),))
        return tuple(rows)

    def step_buttons(self, lang: Lang, case: Case) -> tuple[tuple[Button, ...], ...]:
        """One button for the case's next step (it starts that step's form)."""
        action = self.next_action(case)
        if action is None:
            return ()
        row = chat_step(action)
        data = CallbackData(row.button, case.ref).encode()
        return ((Button(self.tr.t(lang, row.label), data),),)

    def history_lines(
        self, lang: Lang, history: Sequence[HistoryEntry], names: Mapping[str, str]
    ) -> list[str]:
        """What /case shows of the history: when, which step, who, and the note masked."""
        t = self.tr.t
        lines = [t(lang, "history.title")]
        for h in history[-15:]:
            values = {
                "at": self.tr.when(h.at),
                "action": self.status(lang, h.status),
                "actor": names.get(h.actor, h.actor),
            }
            if h.note:
                note = redact_phones(h.note, limit=NOTE_SHOWN)
                lines.append(t(lang, "history.item_note", note=note, **values))
            else:
                lines.append(t(lang, "history.item", **values))
        return lines

    def evidence_lines(
        self, lang: Lang, items: Sequence[Evidence], names: Mapping[str, str]
    ) -> list[str]:
        """What /case shows of the photos and locations: kind, when, who."""
        if not items:
            return []
        t = self.tr.t
        lines = [t(lang, "evidence.title", count=len(items))]
        # Photos are numbered within the case (1, 2, 3…), not by the store's ids.
        numbered: list[tuple[Evidence, int]] = []
        count = 0
        for item in items:
            count += item.kind is EvidenceKind.PHOTO
            numbered.append((item, count))
        for item, number in numbered[-20:]:
            who = names.get(item.actor, item.actor)
            at = self.tr.when(item.at)
            if item.kind is EvidenceKind.LOCATION and item.latitude is not None:
                lat, lon = f"{item.latitude:.5f}", f"{item.longitude or 0:.5f}"
                lines.append(t(lang, "evidence.location_item", at=at, who=who, lat=lat, lon=lon))
            elif item.kind is EvidenceKind.LOCATION:
                lines.append(t(lang, "evidence.location_gone", at=at, who=who))
            else:
                lines.append(t(lang, "evidence.photo_item", at=at, who=who, number=number))
        return lines

    def list_page(
        self,
        lang: Lang,
        kind: ListKind,
        shown: Sequence[Case],
        page: int,
        total: int,
        title: str,
        *,
        head: str | None = None,
        item: Callable[[Case], str] | None = None,
        turn: Callable[[int], str | None] | None = None,
    ) -> Outbound:
        """A page of a list: one short line and one button per case, arrows between pages.

        `shown` is the page's cases (see `page_window`), `total` the whole list's count.
        `head` replaces the titled count, `item` the line of a case, and `turn` gives the
        data of the arrow to another page (None from it: no arrow).
        """
        pages = page_count(total)
        t = self.tr.t
        head = head if head is not None else t(lang, title, count=total)
        if pages > 1:
            head = t(lang, "list.page", title=head, page=page, pages=pages)
        line = item or (lambda x: self.list_item(lang, x))
        page_data: Callable[[int], str | None] = turn or (lambda n: PagePress(kind, n).encode())
        lines = [head, *(line(x) for x in shown)]
        rows: list[tuple[Button, ...]] = [
            (
                Button(
                    t(lang, "list.button", ref=x.ref, status=self.status(lang, x.status)),
                    CallbackData(ButtonAction.CASE, x.ref).encode(),
                ),
            )
            for x in shown
        ]
        nav: list[Button] = []
        for label, target in (("list.prev", page - 1), ("list.next", page + 1)):
            data = page_data(target) if 1 <= target <= pages else None
            if data is not None:
                nav.append(Button(t(lang, label), data))
        if nav:
            rows.append(tuple(nav))
        return Outbound(text="\n".join(lines), buttons=tuple(rows))

    def list_item(self, lang: Lang, case: Case) -> str:
        return self.tr.t(
            lang,
            "list.item",
            ref=case.ref,
            kind=self.tr.t(lang, f"kind.{case.kind.value}"),
            status=self.status(lang, case.status),
            due=self.tr.when(case.due_at),
        )
