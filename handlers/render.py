"""Channel-neutral views of a case, rebuilt from its state every time."""

from __future__ import annotations

from bot.channels.base import Button, Outbound
from bot.domain.amounts import format_vnd
from bot.domain.model import ACTION_OF_STEP, Action, Case, CaseStatus, Workflow
from bot.domain.phone import mask_phone
from bot.i18n import Lang, Translator
from handlers.callbacks import ButtonAction, CallbackData

# The command that performs each step, for "next step" hints.
USAGE_OF_ACTION: dict[Action, str] = {
    Action.CLAIM: "usage.claim",
    Action.SURVEY: "usage.survey",
    Action.ESTIMATE: "usage.estimate",
    Action.AGREE: "usage.agree",
    Action.INSTALL: "usage.install",
    Action.INSPECT: "usage.inspect",
    Action.RESOLVE: "usage.resolve",
    Action.CLOSE: "usage.close",
}


class Renderer:
    def __init__(self, tr: Translator, workflow: Workflow) -> None:
        self.tr = tr
        self.workflow = workflow

    def kind_line(self, lang: Lang, case: Case) -> str:
        kind = self.tr.t(lang, f"kind.{case.kind.value}")
        extras = [self.tr.t(lang, f"area.{case.area.value}")] if case.area else []
        if case.purpose:
            extras.append(self.tr.t(lang, f"purpose.{case.purpose.value}"))
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
        return self.tr.t(lang, USAGE_OF_ACTION[action], ref=ref)

    def card(self, lang: Lang, case: Case, assignee_name: str | None) -> Outbound:
        """The one group message per case, edited in place. The phone is always masked."""
        t = self.tr.t
        lines = [
            t(lang, "card.title", ref=case.ref, kind=self.kind_line(lang, case)),
            t(lang, "card.address", address=case.customer.address),
            t(
                lang,
                "card.customer",
                name=case.customer.name,
                phone=mask_phone(case.customer.phone),
            ),
        ]
        if case.description:
            lines.append(t(lang, "card.description", text=case.description[:300]))
        if case.is_active:
            lines.append(t(lang, "card.due", due=self.tr.when(case.due_at)))
        lines.append(t(lang, "card.status", status=self.status(lang, case.status)))
        if assignee_name:
            lines.append(t(lang, "card.assignee", name=assignee_name))
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
            text="\n".join(lines), buttons=buttons, claim_ref=case.ref if claimable else None
        )

    def contact(self, lang: Lang, case: Case) -> Outbound:
        """Sent privately to whoever has the case: the only place the full phone appears."""
        t = self.tr.t
        lines = [
            t(lang, "contact.title", ref=case.ref, kind=self.kind_line(lang, case)),
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
        return Outbound(text="\n".join(lines))

    def list_item(self, lang: Lang, case: Case) -> str:
        return self.tr.t(
            lang,
            "list.item",
            ref=case.ref,
            kind=self.tr.t(lang, f"kind.{case.kind.value}"),
            status=self.status(lang, case.status),
            due=self.tr.when(case.due_at),
        )
